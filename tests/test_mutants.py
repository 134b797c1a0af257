"""Trust in the verdicts: every known-bad variant of the model is caught by some property."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from checker.analysis import check
from checker.cli import main
from checker.explore import explore
from checker.mutants_cli import MutantResult, kills, run_mutants
from checker.spec import Kind
from model import config as C
from model.mutants import MUTANTS
from model.system import MigrationModel, all_rows
from properties.qemu import PROPERTIES
from properties.suite import qemu_suite

ISSUE_3 = ("pre-10.2-switchover", "v1-cas-in-rp-thread", "no-ping-0x42")


@pytest.fixture(scope="module")
def results() -> dict[str, MutantResult]:
    return {r.name: r for r in run_mutants(qemu_suite())}


def test_catalogue_is_documented() -> None:
    assert len(MUTANTS) >= 15
    for m in MUTANTS.values():
        assert len(m.doc) > 80, m.name
        assert m.configs and all(c in C.NAMED for c in m.configs), m.name
        rows = m.rows(all_rows())
        assert rows != all_rows(), f"{m.name} changes nothing"
        assert len({(r.side, r.name) for r in rows}) == len(rows), f"{m.name}: duplicate row names"
        if m.equivalent:
            assert "EQUIVALENT" in m.doc, f"{m.name}: say why it is equivalent"


def test_every_mutant_is_killed(results: dict[str, MutantResult]) -> None:
    survivors = [n for n, r in results.items() if not r.equivalent and not r.killed]
    assert survivors == []
    counted = [r for r in results.values() if not r.equivalent]
    assert len(counted) >= 15


@pytest.mark.parametrize("name", ISSUE_3)
def test_issue_3_mutants_have_a_concrete_counterexample(name: str, results: dict[str, MutantResult]) -> None:
    r = results[name]
    assert r.killed and r.cex_len is not None and r.cex_len > 0
    mutant = MUTANTS[name]
    found = False
    for cname in mutant.configs:
        config = C.NAMED[cname]
        base = check(MigrationModel(config), PROPERTIES)
        model = MigrationModel(config, rows=mutant.rows(all_rows()))
        worse = [v for v in kills(base, check(explore(model), PROPERTIES))
                 if v.property.kind is not Kind.SOMETIMES]
        for v in worse:
            path = v.counterexample
            assert path is not None and len(path) >= 2
            # The path is a real run of the mutant: each step is one of its successors ...
            assert path[0].action is None and path[0].state in model.init_states()
            for prev, step in itertools.pairwise(path):
                assert (step.action, step.state) in model.successors(prev.state)
            # ... and an invariant's counterexample ends in a state that breaks it.
            if v.property.kind is Kind.ALWAYS:
                assert not v.property.predicate(path[-1].state)
            found = True
    assert found, f"{name}: killed only by SOMETIMES properties"


def test_issue_3_killers(results: dict[str, MutantResult]) -> None:
    assert "source-resumable-before-pong" in results["pre-10.2-switchover"].killed_by
    assert "dst-runs-only-after-pong" in results["v1-cas-in-rp-thread"].killed_by
    assert "dst-runs-only-after-pong" in results["no-ping-0x42"].killed_by


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["mutants", "--json", "--mutant", "ignore-shut-1", "--mutant", "cancel-in-postcopy-device"])
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(out["mutants"]) == {"ignore-shut-1", "cancel-in-postcopy-device"}
    shut = out["mutants"]["ignore-shut-1"]
    assert shut["killed_by"] == ["completed-after-clean-shut"]
    assert isinstance(shut["cex_len"], int) and shut["cex_len"] > 0
    assert shut["configs"] == list(MUTANTS["ignore-shut-1"].configs)


def test_cli_unknown_mutant(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mutants", "--mutant", "no-such-mutant"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown mutant" in err
