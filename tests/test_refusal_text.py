"""A refused QMP command shows QEMU's error text, never an unformatted ``%s`` placeholder."""

from __future__ import annotations

from pathlib import Path

import pytest

from checker.cli import load_suite, main


def test_refused_continue_reads_as_text_in_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # what a user replays: migrate-continue outside pre-switchover is refused by qmp_migrate_continue
    script = tmp_path / "run.txt"
    script.write_text("dst/qmp: migrate-incoming\nsrc/qmp: migrate\nsrc/qmp: migrate-continue: refused\n")
    assert main(["simulate", "--config", "qemu-11.1", "--script", str(script)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "not in expected state: <state>" in out  # the table wraps the action column
    assert "%s" not in out


def test_no_refusal_is_described_with_a_format_placeholder() -> None:
    suite = load_suite()
    model = suite.build(suite.configs()["qemu-11.1"])
    refusals = set()
    state = model.init_states()[0]
    seen, todo = {state}, [state]
    while todo and len(seen) < 3_000:
        for action, succ in model.successors(todo.pop()):
            described = model.describe_action(action)
            if "refused" in described:
                refusals.add(described["refused"])
            if succ not in seen:
                seen.add(succ)
                todo.append(succ)
    assert any("expected state" in r for r in refusals)
    assert not [r for r in refusals if "%" in r]
