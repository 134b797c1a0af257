"""``migmodel advise``: sound on every prefix of every recorded trace, one line for bad input.

Soundness is judged against what each real recording went on to show (``Done when`` of the
advise issue): whenever the advice says resuming the source is safe, the destination guest never
ran in that recording; whenever it says the pair is stuck, nothing happened afterwards without an
operator command or a fault first; whenever it names the side holding the newest guest state,
that side's guest is the one that ran last up to that point.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.advise_cli import advice_points
from harness.traces import load

ROOT = Path(__file__).resolve().parent.parent
TRACES = sorted(p for p in (ROOT / "tests" / "fixtures" / "traces").rglob("*.jsonl"))


def _prefix_points(lines: list[dict[str, Any]]) -> list[int]:
    """Line counts (meta included) after which an observation was made."""
    return [k + 2 for k, ln in enumerate(lines)
            if ln.get("side") in ("src", "dst") and ("event" in ln or "command" in ln or "exit" in ln)]


def _ran_last(body: list[dict[str, Any]], upto: int) -> str:
    last = "source"  # the source guest runs from the start (`cont` before the migration)
    for ln in body[:upto]:
        if ln.get("event") == "RESUME":
            last = "source" if ln["side"] == "src" else "destination"
    return last


def _progress_without_operator(body: list[dict[str, Any]], after: int) -> bool:
    """Did a QEMU event come after line ``after`` with no command sent and no fault injected or
    process ended between that point and the event? (A command's line is written at its reply:
    when it was sent is ``t_sent``.)"""
    t_cut = body[after - 1].get("t", 0.0) if after else 0.0
    acts = sorted(ln.get("t_sent", ln.get("t", 0.0)) for ln in body
                  if ("command" in ln or "fault" in ln or "exit" in ln)
                  and ln.get("t_sent", ln.get("t", 0.0)) >= t_cut)
    for ln in body[after:]:
        if ln.get("event") in ("MIGRATION", "STOP", "RESUME"):
            return not any(t <= ln["t"] for t in acts)
    return False


@pytest.mark.parametrize("path", TRACES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_advice_is_sound_on_every_prefix(path: Path) -> None:
    trace = load(path)
    raw = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    body = trace.body()
    dst_ever_ran = any(ln.get("event") == "RESUME" and ln["side"] == "dst" for ln in body)
    judged = 0
    for k, (_, advice, why) in advice_points(str(path), iter(raw), None, 1_000_000):
        if k - 1 > len(body):
            break  # past the teardown marker
        assert advice is not None, f"{path.name} after line {k}: {why}"
        judged += 1
        upto = k - 1  # body lines seen
        if advice.source_resume_safe.answer == "yes":
            assert not dst_ever_ran, f"{path.name}:{k}: said resuming the source is safe, the destination ran"
        if advice.stuck.answer == "yes":
            assert not _progress_without_operator(body, upto), \
                f"{path.name}:{k}: said stuck, but QEMU went on by itself"
        side = advice.newest_state_on.answer
        if side in ("source", "destination"):
            assert _ran_last(body, upto) == side, f"{path.name}:{k}: newest state on {side}"
    assert judged > 0


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "checker.cli", "advise", *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


FIX = ROOT / "tests" / "fixtures" / "traces"


def test_stranded_72_source_after_device_load_failure() -> None:
    r = _run("--json", str(FIX / "7.2-to-7.2" / "d_devload_fail_postcopy.jsonl"))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["newest_state_on"]["answer"] == "source"
    assert out["source_resume_safe"]["answer"] == "yes"
    assert out["stuck"]["answer"] == "yes"
    assert {"src: migrate_cancel", "src: migrate resume=true (7.2)"} & {a["action"] for a in out["safe_actions"]}
    assert {"kill -9 the source"} <= {a["action"] for a in out["unsafe_actions"]}


def test_split_brain_trace_is_not_safe_to_resume() -> None:
    r = _run("--json", str(FIX / "11.1-to-11.1" / "h_partition_lost_pong.jsonl"))
    out = json.loads(r.stdout)
    assert out["source_resume_safe"]["answer"] == "no"
    assert out["newest_state_on"]["answer"].startswith("diverged")


def test_each_gives_one_json_line_per_observation_from_stdin() -> None:
    path = FIX / "11.1-to-11.1" / "postcopy_ok.jsonl"
    text = path.read_text(encoding="utf-8")
    r = _run("--each", "--json", "-", stdin=text)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert 5 < len(rows) <= len(_prefix_points(load(path).lines))
    assert [r["line"] for r in rows] == sorted({r["line"] for r in rows})
    keys = {"config", "observed", "consistent_states", "newest_state_on", "source_resume_safe", "stuck",
            "possible_outcomes", "safe_actions", "unsafe_actions", "unknowns"}
    assert all(keys <= set(row) for row in rows)
    # before the migration starts the source alone has the guest; at the end the destination does
    assert rows[0]["newest_state_on"]["answer"] == "source"
    assert rows[-1]["newest_state_on"]["answer"] == "destination"


def test_impossible_observations_exit_1() -> None:
    meta = json.loads((FIX / "11.1-to-11.1" / "postcopy_ok.jsonl").read_text().splitlines()[0])
    lines = [json.dumps(meta),
             json.dumps({"side": "src", "t": 0.1, "t_sent": 0.0, "command": "migrate", "return": {}}),
             json.dumps({"side": "src", "t": 0.2, "event": "MIGRATION", "data": {"status": "completed"}})]
    r = _run("-", stdin="\n".join(lines) + "\n")
    assert r.returncode == 1
    assert "NO ADVICE" in r.stdout


@pytest.mark.parametrize("text, needle", [
    ("", "empty"),
    ("not json\n", "JSON"),
    ('{"meta": {"src_version": "11.1.3"}}\n', "QEMU version None"),
    ('{"meta": {"src_version": "11.1.3", "dst_version": "11.1.3"}}\n{"side": "moon"}\n', "side"),
])
def test_bad_input_is_one_line_and_exit_2(text: str, needle: str) -> None:
    r = _run("-", stdin=text)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1 and needle in r.stderr
    assert "Traceback" not in r.stderr


def test_usage_errors() -> None:
    for args in (["--live"], ["--config", "no-such", "-"], [], ["--max-states", "0", "x"],
                 ["no/such/file.jsonl"]):
        r = _run(*args, stdin="")
        assert r.returncode == 2 and "Traceback" not in r.stderr, args
        assert len(r.stderr.strip().splitlines()) == 1, args
