"""Open ``reports/index.html`` in headless Chromium and check it renders to a real screenshot.

Skipped when no Chromium is installed (``apt-get install -y chromium``). Set
``MIGMODEL_SCREENSHOT=path.png`` to keep the screenshot for a human to look at.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INDEX = ROOT / "reports" / "index.html"


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_index_html_screenshot(tmp_path: Path) -> None:
    browser = _browser()
    if browser is None:
        if os.environ.get("MIGMODEL_REQUIRE_CHROMIUM"):
            pytest.fail("MIGMODEL_REQUIRE_CHROMIUM is set (CI) but no Chromium is installed")
        pytest.skip("no Chromium found (apt-get install -y chromium): cannot screenshot reports/index.html")
    assert INDEX.exists(), "run `migmodel report --out reports` first"
    shot = Path(os.environ.get("MIGMODEL_SCREENSHOT") or tmp_path / "index.png")
    profile = tmp_path / "profile"
    profile.mkdir()
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         "--window-size=1400,1800", f"--screenshot={shot}", INDEX.as_uri()],
        check=False, capture_output=True, timeout=180,
    )
    assert shot.exists(), "Chromium wrote no screenshot"
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1400, 1800)
    # A blank page compresses to a few KB; a rendered report with tables and colour is far larger.
    assert len(data) > 50_000, f"screenshot suspiciously small ({len(data)} bytes): page blank?"
