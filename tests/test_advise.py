"""``migmodel advise``: sound on every prefix of every recorded trace, README examples that are
today's output, one line for bad input.

Soundness is judged against what each real recording went on to show (``Done when`` of the
advise issue), by oracles that read the raw trace lines and nothing of the advice engine:
whenever the advice says resuming the source is safe, the destination guest never ran in that
recording (no destination ``RESUME``, no destination ``query-status`` answering ``running``,
before or after); whenever it says the pair is stuck, QEMU showed no progress afterwards (an
event, a process exit, a query answer that changed) before an operator command or a fault;
whenever it names where the newest guest state is, the guest that ran last up to that point is
on that side (``split``: the destination's; ``diverged``: the source's, after the destination's
ran; ``lost``: a process is gone).

Which recordings: every ``*.jsonl`` under ``tests/fixtures/`` (the per-version directories,
``replayed/``, ``variants/``, ``qemu-qtest/`` and ``replay-divergences/``). Left out, as they are
not recordings in the harness format: ``qtest-raw/`` (QEMU's own qtest logs; their conversion is
``traces/qemu-qtest/cancel-src-after-active.jsonl``) and ``qemu-trees/`` (C sources).
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import harness.advise_cli as advise_cli
from checker.advise import NO_QUERY_DECIDES, Advice, Answer
from harness.advise_cli import advice_points

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
FIX = FIXTURES / "traces"
RECORDED = sorted(FIX.rglob("*.jsonl")) + sorted((FIXTURES / "replay-divergences").glob("*.jsonl"))
NOT_RECORDINGS = ("qtest-raw", "qemu-trees")

Row = dict[str, Any]


def test_every_recording_under_fixtures_is_judged() -> None:
    every = {p for p in FIXTURES.rglob("*.jsonl") if not set(p.relative_to(FIXTURES).parts) & set(NOT_RECORDINGS)}
    assert every == set(RECORDED)
    assert {p.parent.name for p in RECORDED} >= {"7.2-to-7.2", "11.1-to-11.1", "replayed", "qemu-qtest",
                                                 "replay-divergences", "10.0-to-10.0"}
    assert len(RECORDED) >= 250


# ---------------------------------------------------------------------------------------------
# Oracles: what a recording showed, from its raw lines

def _rows(path: Path) -> list[Row]:
    return [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def _changes_nothing(command: str) -> bool:
    return command.startswith("query-") or command in ("qmp_capabilities", "getfd")


def dst_guest_ran(rows: list[Row]) -> bool:
    """The destination guest ran at some point of these lines."""
    return any(r.get("side") == "dst" and (r.get("event") == "RESUME" or (
        r.get("command") == "query-status" and isinstance(r.get("return"), dict) and r["return"].get("running")))
        for r in rows[1:])


def ran_last(rows: list[Row], k: int) -> str:
    """Whose guest ran last in the first ``k`` lines (the source's runs from the start)."""
    last = "source"
    for r in rows[1:k]:
        if r.get("event") == "RESUME" and r.get("side") in ("src", "dst"):
            last = "source" if r["side"] == "src" else "destination"
    return last


def side_gone(rows: list[Row], k: int) -> bool:
    """A QEMU process exited or was killed in the first ``k`` lines."""
    return any("exit" in r or r.get("fault") in ("kill-src", "kill-dst") for r in rows[1:k])


def _answer(r: Row) -> tuple[str, Any] | None:
    ret = r.get("return")
    if not isinstance(ret, dict) or r.get("command") not in ("query-migrate", "query-status"):
        return None
    return ("migrate" if r["command"] == "query-migrate" else "status"), ret.get("status")


def progressed_by_itself(rows: list[Row], k: int) -> Row | None:
    """The first line after the first ``k`` that shows QEMU progressing (an event that changes
    something, a process exit, a query answering otherwise than before), if no state-changing
    command was sent and no fault injected before it (from the cut on, or still in flight at the
    cut, or the harness's teardown): the line that refutes "stuck" at ``k``."""
    known: dict[tuple[str, str], Any] = {}
    for r in rows[1:k]:
        if r.get("side") not in ("src", "dst"):
            continue
        if r.get("event") == "MIGRATION":
            known[(r["side"], "migrate")] = r["data"]["status"]
        elif r.get("event") in ("STOP", "RESUME"):
            known.pop((r["side"], "status"), None)
        elif (a := _answer(r)) is not None:
            known[(r["side"], a[0])] = a[1]
    after = rows[k:]
    acts = [r["t"] for r in rows if r.get("side") == "harness" and r.get("teardown")]
    for r in after:
        if "command" in r and not _changes_nothing(r["command"]):
            acts.append(r.get("t_sent", r["t"]))  # a command's line is written at its reply
        elif "fault" in r:
            acts.append(r["t"])
    for r in after:
        if r.get("side") not in ("src", "dst"):
            continue
        progress = r.get("event") in ("MIGRATION", "STOP", "RESUME", "SHUTDOWN") or "exit" in r
        if not progress and (a := _answer(r)) is not None:
            key = (r["side"], a[0])
            progress = key in known and known[key] != a[1]
            known[key] = a[1]
        if progress:
            return None if any(t <= r["t"] for t in acts) else r
    return None


def _stuck_refuted(rows: list[Row], k: int) -> bool:
    return progressed_by_itself(rows, k) is not None


def test_oracles_on_hand_written_lines() -> None:
    """The oracles see what they must in raw lines written by hand."""
    meta: Row = {"meta": {"src_version": "11.1.3", "dst_version": "11.1.3"}}
    rows: list[Row] = [meta,
            {"side": "src", "event": "MIGRATION", "data": {"status": "postcopy-device"}, "t": 1.0},
            {"side": "src", "command": "query-migrate", "t_sent": 2.0, "return": {"status": "postcopy-device"},
             "t": 2.1},
            {"side": "dst", "command": "query-status", "t_sent": 2.2, "return": {"status": "running",
                                                                                  "running": True}, "t": 2.3},
            {"side": "dst", "exit": 1, "t": 3.0},
            {"side": "harness", "teardown": True, "t": 4.0}]
    assert dst_guest_ran(rows) and not dst_guest_ran(rows[:3])
    assert ran_last(rows, 6) == "source"  # query-status is not a RESUME: whose ran last needs events
    assert progressed_by_itself(rows, 2) == rows[4]  # queries changed nothing; the exit came by itself
    killed = [*rows[:4], {"side": "harness", "fault": "kill-dst", "t": 2.9}, *rows[4:]]
    assert progressed_by_itself(killed, 2) is None  # the exit followed a kill
    changed = [*rows[:2], {**rows[2], "return": {"status": "failed"}}, *rows[3:]]
    assert progressed_by_itself(changed, 2) == changed[2]  # a query answering otherwise is progress
    quit_ = [*rows[:3], {"side": "dst", "command": "quit", "t_sent": 2.5, "return": {}, "t": 3.1}, *rows[4:]]
    assert progressed_by_itself(quit_, 2) is None  # `quit` (in flight before the exit) is the operator's
    assert side_gone(rows, 5) and not side_gone(rows, 4)


# ---------------------------------------------------------------------------------------------
# Every prefix of every recording

Point = tuple[int, str, str, str, int]
"""(lines taken in, resume-safe answer, stuck answer, newest-state answer, how many ``unknown``
answers a query decides)."""


def _advice(path: Path) -> list[Point]:
    raw = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    out: list[Point] = []
    for k, (_, advice, why) in advice_points(str(path), iter(raw), None, 1_000_000):
        assert advice is not None, f"{path.name} after line {k}: {why}"
        answers = (advice.source_resume_safe, advice.stuck, advice.newest_state_on)
        decided = sum(1 for a in answers if a.answer == "unknown" and a.decide_by != NO_QUERY_DECIDES)
        out.append((k, answers[0].answer, answers[1].answer, answers[2].answer, decided))
    return out


@functools.cache
def _points(path: Path) -> tuple[Point, ...]:
    return tuple(_advice(path))


def violations(path: Path, points: tuple[Point, ...] | list[Point]) -> list[str]:
    """Where the advice at some prefix contradicts what the recording showed."""
    rows = _rows(path)
    ran = dst_guest_ran(rows)
    bad = []
    for k, safe, stuck, side, _ in points:
        if safe == "yes" and ran:
            bad.append(f"{path.name}:{k}: said resuming the source is safe; the destination guest ran")
        if stuck == "yes" and (r := progressed_by_itself(rows, k)) is not None:
            bad.append(f"{path.name}:{k}: said stuck; QEMU went on by itself: {json.dumps(r)[:120]}")
        last = ran_last(rows, k)
        if side in ("source", "destination") and last != side:
            bad.append(f"{path.name}:{k}: newest state on the {side}; the {last}'s guest ran last")
        if side.startswith("split") and last != "destination":
            bad.append(f"{path.name}:{k}: split (execution on the destination); the source's guest ran last")
        if side.startswith("diverged") and not (last == "source" and dst_guest_ran(rows[:k])):
            bad.append(f"{path.name}:{k}: diverged; the source's guest did not run after the destination's")
        if side == "lost" and not side_gone(rows, k):
            bad.append(f"{path.name}:{k}: lost; no process is gone")
    return bad


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_advice_is_sound_on_every_prefix(path: Path) -> None:
    points = _points(path)
    assert points, f"{path.name}: no advice at any prefix"
    assert violations(path, points) == []


def _teardown(path: Path) -> int:
    """The number of lines up to and including the teardown marker."""
    return next(i for i, r in enumerate(_rows(path)) if r.get("side") == "harness" and r.get("teardown")) + 1


def soundness_counts() -> Counter[str]:
    """How many advice points said what, over every recording (before its teardown marker: after
    it, ``conform`` reads nothing more, so the advice repeats the one at the marker)."""
    c: Counter[str] = Counter()
    for path in RECORDED:
        td = _teardown(path)
        c["recordings"] += 1
        for k, safe, stuck, side, decided in _points(path):
            c["points, all"] += 1
            if k > td:
                continue
            c["points"] += 1
            c["safe"] += safe == "yes"
            c["stuck"] += stuck == "yes"
            c["named"] += side in ("source", "destination") or side.startswith(("split", "diverged"))
            c["unknown"] += "unknown" in (safe, stuck, side)
            c["unknown decided by a query"] += decided
    return c


def test_soundness_counts_are_those_in_the_readme() -> None:
    """Non-vacuity, and the README's numbers are today's: each answer the soundness test judges
    is given at many prefixes."""
    c = soundness_counts()
    print(dict(c))
    assert c["safe"] > 100 and c["stuck"] > 100 and c["named"] > 1000
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    said = (f"({c['points']:,} advice points over the {c['recordings']} recordings before their teardown "
            f"marker, {c['points, all']:,} in all): whenever the advice says resuming the source is safe "
            f"({c['safe']:,} points)")
    assert said in " ".join(readme.split()), said
    assert f"whenever it says stuck ({c['stuck']:,})" in " ".join(readme.split())
    assert f"the side holding the newest state ({c['named']:,})" in " ".join(readme.split())


def _wrong(change: Callable[[Advice], None]) -> Callable[..., Advice]:
    real: Callable[..., Advice] = getattr(advise_cli, "advise")  # noqa: B009 (not in __all__)

    def advise(*args: Any, **kwargs: Any) -> Advice:
        a = real(*args, **kwargs)
        change(a)
        return a
    return advise


def _always_safe(a: Advice) -> None:
    a.source_resume_safe = Answer("yes", "mutant")


def _always_stuck(a: Advice) -> None:
    a.stuck = Answer("yes", "mutant")


def _other_side(a: Advice) -> None:
    flip = {"source": "destination", "destination": "source"}
    a.newest_state_on = Answer(flip.get(a.newest_state_on.answer, "source"), "mutant")


@pytest.mark.parametrize("change", [_always_safe, _always_stuck, _other_side], ids=lambda f: f.__name__)
def test_wrong_advice_fails_the_soundness_check(change: Callable[[Advice], None],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The soundness check is not vacuous: advice that always says safe, always says stuck, or
    names the other side, is caught on a real recording."""
    monkeypatch.setattr(advise_cli, "advise", _wrong(change))
    path = FIX / "11.1-to-11.1" / "postcopy_ok.jsonl"
    assert violations(path, _advice(path)) != []


# ---------------------------------------------------------------------------------------------
# The README's worked examples are today's output

def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "checker.cli", "advise", *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


def _readme_examples() -> list[tuple[str, str]]:
    """Each ``$ [head -N FILE |] migmodel advise ...`` of the README's advise section and the
    output shown under it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## For operators: `migmodel advise`", 1)[1].split("\n## ", 1)[0]
    out = []
    for block in re.findall(r"```\n(.*?)```", section, flags=re.S):
        lines = block.splitlines()
        if lines and lines[0].lstrip().startswith("$ "):
            indent = len(lines[0]) - len(lines[0].lstrip())
            out.append((lines[0].strip()[2:], "\n".join(ln[indent:] for ln in lines[1:])))
    return out


def test_readme_has_the_three_worked_examples() -> None:
    commands = [c for c, _ in _readme_examples()]
    assert len(commands) == 3, commands
    assert "devload-nothing-pending.qemu-11.1" in commands[0]
    assert "partition" in commands[1] and commands[1].startswith("head -")
    assert "7.2-to-7.2/d_devload_fail_postcopy" in commands[2]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_readme_example_is_todays_output(index: int) -> None:
    command, shown = _readme_examples()[index]
    m = re.fullmatch(r"(?:head -(\d+) (\S+) \| )?migmodel advise (.*)", command)
    assert m, command
    count, piped, args = m.groups()
    stdin = None
    if piped:
        stdin = "".join((ROOT / piped).read_text(encoding="utf-8").splitlines(keepends=True)[:int(count)])
    r = _run(*args.split(), stdin=stdin)
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip("\n") == shown.rstrip("\n")


# ---------------------------------------------------------------------------------------------
# The answers on the three situations of the issue, and the interface

def test_stranded_72_source_after_device_load_failure() -> None:
    r = _run("--json", str(FIX / "7.2-to-7.2" / "d_devload_fail_postcopy.jsonl"))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["newest_state_on"]["answer"] == "source"
    assert out["source_resume_safe"]["answer"] == "yes"
    assert out["stuck"]["answer"] == "yes"
    assert {"src: migrate_cancel", "src: migrate resume=true (7.2)"} <= {a["action"] for a in out["safe_actions"]}
    assert {"kill -9 the source"} <= {a["action"] for a in out["unsafe_actions"]}


def test_11_1_hang_with_nothing_pending_is_stuck_and_the_destination_may_be_killed() -> None:
    r = _run("--json", str(FIX / "replayed" / "devload-nothing-pending.qemu-11.1.jsonl"))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["stuck"]["answer"], out["source_resume_safe"]["answer"]) == ("yes", "yes")
    ways = [e for e in out["stuck"]["evidence"] if e.startswith("way out: ")]
    assert "way out: kill -9 the destination -> the source runs (migration ended without handing over)" in ways
    assert "way out: yank: destination -> the source runs (migration ended without handing over)" in ways
    good = {a["action"] for a in out["safe_actions"] if a["leads_to_good_end"]}
    assert {"kill -9 the destination", "yank: destination"} <= good


def test_silent_partition_after_the_destination_started_says_do_not_yank_the_source() -> None:
    path = FIX / "replayed" / "partition-then-reset.qemu-11.1.jsonl"
    head = "".join(path.read_text(encoding="utf-8").splitlines(keepends=True)[:20])
    assert '"side": "dst"' in head.splitlines()[18] and '"RESUME"' in head.splitlines()[18]
    r = _run("--json", "-", stdin=head)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["newest_state_on"]["answer"].startswith("split")
    assert out["source_resume_safe"]["answer"] == "no"
    unsafe = {a["action"]: a for a in out["unsafe_actions"]}
    assert {"yank: source", "kill -9 the source"} <= set(unsafe)
    assert "split brain" in unsafe["yank: source"]["harm"] and unsafe["yank: source"]["path"]


def test_split_brain_trace_is_not_safe_to_resume() -> None:
    r = _run("--json", str(FIX / "11.1-to-11.1" / "h_partition_lost_pong.jsonl"))
    out = json.loads(r.stdout)
    assert out["source_resume_safe"]["answer"] == "no"
    assert out["newest_state_on"]["answer"].startswith("diverged")


KEYS = ["config", "observed", "consistent_states", "newest_state_on", "source_resume_safe", "stuck",
        "possible_outcomes", "safe_actions", "unsafe_actions", "unknowns"]


def test_each_gives_one_json_line_per_observation_from_a_stream() -> None:
    path = FIX / "11.1-to-11.1" / "postcopy_ok.jsonl"
    text = path.read_text(encoding="utf-8")
    r = _run("--each", "--json", "-", stdin=text)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(ln) for ln in r.stdout.splitlines()]
    observations = sum(1 for x in _rows(path)[1:] if x.get("side") in ("src", "dst")
                       and ("event" in x or "command" in x or "exit" in x))
    assert 5 < len(rows) <= observations
    assert [x["observed"]["line"] for x in rows] == sorted({x["observed"]["line"] for x in rows})
    assert all(list(x) == KEYS for x in rows)
    for x in rows:  # the five answers: an answer, a reason and, for the three questions, the model's evidence
        for q in ("newest_state_on", "source_resume_safe", "stuck"):
            assert x[q]["answer"] and x[q]["reason"] and x[q]["evidence"], (x["observed"]["line"], q)
    # before the migration starts the source alone has the guest; at the end the destination does
    assert rows[0]["newest_state_on"]["answer"] == "source"
    assert rows[-1]["newest_state_on"]["answer"] == "destination"


