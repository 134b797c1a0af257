"""The README matches the code: every named configuration is described, the quick start's
commands exist, and CI runs the README's test command."""

from __future__ import annotations

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
