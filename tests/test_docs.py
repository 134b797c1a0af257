"""The README matches the code: every named configuration is described, the quick start's
commands exist, and CI runs the README's test command. The QEMU facts the code cites are in
docs/: nothing cites a document outside the repository, and every citation resolves."""

from __future__ import annotations

import os
import pathlib
import re

from model import config as C
from model.mutants import MUTANTS

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_every_named_configuration_is_in_the_readme_table() -> None:
    rows = set(re.findall(r"^\| `([\w.-]+)` \|", README, flags=re.M))
    assert rows == set(C.NAMED)


def test_quick_start_targets_exist_and_ci_runs_the_test_command() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in ("report", "test"):
        assert f"make {target}" in README
        assert re.search(rf"^{target}:", makefile, flags=re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_counts_match_the_mutant_catalogue() -> None:
    counted = [m for m in MUTANTS.values() if not m.equivalent]
    assert f"all {len(counted)} are killed" in README
    assert f"{len(MUTANTS)} known-bad variants" in README


# ---------------------------------------------------------------------------------------------
# Citations: the QEMU facts are in docs/, and every citation of them resolves there.

DOCS = ROOT / "docs"
_SKIP_DIRS = {".git", ".venv", "reports", "build", "dist", "out", "__pycache__", ".mypy_cache", ".ruff_cache",
              ".pytest_cache", ".hypothesis", "node_modules"}
_CITATION = re.compile(
    r"\b(protocol|real-qemu|tests-and-bugs)\.md[,;:]?\s+"
    r"(?:section\s+(\d+(?:\.\d+)?)|finding\s+(\d+)|(\d+\.\d+)|([SDRBLGP]\d+)\b)"
)


def _repository_texts() -> dict[str, str]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS and not d.endswith(".egg-info")]
        for name in filenames:
            path = pathlib.Path(dirpath, name)
            if path.suffix in (".jsonl", ".png", ".svg", ".pyc") or path.stat().st_size > 2_000_000:
                continue
            out[str(path.relative_to(ROOT))] = path.read_text(encoding="utf-8", errors="replace")
    return out


def test_no_file_cites_a_document_outside_the_repository() -> None:
    texts = _repository_texts()
    assert "model/source.py" in texts and "docs/protocol.md" in texts
    outside = {path for path, text in texts.items()
               if "../shared" in text.replace("no `../shared`", "") or "shared/reference/" in text}
    outside.discard("tests/test_docs.py")
    assert not outside, f"cite docs/X.md instead: {sorted(outside)}"


def test_every_docs_citation_resolves() -> None:
    """'protocol.md S12', 'protocol.md section 6', 'protocol.md 7.3', 'real-qemu.md finding 7' and
    the like, wherever they are written, name a section, finding or item id that docs/ holds."""
    docs = {name: (DOCS / f"{name}.md").read_text(encoding="utf-8") for name in
            ("protocol", "real-qemu", "tests-and-bugs")}
    seen = 0
    for path, text in _repository_texts().items():
        if path.startswith("docs/"):
            continue
        for m in _CITATION.finditer(text):
            doc, section, finding, numbered, item = m.groups()
            body = docs[doc]
            seen += 1
            if section or numbered:
                number = re.escape(section or numbered)
                assert re.search(rf"^#+ {number}[. ]", body, flags=re.M), (path, m.group(0))
            elif finding:
                findings = body.split("## Findings that matter for the model", 1)[1].split("\n## ", 1)[0]
                assert re.search(rf"^{finding}\. \*\*", findings, flags=re.M), (path, m.group(0))
            else:
                assert re.search(rf"\b{item}\b", body), (path, m.group(0))
    assert seen > 30, "the citation pattern no longer finds the code's citations"