def test_unknown_names_what_would_decide_it() -> None:
    """Once the migration started, whether the destination can still run depends on faults no
    line shows (an unlogged yank, a silent partition): ``unknown``, with one witness run per
    possibility, and what would decide it (here no query can: the states differ in the link)."""
    path = FIX / "11.1-to-11.1" / "postcopy_ok.jsonl"
    r = _run("--each", "--json", str(path))
    rows = [json.loads(ln) for ln in r.stdout.splitlines()]
    unknown = [x for x in rows if x["source_resume_safe"]["answer"] == "unknown"]
    assert unknown
    for x in unknown:
        assert "source_resume_safe" in x["unknowns"]
        assert x["source_resume_safe"]["decide_by"] == NO_QUERY_DECIDES
        ev = x["source_resume_safe"]["evidence"]
        assert any(e.startswith("if safe: ") for e in ev) and any(e.startswith("if not safe: ") for e in ev)


def test_impossible_observations_exit_1() -> None:
    meta = json.loads((FIX / "11.1-to-11.1" / "postcopy_ok.jsonl").read_text().splitlines()[0])
    lines = [json.dumps(meta),
             json.dumps({"side": "src", "t": 0.1, "t_sent": 0.0, "command": "migrate", "return": {}}),
             json.dumps({"side": "src", "t": 0.2, "event": "MIGRATION", "data": {"status": "completed"}})]
    r = _run("-", stdin="\n".join(lines) + "\n")
    assert r.returncode == 1
    assert "NO ADVICE" in r.stdout


