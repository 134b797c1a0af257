"""``migmodel replay`` without QEMU: the replayed fixtures, the step mapping, the judges, the
fault proxy's frame control, the LD_PRELOAD shim, the option ROM and the report's coverage line.

The live replays (real QEMU) are in ``tests/live/test_live_replay.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from checker.cli import main as migmodel
from harness.optionrom import PAGES, SIZE, image
from harness.proxy import FaultProxy, FrameRule, rp_frame
from properties.replayed import JUDGED, REPLAYED, replays, seen_on_real_qemu

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = sorted(REPLAYED.glob("*.jsonl"))
DIVERGED = sorted((REPLAYED.parent.parent / "replay-divergences").glob("*.jsonl"))


def _meta(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        meta: dict[str, Any] = json.loads(f.readline())["meta"]
    return meta


# ---------------------------------------------------------------------------------------------
# The fixtures


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_replayed_fixture_conforms_to_its_configuration(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    meta = _meta(path)
    rep = meta["replays"]
    assert set(rep) == {"config", "property", "steps"} and rep["steps"]
    assert isinstance(meta["observed_violation"], bool)
    assert meta["ok"] is True and meta["proxy"] is True
    assert migmodel(["conform", "--config", rep["config"], str(path)]) == 0, capsys.readouterr().out


def test_the_issue_s_replays_are_kept() -> None:
    """The windows issue 13 asks for, each seen on real QEMU (or refuted, and then listed here)."""
    seen = {(r.config, r.prop) for r in replays() if r.observed}
    for cell in [("qemu-11.1", "no-split-brain"),  # cancel while waiting for SHUT(0); partition + reset
                 ("qemu-11.1-busy-guest", "no-vm-loss"),  # destination dies between PONG 0x42 and RUN
                 ("qemu-11.1", "fault-free-runs-finish"),  # migrate-pause before the destination's RUN
                 ("qemu-11.1", "no-stuck-state"),  # device-load failure, nothing pending
                 ("qemu-11.1", "no-rollback"),  # partition then destination kill
                 ("qemu-10.2", "rp-error-ends-postcopy-device")]:  # 10.2: only the PONG ends the wait
        assert cell in seen, cell
    # cells real QEMU did not violate when replayed (docs/replay.md says why)
    refuted = {(r.config, r.prop) for r in replays() if not r.observed}
    assert refuted == {("qemu-11.1-to-7.2", "source-resumable-before-pong"),
                       # the reset came while the 10.2 source still wrote its last pages (its stderr:
                       # "failed to save ... ram: -5"), so it failed instead of waiting for the PONG
                       ("qemu-10.2", "no-stuck-state")}, refuted


@pytest.mark.parametrize("path", DIVERGED, ids=lambda p: p.stem)
def test_diverged_replays_are_model_runs_that_missed_the_window(path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Replays whose window the harness could not hit (docs/replay.md says why for each): a step's
    model state never showed, so the verdict says nothing about the finding; what QEMU did is
    still a run of the model."""
    meta = _meta(path)
    assert meta["replay"]["divergence"], "a replay that reached every step belongs in traces/replayed"
    assert migmodel(["conform", "--config", meta["replays"]["config"], str(path)]) == 0, capsys.readouterr().out


