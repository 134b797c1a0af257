"""Counterexamples end with their final state explained and mark what each step changed:
in the terminal (``migmodel verify``), through ``checker.stepinfo`` for every renderer, and with the
QEMU suite's ``explain_state`` naming what each thread waits for."""

from __future__ import annotations

import re
from typing import Any

import pytest

from checker.cli import main
from checker.stepinfo import changed_keys, final_state, final_state_lines
from checker.verify import run_config, select
from properties.suite import qemu_suite


def test_changed_keys_marks_only_what_differs() -> None:
    steps = [{"step": 0, "state": {"a": 1, "b": [1]}}, {"step": 1, "state": {"a": 1, "b": [1, 2]}},
             {"step": 2, "state": {"a": 2, "b": [1, 2]}}, {"step": 3, "state": {"a": 2, "b": [1, 2]}}]
    assert changed_keys(steps) == [[], ["b"], ["a"], []]


class _Toy:
    """0 -> 1 by "go"; in 1 only a refused command and a no-op are enabled."""

    def init_states(self) -> list[int]:
        return [0]

    def successors(self, state: Any) -> list[tuple[str, int]]:
        return [("go", 1)] if state == 0 else [("refuse", 1), ("noop", 1)]

    def is_final(self, state: Any) -> bool:
        return False

    def describe_action(self, action: Any) -> dict[str, Any]:
        return {"actor": "op", "action": action, **({"refused": "not now"} if action == "refuse" else {})}

    def describe_state(self, state: Any) -> dict[str, Any]:
        return {"x": state}


def test_final_state_without_a_hook_still_lists_the_actions() -> None:
    toy = _Toy()
    start = final_state(toy, 0, None)
    assert start == {"threads": [], "moves": ["op: go"], "refused": [], "idle": []}
    end = final_state(toy, 1, lambda s: [("worker", f"blocked in {s}")])
    assert end["threads"] == [{"thread": "worker", "doing": "blocked in 1"}]
    assert end["moves"] == [] and end["refused"] == ["op: refuse (not now)"] and end["idle"] == ["op: noop"]
    lines = final_state_lines(end)
    assert lines[0] == "worker: blocked in 1"
    assert "nothing changes the state" in lines[1]


def _final(config: str, prop: str) -> list[tuple[str, str]]:
    suite = qemu_suite()
    configs, props = select(suite, [config], [prop])
    r = run_config(suite, config, configs[config], props)
    verdict = next(v for v in r.verdicts if v.property.name == prop)
    assert not verdict.holds and verdict.counterexample
    assert suite.explain_state is not None
    return list(suite.explain_state(verdict.counterexample[-1].state))


def test_the_10_2_hang_names_the_pong_wait() -> None:
    threads = dict(_final("qemu-10.2", "no-stuck-state"))
    assert threads["src migration thread"].startswith("waiting for PONG 0x42")
    assert "postcopy_package_loaded_event" in threads["src migration thread"]
    assert threads["src return-path thread"].startswith("exited after an error")


def test_the_11_1_device_load_failure_names_the_blocked_listen_thread() -> None:
    threads = dict(_final("qemu-11.1", "source-resumable-before-pong"))
    assert "no PONG 0x42 yet" in threads["src migration thread"]
    assert threads["dst main thread"].startswith("its load failed")
    assert threads["dst listen thread"].startswith("blocked reading the main stream")


def test_verify_prints_the_end_and_the_changes(capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")  # the width the README documents; without a terminal it is 80
    assert main(["verify", "--config", "qemu-10.2", "--property", "no-stuck-state"]) == 1
    out = capsys.readouterr().out
    assert "How it ends:" in out
    assert re.search(r"src migration thread: waiting for PONG 0x42", out)
    # with two faults per run a second fault may still be enabled at the end of the run
    assert re.search(r"enabled: (nothing changes the state|fault: )", out)
    flat = re.sub(r"\n\s+", " ", out)  # the list wraps at the terminal's width (80 columns without one)
    assert re.search(r"refused: .*src/qmp: migrate_cancel \(Postcopy migration in progress, cannot cancel", flat)
    # The step entering postcopy-device marks its src cell; the next step, still there, does not.
    steps = [line for line in out.splitlines() if re.match(r"\s+\d+\s+\S+/\S+", line)]
    k = next(i for i, line in enumerate(steps) if "*postcopy-device" in line)
    assert "postcopy-device" in steps[k + 1] and "*postcopy-device" not in steps[k + 1]