def test_search_bound_exits_3() -> None:
    r = _run("--max-states", "50", str(FIX / "11.1-to-11.1" / "postcopy_ok.jsonl"))
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert "passed 50 nodes" in r.stdout


META = '{"meta": {"src_version": "11.1.3", "dst_version": "11.1.3"}}\n'


@pytest.mark.parametrize("each", [False, True], ids=["once", "each"])
@pytest.mark.parametrize("text, needle", [
    ("", "empty"),
    ("not json\n", "JSON"),
    ('{"meta": {"src_version": "11.1.3"}}\n', "QEMU version None"),
    (META + '{"side": "moon"}\n', "side"),
    (META, "nothing to check"),
    (META + '{"side": "src", "event": "MIGRATION", "data": {"status": "setup"}, "t": 1.0}\n{"side": \n', "JSON"),
])
def test_bad_input_is_one_line_and_exit_2(text: str, needle: str, each: bool, tmp_path: Path) -> None:
    for source in ("-", "file"):
        trace = tmp_path / "bad.jsonl"
        trace.write_text(text, encoding="utf-8")
        args = [*(["--each"] if each else []), "-" if source == "-" else str(trace)]
        r = _run(*args, stdin=text)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and needle in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr


def test_usage_errors() -> None:
    for args in (["--live"], ["--config", "no-such", "-"], [], ["--max-states", "0", "x"],
                 ["no/such/file.jsonl"], ["--each", "no/such/file.jsonl"], ["tests"],
                 ["--live", "--src-qmp", "/no/such.qmp", "--dst-qmp", "/no/such.qmp"]):
        r = _run(*args, stdin="")
        assert r.returncode == 2 and "Traceback" not in r.stderr, args
        assert len(r.stderr.strip().splitlines()) == 1, args