def _edited(path: Path, tmp_path: Path, after_status: str, new_status: str) -> Path:
    """``path`` with one more source MIGRATION event right after the first ``after_status`` one."""
    out = tmp_path / path.name
    lines = path.read_text(encoding="utf-8").splitlines()
    i = next(n for n, ln in enumerate(lines) if f'"status": "{after_status}"' in ln and '"side": "src"' in ln)
    obj = json.loads(lines[i])
    obj["data"]["status"], obj["t"] = new_status, obj["t"] + 0.00001
    lines.insert(i + 1, json.dumps(obj))
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def test_the_cancel_race_is_version_specific(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``migrate_cancel`` shuts the return path down before its CAS: on 11.1 a source that failed
    in between (``failing``) is still cancelled; on 10.2 ``failed`` is not running and the cancel
    is a no-op. Each recording is accepted for its own version only, and the other ordering is
    rejected."""
    failing_first = REPLAYED / "cancel-waiting-for-shut-failing-first.qemu-11.1.jsonl"
    failed_first = REPLAYED / "qemu-10.2.no-split-brain.jsonl"
    assert migmodel(["conform", "--config", "qemu-11.1", str(failing_first)]) == 0
    assert migmodel(["conform", "--config", "qemu-10.2", str(failed_first)]) == 0
    # 10.2 has no `failing`, and its `failed` does not count as running for the CAS
    assert migmodel(["conform", "--config", "qemu-10.2", str(failing_first)]) == 1
    assert migmodel(["conform", "--config", "qemu-10.2", str(_edited(failed_first, tmp_path, "failed",
                                                                       "cancelling"))]) == 1
    capsys.readouterr()


# Where each replay the model once did not allow is today, as docs/replay.md's table
# ("Every replay the model did not allow, classified") says: the directory its "now" column names.
WHERE = {"traces/replayed/": REPLAYED, "replay-divergences/": REPLAYED.parent.parent / "replay-divergences",
         "replay-model-gaps/": REPLAYED.parent.parent / "replay-model-gaps"}
_TABLE_HEADING = "## Every replay the model did not allow, classified"


def _expand(names: str) -> list[str]:
    """The names one backticked entry stands for: ``a.{b,c}`` is ``a.b`` and ``a.c``."""
    m = re.fullmatch(r"([^{}]*)\{([^{}]*)\}([^{}]*)", " ".join(names.split()))
    if m is None:
        return [names]
    head, alternatives, tail = m.groups()
    return [head + alternative.strip() + tail for alternative in alternatives.split(",")]


def _classified(text: str) -> list[tuple[str, str, str, list[str]]]:
    """(replay, what happened, kind, directories its "now" cell names) for each replay of the table."""
    section = text.split(_TABLE_HEADING, 1)[1].split("\n## ", 1)[0]
    rows: list[tuple[str, str, str, list[str]]] = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`"):
            continue  # prose, the header or its rule
        names, what, kind, now = cells
        where = [key for key in WHERE if key in now]
        rows += [(name, what, kind, where) for entry in re.findall(r"`([^`]+)`", names) for name in _expand(entry)]
    return rows


def _table_problems(text: str, where: dict[str, Path]) -> list[str]:
    """What docs/replay.md's table gets wrong about the traces in the ``where`` directories: a replay
    not in the one directory its row names, a missed window kept anywhere but replay-divergences/,
    a model-gap trace the table does not list, a count in the text that the rows do not add up to."""
    rows = _classified(text)
    problems = []
    claimed = re.search(r"The (\d+) replays first kept in", text.split(_TABLE_HEADING, 1)[1])
    if claimed is None or int(claimed.group(1)) != len(rows):
        problems.append(f"the text counts {claimed and claimed.group(1)} replays, the table lists {len(rows)}")
    for name, _what, kind, named in rows:
        found = [key for key, directory in where.items() if (directory / f"{name}.jsonl").is_file()]
        if found != named:
            problems.append(f"{name}: the table says {named or 'nothing'}, the trace is in {found or 'none of them'}")
        if kind.startswith("window") != (named == ["replay-divergences/"]):
            problems.append(f"{name}: a {kind!r} row must say replay-divergences/, and only such a row")
    listed = {name for name, _, _, named in rows if named == ["replay-model-gaps/"]}
    problems += [f"{path.stem}: in replay-model-gaps/ but not in the table"
                 for path in sorted(where["replay-model-gaps/"].glob("*.jsonl")) if path.stem not in listed]
    return problems


def _model_runs(paths: list[Path]) -> list[str]:
    """The replays among ``paths`` that reached every step and that conform accepts for their
    configuration: a model gap that is no longer one."""
    return [path.stem for path in paths if _meta(path)["replay"]["divergence"] is None
            and migmodel(["conform", "--config", _meta(path)["replays"]["config"], str(path)]) == 0]


def test_model_gap_traces_are_still_not_model_runs_and_the_docs_say_where_each_replay_is(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Replays that real QEMU ran differently from the model are kept in replay-model-gaps/ until
    the model is fixed: each must still diverge or be rejected (once the model explains it, it moves
    to traces/replayed). All of them are fixed today, so the directory is empty; what is checked is
    where docs/replay.md's table, which classifies every one of them, says each is now, and that
    docs/replay-gaps.md names the same destination-``setup`` replays as explained and replayed."""
    text = (ROOT / "docs" / "replay.md").read_text(encoding="utf-8")
    assert len(_classified(text)) >= 20
    assert _table_problems(text, WHERE) == []
    gaps = sorted(WHERE["replay-model-gaps/"].glob("*.jsonl"))
    assert _model_runs(gaps) == [], "conform accepts these now: move them to traces/replayed and say so in the docs"
    capsys.readouterr()
    setup_row = {name for name, what, _, _ in _classified(text) if "`setup -> failed`" in what}
    gaps_doc = (ROOT / "docs" / "replay-gaps.md").read_text(encoding="utf-8")
    explained = gaps_doc.split("## The destination's `setup` fix", 1)[1]
    explained = explained.split("are in `tests/fixtures/traces/replayed/`:", 1)[1].split(". ", 1)[0]
    named = {name for entry in re.findall(r"`([^`]+)`", explained) for name in _expand(entry)}
    assert named == setup_row and len(named) == 7, (named, setup_row)


def test_the_gap_table_check_fails_on_a_wrong_table_or_a_fixed_gap(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    text = (ROOT / "docs" / "replay.md").read_text(encoding="utf-8")
    # the missed windows said to be in traces/replayed
    moved = text.replace("| conform accepts; `replay-divergences/` |", "| conform accepts; `traces/replayed/` |")
    assert moved != text
    problems = _table_problems(moved, WHERE)
    assert len(problems) == 4 and all("qemu-11.1-shared-disk" in p for p in problems), problems
    assert _table_problems(text.replace("The 20 replays", "The 21 replays"), WHERE) == [
        "the text counts 21 replays, the table lists 20"]
    # a trace in the model gaps the table does not list, and one that conform accepts
    gaps = tmp_path / "replay-model-gaps"
    gaps.mkdir()
    fixed = "cancel-waiting-for-shut-failing-first.qemu-11.1"
    shutil.copy(REPLAYED / f"{fixed}.jsonl", gaps / f"{fixed}.jsonl")
    assert _table_problems(text, {**WHERE, "replay-model-gaps/": gaps}) == [
        f"{fixed}: the table says ['traces/replayed/'], the trace is in ['traces/replayed/', 'replay-model-gaps/']",
        f"{fixed}: in replay-model-gaps/ but not in the table"]
    # the 11.1 source `completed` after `failing`: no run of the model; a replay that missed a step
    rejected = _edited(REPLAYED / f"{fixed}.jsonl", tmp_path, "failing", "completed")
    diverged = REPLAYED / "qemu-10.2.no-split-brain.jsonl"  # took 10.2's no-op branch: a step never showed
    assert _meta(diverged)["replay"]["divergence"]
    assert _model_runs([gaps / f"{fixed}.jsonl", rejected, diverged]) == [fixed]
    capsys.readouterr()


# ---------------------------------------------------------------------------------------------
# The report's coverage line


def test_coverage_lines_come_from_the_fixtures(tmp_path: Path) -> None:
    line = seen_on_real_qemu("qemu-11.1", "no-split-brain")
    assert line.startswith("seen on real QEMU:") and "cancel-waiting-for-shut" in line
    assert seen_on_real_qemu("qemu-10.0.5", "no-vm-loss") == "not replayed: no QEMU 10.0.5 binary here"
    assert seen_on_real_qemu("qemu-10.0", "no-split-brain").startswith("seen on real QEMU: 10.0.2 -> 10.0.2")
    assert seen_on_real_qemu("qemu-10.0", "no-vm-loss").startswith("not replayed yet")
    missed = seen_on_real_qemu("qemu-11.1-shared-disk", "no-rollback")
    assert missed.startswith("replayed, window missed") and "fault: dst-crash" in missed, missed
    assert "dirty-bitmap" in seen_on_real_qemu("qemu-10.2-bitmaps-only", "no-vm-loss")
    assert seen_on_real_qemu("qemu-11.1", "dst-pauses-only-after-run").startswith("not replayed: no recording")
    # the same trace with its verdict flipped: no longer "seen"
    src = REPLAYED / "cancel-waiting-for-shut.qemu-11.1.jsonl"
    lines = src.read_text(encoding="utf-8").splitlines()
    meta = json.loads(lines[0])
    meta["meta"]["observed_violation"] = False
    (tmp_path / "x.jsonl").write_text("\n".join([json.dumps(meta), *lines[1:]]) + "\n", encoding="utf-8")
    assert seen_on_real_qemu("qemu-11.1", "no-split-brain", root=tmp_path).startswith("not seen on real QEMU")
    assert seen_on_real_qemu("qemu-11.1", "no-rollback", root=tmp_path).startswith("not replayed yet")
    (tmp_path / "y.jsonl").write_text('{"meta": {"scenario": "postcopy_ok"}}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="not a replay trace"):
        replays(tmp_path)


def test_report_shows_the_real_qemu_line(tmp_path: Path) -> None:
    assert migmodel(["report", "--quiet", "--config", "qemu-11.1", "--out", str(tmp_path / "r")]) == 0
    page = (tmp_path / "r" / "configs" / "qemu-11.1.md").read_text(encoding="utf-8")
    assert "**Real QEMU:** seen on real QEMU: 11.1.3 -> 11.1.3, `tests/fixtures/traces/replayed/" in page


# ---------------------------------------------------------------------------------------------
# The mapping of model steps (migmodel replay --plan) and bad input


def _plan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = migmodel(["replay", *args, "--plan"])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_plan_holds_shut_for_the_cancel(capsys: pytest.CaptureFixture[str]) -> None:
    """The fixture's counterexample was recorded when ``migrate_cancel`` was one model step; it is
    replayed as today's two (the return path's shutdown, then the CAS), with the same command."""
    code, out = _plan(capsys, "--counterexample", str(REPLAYED / "cancel-waiting-for-shut.qemu-11.1.jsonl"))
    assert code == 0, out
    assert ("qmp            src/qmp: migrate_cancel: shut the return path down  [when src device, dst completed; "
            "holding SHUT(0x0)]") in out
    assert "internal       src/main: migration_cancel: cancelling  [shows src MIGRATION cancelling]" in out


def test_plan_blocks_the_destination_after_pong(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _plan(capsys, "--config", "qemu-11.1", "--property", "fault-free-runs-finish")
    assert code == 0
    assert "shim: block the destination's writer after PONG(0x42)" in out
    assert "src/qmp: migrate-pause  [when src postcopy-active, dst postcopy-device]" in out


def test_plan_holds_the_main_stream_when_the_destination_read_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _plan(capsys, "--config", "qemu-10.2", "--property", "rp-error-ends-postcopy-device")
    assert code == 0
    assert "hold the main stream" in out and "guest idle" in out


def test_plan_waits_out_7_2_postcopy_start_and_knows_the_connection_is_gone() -> None:
    """7.2's postcopy_start ends with no event after releasing the BQL: the next command waits
    0.1 s. A step after the model's connection broke lets a destination that read nothing have
    failed already (``link_down``)."""
    from harness.replay import plan_from_steps

    gone = REPLAYED / "qemu-7.2.no-stuck-state.jsonl"
    plan = plan_from_steps("qemu-7.2", "no-stuck-state", _meta(gone)["replays"]["steps"])
    pause = next(s for s in plan.steps if s.text == "src/qmp: migrate-pause")
    cancel = next(s for s in plan.steps if s.text == "src/qmp: migrate_cancel")
    assert plan.hold_main and pause.after_s == 0.1 and not pause.link_down
    assert cancel.after_s == 0.0 and cancel.link_down


def test_plan_not_mappable(capsys: pytest.CaptureFixture[str]) -> None:
    assert _plan(capsys, "--config", "qemu-10.0.5", "--property", "no-vm-loss")[0] == 3
    assert _plan(capsys, "--config", "qemu-10.2-bitmaps-only", "--property", "no-vm-loss")[0] == 3


def test_replay_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--config", "nope", "--property", "no-vm-loss"],
                 ["--config", "qemu-11.1", "--property", "nope"],
                 ["--config", "qemu-11.1"],
                 ["--config", "qemu-11.1", "--property", "completed-via-postcopy-active"],  # holds
                 ["--counterexample", str(tmp_path / "missing.json")],
                 ["--window", "nope"]):
        code = migmodel(["replay", *args, "--plan"])
        err = capsys.readouterr().err
        assert code == 2, args
        assert len(err.strip().splitlines()) == 1, err
    script = tmp_path / "cx.txt"
    script.write_text("src/qmp: migrate\nsrc/mig: no such step\n", encoding="utf-8")
    assert migmodel(["replay", "--counterexample", str(script), "--config", "qemu-11.1",
                     "--property", "no-split-brain", "--plan"]) == 2
    assert "not enabled" in capsys.readouterr().err


def test_replay_reads_verify_json_and_replay_traces(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert migmodel(["verify", "--config", "qemu-11.1", "--property", "no-split-brain", "--json"]) == 1
    out = tmp_path / "v.json"
    out.write_text(capsys.readouterr().out, encoding="utf-8")
    assert _plan(capsys, "--counterexample", str(out))[0] == 0
    code, text = _plan(capsys, "--counterexample", str(REPLAYED / "pause-before-run.qemu-11.1.jsonl"))
    assert code == 0 and "fault-free-runs-finish" in text


# ---------------------------------------------------------------------------------------------
# The judges, on raw trace lines


def test_judges_cover_the_judged_properties() -> None:
    pytest.importorskip("qemu.qmp")
    from harness.replay import JUDGES

    assert set(JUDGES) == JUDGED


def _outcome(lines: list[dict[str, Any]], hang_s: float = 8.0) -> Any:
    from harness.replay import Outcome

    return Outcome(lines, hang_s, [], max(float(ln.get("t", 0)) for ln in lines) + 0.01)


def _ev(side: str, t: float, event: str, status: str | None = None) -> dict[str, Any]:
    line: dict[str, Any] = {"side": side, "event": event, "t": t}
    if status:
        line["data"] = {"status": status}
    return line


def _status(side: str, t: float, run: str) -> dict[str, Any]:
    return {"side": side, "command": "query-status", "return": {"status": run, "running": run == "running"}, "t": t}


def test_split_brain_judge() -> None:
    pytest.importorskip("qemu.qmp")
    from harness.replay import JUDGES

    both = [_ev("src", 1, "MIGRATION", "cancelled"), _ev("dst", 1, "MIGRATION", "completed"),
            _status("src", 5, "running"), _status("dst", 5, "running")]
    assert JUDGES["no-split-brain"](_outcome(both))[0] is True
    one = [*both[:2], _status("src", 5, "postmigrate"), _status("dst", 5, "running")]
    assert JUDGES["no-split-brain"](_outcome(one))[0] is False
    gone = [*both, {"side": "dst", "exit": -9, "t": 4}]
    assert JUDGES["no-split-brain"](_outcome(gone))[0] is False


def test_stuck_judge_needs_the_whole_window() -> None:
    pytest.importorskip("qemu.qmp")
    from harness.replay import JUDGES, Outcome

    lines = [_ev("src", 1, "MIGRATION", "postcopy-device"), _ev("dst", 1.1, "MIGRATION", "postcopy-device"),
             _status("src", 9.5, "finish-migrate"), _status("dst", 9.5, "inmigrate")]
    assert JUDGES["no-stuck-state"](Outcome(lines, 8.0, [], 9.6))[0] is True
    assert JUDGES["no-stuck-state"](Outcome(lines, 8.0, [], 4.0))[0] is False  # watched too briefly
    done = [*lines, _ev("src", 2, "MIGRATION", "failed"), {"side": "dst", "exit": 1, "t": 2}]
    assert JUDGES["no-stuck-state"](Outcome(done, 8.0, [], 9.6))[0] is False


def test_vm_loss_and_rollback_judges() -> None:
    pytest.importorskip("qemu.qmp")
    from harness.replay import JUDGES

    lost = [_ev("src", 1, "MIGRATION", "postcopy-active"), _ev("src", 1.2, "MIGRATION", "postcopy-paused"),
            {"side": "dst", "exit": -9, "t": 1.1}, _status("src", 9.5, "finish-migrate")]
    assert JUDGES["no-vm-loss"](_outcome(lost))[0] is True
    resumed = [*lost[:1], _ev("src", 1.2, "MIGRATION", "failed"), _ev("src", 1.2, "RESUME"),
               lost[2], _status("src", 9.5, "running")]
    assert JUDGES["no-vm-loss"](_outcome(resumed))[0] is False
    assert JUDGES["no-rollback"](_outcome(resumed))[0] is False  # the destination never ran
    ran = [_ev("dst", 1.0, "RESUME"), *resumed]
    assert JUDGES["no-rollback"](_outcome(ran))[0] is True


# ---------------------------------------------------------------------------------------------
# The fault proxy's return-path frames (loopback, no QEMU)


async def _proxy_run(rules: list[FrameRule], dst_sends: list[bytes], *, release_after: float | None = None,
                     close_dst: bool = False) -> tuple[bytes, FaultProxy]:
    conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    ready = asyncio.Event()

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        conns.append((r, w))
        ready.set()

    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    proxy = FaultProxy(server.sockets[0].getsockname()[1], parse_rp=True)
    for rule in rules:
        proxy.add_rule(rule)
    port = await proxy.start()
    try:
        src_r, src_w = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.wait_for(ready.wait(), 5)
        _, dst_w = conns[0]
        for chunk in dst_sends:
            dst_w.write(chunk)
            await dst_w.drain()
            await asyncio.sleep(0.02)
        if close_dst:
            dst_w.close()
        if release_after is not None:
            await asyncio.sleep(release_after)
            proxy.release()
        got = b""
        try:
            while True:
                data = await asyncio.wait_for(src_r.read(1000), 0.5)
                if not data:
                    got += b"<EOF>"
                    break
                got += data
        except TimeoutError:
            pass
        src_w.close()
        return got, proxy
    finally:
        await proxy.close()
        server.close()


SHUT0, PONG1, PONG42, PONG4 = rp_frame("SHUT", 0), rp_frame("PONG", 1), rp_frame("PONG", 0x42), rp_frame("PONG", 4)


def test_proxy_holds_a_frame_and_what_follows_until_released() -> None:
    fired: list[dict[str, Any]] = []
    got, proxy = asyncio.run(_proxy_run([FrameRule("SHUT", "hold", 0, callback=fired.append)],
                                        [PONG1, SHUT0], close_dst=True))
    assert got == PONG1  # SHUT(0) and the EOF behind it are held
    assert [e["fate"] for e in proxy.rp_log] == ["forwarded", "held"] and fired
    got, proxy = asyncio.run(_proxy_run([FrameRule("SHUT", "hold", 0)], [PONG1, SHUT0], release_after=0.1,
                                        close_dst=True))
    assert got == PONG1 + SHUT0 + b"<EOF>"
    assert proxy.rp_log[-1]["fate"] == "released"


def test_proxy_drops_one_frame_or_everything_from_it() -> None:
    # a frame split across two writes, and two frames in one write, are still cut correctly
    got, proxy = asyncio.run(_proxy_run([FrameRule("PONG", "drop", 0x42)], [PONG1[:3], PONG1[3:] + PONG42 + PONG4]))
    assert got == PONG1 + PONG4
    assert [(e["value"], e["fate"]) for e in proxy.rp_log] == [(1, "forwarded"), (0x42, "dropped"), (4, "forwarded")]
    got, _ = asyncio.run(_proxy_run([FrameRule("PONG", "drop-from", 0x42)], [PONG1, PONG42, PONG4]))
    assert got == PONG1
    got, _ = asyncio.run(_proxy_run([FrameRule("PONG", "drop", 0x43)], [PONG1, PONG42]))
    assert got == PONG1 + PONG42  # the rule names another value: nothing dropped


async def _reset_run(*, hold_main: bool, hold_shut: bool = False) -> tuple[bytes, bytes, FaultProxy]:
    """A source and a destination through the proxy. The destination sends PONG(1) (and SHUT(0)),
    the source sends some bytes; then the side under test goes away with an RST: the destination
    (``hold_main`` false) or the source (``hold_main`` true, the main stream held). Returns what
    the source and the destination read, ``<RST>`` for a reset, ``<EOF>`` for an orderly close."""
    conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    ready = asyncio.Event()

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        conns.append((r, w))
        ready.set()

    async def read_all(r: asyncio.StreamReader) -> bytes:
        got = b""
        try:
            while True:
                data = await asyncio.wait_for(r.read(1000), 0.5)
                if not data:
                    return got + b"<EOF>"
                got += data
        except ConnectionResetError:
            return got + b"<RST>"
        except TimeoutError:
            return got

    def rst(w: asyncio.StreamWriter) -> None:
        import socket
        import struct
        w.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        w.transport.abort()

    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    proxy = FaultProxy(server.sockets[0].getsockname()[1], parse_rp=True)
    proxy.hold_main = hold_main
    if hold_shut:
        proxy.add_rule(FrameRule("SHUT", "hold", 0))
    port = await proxy.start()
    try:
        src_r, src_w = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.wait_for(ready.wait(), 5)
        dst_r, dst_w = conns[0]
        dst_w.write(PONG1 + (SHUT0 if hold_shut else b""))
        src_w.write(b"main stream bytes")
        await dst_w.drain()
        await src_w.drain()
        await asyncio.sleep(0.1)
        if hold_main:
            rst(src_w)
            return b"", await read_all(dst_r), proxy
        await dst_r.read(100)  # the destination read what the source sent, then it resets
        await asyncio.sleep(0.05)
        rst(dst_w)
        got_src = await read_all(src_r)
        if hold_shut:
            proxy.release()
            got_src += await read_all(src_r)
        return got_src, b"", proxy
    finally:
        await proxy.close()
        server.close()


def test_proxy_passes_a_reset_on() -> None:
    """A QEMU that exits or is killed with unread bytes resets its connection: the other side
    gets an RST, as on a direct connection (a swallowed reset left a source waiting for ever)."""
    got_src, _, _ = asyncio.run(_reset_run(hold_main=False))
    assert got_src == PONG1 + b"<RST>"
    got_src, _, _ = asyncio.run(_reset_run(hold_main=False, hold_shut=True))
    assert got_src == PONG1 + SHUT0 + b"<RST>"  # behind the held frame, after it


def test_proxy_loses_the_held_main_stream_when_the_source_goes() -> None:
    """The main stream held (the destination has read nothing), the source resets: the held
    bytes are lost, as the model's broken connection loses what is in flight, and the
    destination gets the reset."""
    _, got_dst, proxy = asyncio.run(_reset_run(hold_main=True))
    assert got_dst == b"<RST>"
    assert proxy.dropped_main_bytes == len(b"main stream bytes")


def test_frame_rule_rejects_unknown_names() -> None:
    with pytest.raises(ValueError):
        FrameRule("PING", "hold")
    with pytest.raises(ValueError):
        FrameRule("PONG", "lose")


# ---------------------------------------------------------------------------------------------
# The LD_PRELOAD shim and the option ROM


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="no C compiler")
def test_shim_blocks_the_writer_right_after_the_frame(tmp_path: Path) -> None:
    from harness.shim import Shim, build

    shim = Shim(build(tmp_path), PONG42, "block", tmp_path / "fired", tmp_path / "release")
    code = ("import os, sys, time\n"
            f"os.write(1, {PONG1!r})\nos.write(1, b'xx' + {PONG42!r} + b'yy')\n"
            "sys.stderr.write(f'{time.monotonic()}'); os.write(1, b'after')\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **shim.env()})
    try:
        for _ in range(500):
            if shim.fired:
                break
            subprocess.run(["sleep", "0.01"], check=True)
        assert shim.fired
        assert proc.poll() is None  # blocked after writing the frame
        shim.let_go()
        out, _ = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert out == PONG1 + b"xx" + PONG42 + b"yy" + b"after"


def test_option_rom_is_a_valid_legacy_rom() -> None:
    rom = image()
    assert len(rom) == SIZE and rom[:3] == b"\x55\xaa\x01" and sum(rom) % 256 == 0
    assert rom[3] == 0xEB  # jmp short to the loop
    assert rom[0x18:0x1C] == b"\x00" * 4  # no PCI data structure, no PnP header
    assert PAGES * 4096 == 0x80000 - 0x20000
