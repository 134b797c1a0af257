"""The committed ``reports/`` folder is what ``migmodel report --out reports`` produces now.

If this fails, the model, the properties or the report code changed: regenerate with
``migmodel report --out reports`` and commit the result (never edit the files by hand).
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from checker.graphs import graphviz_version

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _recorded_graphviz() -> str | None:
    text = (REPORTS / "index.md").read_text(encoding="utf-8")
    m = re.search(r"Diagrams laid out by (.+?); sequence charts", text)
    return m.group(1) if m else None


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (REPORTS / "report.json").exists():
        pytest.fail("reports/ holds no report: run `migmodel report --out reports`")
    if graphviz_version() != _recorded_graphviz():
        pytest.skip(f"reports/ was laid out by {_recorded_graphviz()!r}, this machine has "
                    f"{graphviz_version()!r}: SVG bytes would differ")
    out = tmp_path_factory.mktemp("report") / "reports"
    subprocess.run([sys.executable, "-m", "checker.cli", "report", "--quiet", "--out", str(out)],
                   cwd=ROOT, check=True, env={**os.environ, "PYTHONHASHSEED": "123"})
    return out


def test_same_files(fresh: Path) -> None:
    assert _files(fresh) == _files(REPORTS), "regenerate: migmodel report --out reports"


def test_same_bytes(fresh: Path) -> None:
    names = _files(REPORTS)
    _, mismatch, errors = filecmp.cmpfiles(REPORTS, fresh, names, shallow=False)
    assert not mismatch and not errors, f"stale report files (regenerate): {mismatch[:10]} {errors[:10]}"


def test_report_json_is_verify_structure() -> None:
    data = json.loads((REPORTS / "report.json").read_text(encoding="utf-8"))
    assert set(data) == {"configs"}
    for result in data["configs"].values():
        assert "seconds" not in result
        assert {"states", "edges", "depth", "fingerprint", "properties"} <= set(result)


def test_index_answers_the_pong_question() -> None:
    index = (REPORTS / "index.md").read_text(encoding="utf-8")
    data = json.loads((REPORTS / "report.json").read_text(encoding="utf-8"))
    assert "before the PONG" in index
    section = index.split("## ")[1]
    for name, result in data["configs"].items():
        holds = result["properties"]["source-resumable-before-pong"]["holds"]
        row = next(line for line in section.splitlines() if line.startswith(f"| [{name}]("))
        assert ("**yes**" if holds else "**no**") in row, name


def _html_pages() -> dict[str, str]:
    return {str(p.relative_to(REPORTS)): p.read_text(encoding="utf-8") for p in sorted(REPORTS.rglob("*.html"))}


def test_html_is_self_contained() -> None:
    pages = _html_pages()
    assert "index.html" in pages
    for name, page in pages.items():
        assert not re.search(r"""(src|href)=["']https?:""", page), f"{name} must not load anything"
        assert "<link" not in page and "<script" not in page, name


def test_index_is_light_and_links_a_page_per_configuration() -> None:
    index = (REPORTS / "index.html").read_bytes()
    assert len(index) <= 1_000_000, f"index.html is {len(index):,} bytes"
    assert b"<svg" not in index, "pictures belong on the configuration and counterexample pages"
    data = json.loads((REPORTS / "report.json").read_text(encoding="utf-8"))
    pages = _html_pages()
    for name in data["configs"]:
        assert f'href="configs/{name}.html"'.encode() in index, name
        assert f"configs/{name}.html" in pages, name


def test_every_link_between_pages_resolves() -> None:
    for name, page in _html_pages().items():
        for target in re.findall(r'href="([^"#]+)', page):
            assert (REPORTS / name).parent.joinpath(target).resolve().exists(), (name, target)


def test_no_stray_markdown_in_html() -> None:
    """Markdown code spans and emphasis are turned into HTML, never shown as backticks or stars."""
    for name, page in _html_pages().items():
        text = re.sub(r"<style>.*?</style>|<[^>]+>", "", page, flags=re.S)
        assert "`" not in text, (name, text[max(0, text.find("`") - 60):text.find("`") + 60])
        assert "**" not in text, name


def test_counterexample_pages_explain_the_end_and_mark_changes() -> None:
    pages = _html_pages()
    data = json.loads((REPORTS / "report.json").read_text(encoding="utf-8"))
    for config, result in data["configs"].items():
        for prop, verdict in result["properties"].items():
            if verdict["holds"] or not verdict["counterexample"]:
                continue
            page = pages[f"counterexamples/{config}/{prop.lower()}.html"]
            assert "How it ends" in page and "<b>enabled</b>" in page, (config, prop)
            assert "migration thread</b>" in page or "src process</b>" in page, (config, prop)
            assert 'class=chg' in page and "<svg" in page, (config, prop)
    stuck = pages["counterexamples/qemu-10.2/no-stuck-state.html"]
    assert "waiting for PONG 0x42" in stuck
    # with two faults per run a second fault may still be enabled there
    assert "nothing changes the state" in stuck or "<b>enabled</b>: fault: " in stuck


def test_refuses_to_replace_a_foreign_folder(tmp_path: Path) -> None:
    from checker.cli import main

    (tmp_path / "precious.txt").write_text("keep me")
    assert main(["report", "--quiet", "--config", "qemu-7.2", "--out", str(tmp_path)]) == 2
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_interrupted_build_leaves_previous_report(tmp_path: Path) -> None:
    from checker.report import write_report_dir

    out = tmp_path / "r"
    out.mkdir()
    (out / "report.json").write_text("{}")

    def boom(folder: str) -> dict[str, int]:
        Path(folder, "index.md").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_report_dir(str(out), boom)
    assert _files(out) == ["report.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["r"]
