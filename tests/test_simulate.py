"""`migmodel simulate`: seeded random runs are reproducible and move; scripts replay exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from checker.cli import load_suite, main
from checker.simulate import action_text, run_random, run_script


def test_random_run_is_reproducible_and_leaves_the_initial_state() -> None:
    suite = load_suite()
    model = suite.build(suite.configs()["qemu-11.1"])
    a = run_random(model, seed=7, max_steps=60)
    b = run_random(model, seed=7, max_steps=60)
    assert [s.action for s in a] == [s.action for s in b]
    assert len(a) > 3


def test_script_replays_a_random_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = load_suite()
    model = suite.build(suite.configs()["qemu-7.2"])
    steps = run_random(model, seed=3, max_steps=40)
    lines = [action_text(model, s.action) for s in steps[1:]]
    assert run_script(model, lines)[-1].state == steps[-1].state
    script = tmp_path / "run.txt"
    script.write_text("# a comment\n" + "\n".join(lines) + "\n")
    assert main(["simulate", "--config", "qemu-7.2", "--script", str(script)]) == 0
    assert lines[-1].split(": ", 1)[1] in capsys.readouterr().out
