"""The committed report in headless Chromium: it renders, and no page overflows a 1,280-pixel window.

Skipped when no Chromium is installed (``apt-get install -y --no-install-recommends chromium``),
except in CI, which sets ``MIGMODEL_REQUIRE_CHROMIUM`` (``.ci/run`` installs Debian's chromium).
Set ``MIGMODEL_SCREENSHOT=path.png`` to keep the index's screenshot for a human to look at.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"
INDEX = REPORTS / "index.html"
WIDTH = 1280

#: Flags for a quiet, throw-away headless run (a fresh --user-data-dir is added per run).
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]

#: Loaded in the probe page after everything else: per iframe, "page scrollWidth clientWidth".
_MEASURE = """<script>window.addEventListener("load", function () {
  var out = [];
  document.querySelectorAll("iframe").forEach(function (f) {
    var d = f.contentDocument.documentElement;
    out.push(f.getAttribute("src") + " " + d.scrollWidth + " " + d.clientWidth);
  });
  var pre = document.createElement("pre");
  pre.id = "widths";
  pre.textContent = out.join("\\n");
  document.body.appendChild(pre);
});</script>"""


def _browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("MIGMODEL_REQUIRE_CHROMIUM"):
        pytest.fail("MIGMODEL_REQUIRE_CHROMIUM is set (CI) but no Chromium is installed")
    pytest.skip("no Chromium found (apt-get install -y chromium): cannot render reports/")


def _run(browser: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    profile.mkdir()
    return subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args],
                          check=False, capture_output=True, text=True, timeout=300)


def _widths(browser: str, tmp: Path, folder: Path, pages: list[str]) -> dict[str, tuple[int, int]]:
    """Each page laid out in a WIDTH-pixel frame: (document scroll width, visible width)."""
    frames = "".join(f'<iframe src="{p}" style="width:{WIDTH}px;height:700px;border:0;display:block"></iframe>'
                     for p in pages)
    probe = folder / "_probe_widths.html"
    probe.write_text(f'<!DOCTYPE html><html><body style="margin:0">{frames}{_MEASURE}</body></html>')
    try:
        done = _run(browser, tmp, "--allow-file-access-from-files", f"--window-size={WIDTH + 40},900",
                    "--dump-dom", probe.as_uri())
    finally:
        probe.unlink()
    found = re.search(r'<pre id="widths">(.*?)</pre>', done.stdout, flags=re.S)
    assert found, f"Chromium measured nothing: {done.stderr[-500:]}"
    out = {}
    for line in html.unescape(found.group(1)).splitlines():
        page, scroll, client = line.rsplit(" ", 2)
        out[page] = (int(scroll), int(client))
    assert set(out) == set(pages)
    return out


def test_index_html_screenshot(tmp_path: Path) -> None:
    browser = _browser()
    assert INDEX.exists(), "run `migmodel report --out reports` first"
    shot = Path(os.environ.get("MIGMODEL_SCREENSHOT") or tmp_path / "index.png")
    _run(browser, tmp_path, f"--window-size={WIDTH},1800", f"--screenshot={shot}", INDEX.as_uri())
    assert shot.exists(), "Chromium wrote no screenshot"
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (WIDTH, 1800)
    # A blank page compresses to a few KB; a rendered report with tables and colour is far larger.
    assert len(data) > 50_000, f"screenshot suspiciously small ({len(data)} bytes): page blank?"


def test_no_page_overflows_1280_pixels(tmp_path: Path) -> None:
    """Every HTML page of the report (index, configurations, counterexamples) fits the width."""
    browser = _browser()
    pages = sorted(str(p.relative_to(REPORTS)) for p in REPORTS.rglob("*.html"))
    assert "index.html" in pages and len(pages) > 10
    widths = _widths(browser, tmp_path, REPORTS, pages)
    wide = {p: w for p, w in widths.items() if w[0] > w[1]}
    assert not wide, f"pages wider than {WIDTH} px (scroll width, visible width): {wide}"


def test_the_width_probe_sees_an_overflow(tmp_path: Path) -> None:
    """The measurement can fail: a page with a table wider than the window is caught."""
    browser = _browser()
    (tmp_path / "wide.html").write_text('<!DOCTYPE html><table><tr><td style="white-space:nowrap">'
                                        + "wide " * 600 + "</td></tr></table>")
    (tmp_path / "narrow.html").write_text("<!DOCTYPE html><p>" + "narrow " * 600 + "</p>")
    widths = _widths(browser, tmp_path, tmp_path, ["wide.html", "narrow.html"])
    assert widths["wide.html"][0] > widths["wide.html"][1]
    assert widths["narrow.html"][0] <= widths["narrow.html"][1]