def test_help_documents_the_exit_codes() -> None:
    r = subprocess.run([sys.executable, "-m", "checker.cli", "advise", "--help"], capture_output=True, text=True,
                       cwd=ROOT, timeout=60)
    for code in ("0 ", "1 ", "2 ", "3 ", "130"):
        assert f"\n  {code}" in r.stdout, code


def test_the_cheapest_deciding_observation_is_named() -> None:
    """One query if one decides, cheapest first; else the fewest together; else none does."""
    from checker.advise import Advisor, _decider

    def advisor(*queries: tuple[str, Callable[[Any], Any]]) -> Advisor:
        return Advisor(kind=str, label=str, remote_ran=bool, newest=str, outcome=lambda s: ("", True),
                       harm=lambda s: (), queries=queries)

    def x(s: Any) -> Any:
        return s[0]

    def y(s: Any) -> Any:
        return s[1]

    states = [(0, 0), (0, 1), (1, 0), (1, 1)]
    first, second = ("first", x), ("second", y)
    assert _decider(advisor(first, second), states, y) == "second"
    assert _decider(advisor(first, ("also", y)), states, x) == "first"
    assert _decider(advisor(first, second), states, lambda s: x(s) ^ y(s)) == "first and second"
    assert _decider(advisor(first), states, y) == NO_QUERY_DECIDES
