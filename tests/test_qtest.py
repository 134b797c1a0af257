"""The migration-test recorder (harness/qtest_wrapper.py, harness/qtest_trace.py, harness/qtest.py).

* the wrapper, run as migration-test runs it (``sh -c "exec WRAPPER ARGS"``) around a stand-in QEMU:
  it passes other invocations through untouched, adds the trace options to a named instance,
  forwards SIGTERM, and ends with the child's status;
* the converter, on the raw files of a real recorded test (tests/fixtures/qtest-raw/), gives the
  committed trace, and refuses what cannot be one trace;
* every in-scope test has its trace in tests/fixtures/traces/qemu-qtest/, each names its QEMU test
  path and conforms to its named configuration; every test migration-test lists is in scope or out
  of scope with a reason.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from checker.cli import main as migmodel
from harness.qtest import PREFIX, load_scope, trace_name
from harness.qtest_trace import QtestTraceError, convert, load_instances, parse_log
from harness.qtest_wrapper import side_of, traced_args
from harness.traces import load

ROOT = Path(__file__).resolve().parents[1]
WRAPPER = ROOT / "harness" / "qtest_wrapper.py"
RAW = Path(__file__).parent / "fixtures" / "qtest-raw"
QTEST_TRACES = Path(__file__).parent / "fixtures" / "traces" / "qemu-qtest"
SCOPE = load_scope()

FAKE_QEMU = """#!/bin/sh
# stand-in for QEMU: writes its arguments, logs one trace line to the -D file, then waits or exits
echo "$@" > "$FAKE_ARGS"
log=""; prev=""
for a in "$@"; do [ "$prev" = "-D" ] && log="$a"; prev="$a"; done
[ -n "$log" ] && echo "2026-12-06T19:00:00.000001Z migrate_set_state new state setup" > "$log"
trap 'exit 0' TERM
if [ "$FAKE_MODE" = exit3 ]; then exit 3; fi
while :; do sleep 0.05; done
"""


def _fake(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    fake = tmp_path / "fake-qemu"
    fake.write_text(FAKE_QEMU)
    fake.chmod(0o755)
    out = tmp_path / "rec"
    out.mkdir()
    env = {**os.environ, "MIGMODEL_QTEST_QEMU": str(fake), "MIGMODEL_QTEST_DIR": str(out),
           "FAKE_ARGS": str(tmp_path / "args")}
    return out, env


def test_side_of() -> None:
    assert side_of(["-accel", "tcg", "-name", "source,debug-threads=on"]) == "src"
    assert side_of(["-name", "target,debug-threads=on", "-incoming", "defer"]) == "dst"
    assert side_of(["-machine", "help"]) is None
    assert side_of(["-name", "other"]) is None
    assert traced_args(Path("/x/src-1.log"))[:4] == ["-msg", "timestamp=on", "-D", "/x/src-1.log"]


def test_wrapper_passes_probes_through(tmp_path: Path) -> None:
    out, env = _fake(tmp_path)
    env["FAKE_MODE"] = "exit3"
    rc = subprocess.run(["sh", "-c", f"exec {WRAPPER} -machine help"], env=env, timeout=30).returncode
    assert rc == 3  # the fake's own status: exec'd, not wrapped
    assert (tmp_path / "args").read_text().split() == ["-machine", "help"]
    assert not list(out.iterdir())


def test_wrapper_records_forwards_sigterm_and_keeps_status(tmp_path: Path) -> None:
    out, env = _fake(tmp_path)
    proc = subprocess.Popen(["sh", "-c", f"exec {WRAPPER} -name target,debug-threads=on -incoming defer"],
                            env=env)
    deadline = time.monotonic() + 20
    while not (tmp_path / "args").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    args = (tmp_path / "args").read_text().split()
    assert args[:4] == ["-name", "target,debug-threads=on", "-incoming", "defer"]
    assert "-D" in args and "enable=migrate_set_state" in args
    proc.send_signal(signal.SIGTERM)  # what qtest_quit does
    assert proc.wait(timeout=20) == 0  # the child's status (it exits 0 on SIGTERM), not a signal death
    (rec_path,) = out.glob("dst-*.json")
    rec = json.loads(rec_path.read_text())
    assert rec["side"] == "dst" and rec["exit"] == 0 and rec["pid"] == proc.pid
    assert [s["signal"] for s in rec["signals"]] == [signal.SIGTERM]
    assert parse_log(Path(rec["log"]).read_text())[0][1:] == ("migrate_set_state", "new state setup")


def test_wrapper_exit_status_of_a_failing_instance(tmp_path: Path) -> None:
    out, env = _fake(tmp_path)
    env["FAKE_MODE"] = "exit3"
    rc = subprocess.run(["sh", "-c", f"exec {WRAPPER} -name source"], env=env, timeout=30).returncode
    assert rc == 3
    (rec_path,) = out.glob("src-*.json")
    assert json.loads(rec_path.read_text())["exit"] == 3


# ---------------------------------------------------------------------------------------------
# the converter, on a real recording

RAW_TESTS = sorted(d for d in RAW.iterdir() if d.is_dir()) if RAW.is_dir() else []


def test_raw_samples_present() -> None:
    assert RAW_TESTS, "no raw qtest recording under tests/fixtures/qtest-raw"


@pytest.mark.parametrize("raw", RAW_TESTS, ids=lambda p: p.name)
def test_converter_gives_the_committed_trace(raw: Path, tmp_path: Path) -> None:
    fixture = load(QTEST_TRACES / f"{raw.name}.jsonl")
    meta = fixture.meta
    lines = convert(raw, meta["qtest"], meta["src_version"], ok=meta["ok"], wall_s=meta["wall_s"])
    got = [json.loads(json.dumps(line)) for line in lines]
    want = [json.loads(ln) for ln in (QTEST_TRACES / f"{raw.name}.jsonl").read_text().splitlines()]
    got[0]["meta"].pop("recorded_at")
    want[0]["meta"].pop("recorded_at")
    assert got == want


def test_converter_refuses_two_targets(tmp_path: Path) -> None:
    raw = RAW_TESTS[0]
    for f in raw.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    dst = next(tmp_path.glob("dst-*.json"))
    (tmp_path / "dst-999999.json").write_text(dst.read_text())
    with pytest.raises(QtestTraceError, match="2 dst instance"):
        load_instances(tmp_path)
    with pytest.raises(QtestTraceError, match="not a wrapper record"):
        (tmp_path / "dst-999999.json").write_text("{}")
        load_instances(tmp_path)


# ---------------------------------------------------------------------------------------------
# the fixtures and the scope file

QTEST_FILES = sorted(QTEST_TRACES.glob("*.jsonl"))
GAPS = Path(__file__).parent / "fixtures" / "nonconforming" / "qemu-qtest"
GAP_FILES = sorted(GAPS.glob("*.jsonl"))
RACE = QTEST_TRACES / "races" / "cancel-src-after-cancelling.connect-after-cancel.jsonl"
"""A second recording of one test, in a race the committed fixture did not hit."""


def test_one_trace_per_in_scope_test() -> None:
    assert {p.name for p in QTEST_FILES} == {trace_name(t) for t in SCOPE.in_scope if t not in SCOPE.gaps}
    assert {p.name for p in GAP_FILES} == {trace_name(t) for t in SCOPE.gaps}
    assert set(SCOPE.gaps) <= set(SCOPE.in_scope)


def _qtest_meta(path: Path) -> str:
    tr = load(path)
    test = str(tr.meta["qtest"])
    assert test.startswith(PREFIX) and trace_name(test) == path.name
    assert tr.meta["ok"] is True, "the QEMU test itself failed in this recording"
    assert tr.meta["src_version"].startswith("10.2") and tr.meta["dst_version"].startswith("10.2")
    return test


@pytest.mark.parametrize("path", QTEST_FILES, ids=lambda p: p.stem)
def test_qtest_trace_conforms(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Accepted for the set-up the test made, and for the matching named configuration if any."""
    test = _qtest_meta(path)
    assert migmodel(["conform", str(path)]) == 0, capsys.readouterr().out
    named = SCOPE.in_scope[test]["named"]
    if named is not None:
        assert migmodel(["conform", "--config", named, str(path)]) == 0, capsys.readouterr().out


def _rejected(path: Path, capsys: pytest.CaptureFixture[str]) -> bool:
    """conform rejects the trace (exit 1, and says so): not a run of the model."""
    code = migmodel(["conform", str(path)])
    return code == 1 and "rejected" in capsys.readouterr().out


def test_known_model_gaps_are_still_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """harness/qtest_scope.json, model_gaps: real runs the model does not explain yet, kept in
    tests/fixtures/nonconforming/qemu-qtest/. When a model fix makes one conform, this fails: move
    the trace to traces/qemu-qtest and drop the gap. There is none today (the last three,
    cancel/src/after/{setup,cancelling,cancelled}, conform since the model's destination fails from
    ``setup`` on a connection closed before the channel magic), so the check is also run on one of
    those: as recorded (accepted, so no longer a gap) and with a 7.2 destination, which has no such
    failure (rejected, as a gap would be)."""
    for path in GAP_FILES:
        assert _qtest_meta(path) in SCOPE.gaps
    assert [path.name for path in GAP_FILES if not _rejected(path, capsys)] == []
    fixed = QTEST_TRACES / "cancel-src-after-setup.jsonl"
    assert not _rejected(fixed, capsys)
    lines = _lines(fixed.name)
    meta = lines[0]["meta"]
    assert isinstance(meta, dict)
    old_dst = tmp_path / fixed.name
    old_dst.write_text("".join(json.dumps(ln) + "\n" for ln in
                               [{"meta": {**meta, "dst_version": "7.2.22", "exit_on_error": True}}, *lines[1:]]))
    assert _rejected(old_dst, capsys)


def test_scope_covers_every_listed_test() -> None:
    listed = json.loads((ROOT / "harness" / "qtest_scope.json").read_text())["listed"]
    assert len(listed) >= 50
    for test in listed:
        assert (test in SCOPE.in_scope) != (SCOPE.reason(test) is not None), test
    for test, entry in SCOPE.in_scope.items():
        assert test in listed and "named" in entry, test
    assert set(SCOPE.ci) <= set(SCOPE.in_scope)


def test_qtest_cli_rejects_out_of_scope_and_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    assert migmodel(["qtest", "--test", "multifd/tcp/plain/zstd", "--build", "/nonexistent"]) == 2
    assert "out of the model's scope" in capsys.readouterr().err
    assert migmodel(["qtest", "--test", "no/such/test", "--build", "/nonexistent"]) == 2
    assert "not a known in-scope test" in capsys.readouterr().err
    assert migmodel(["qtest", "--list"]) == 0
    assert "out of scope" in capsys.readouterr().out



def test_precopy_only_recording_is_checked_with_the_precopy_model() -> None:
    from model.config import NAMED
    from properties.conformance import config_for

    c = config_for({"src_version": "10.2.2", "dst_version": "10.2.2", "capabilities": ["events"]})
    assert not (c.postcopy_ram or c.return_path or c.dirty_bitmaps) and not c.has_return_path
    named = NAMED["qemu-10.2-precopy"]
    assert not named.postcopy and not named.has_return_path and named.description


# ---------------------------------------------------------------------------------------------
# what the migration-test traces taught the model, checked on raw trace lines (each must fail when
# the behaviour is changed into one QEMU does not have)


def _lines(name: str) -> list[dict[str, object]]:
    return [json.loads(ln) for ln in (QTEST_TRACES / name).read_text().splitlines()]


def _conform(lines: list[dict[str, object]], tmp_path: Path, *extra: str) -> int:
    out = tmp_path / "t.jsonl"
    out.write_text("".join(json.dumps(ln) + "\n" for ln in lines))
    return migmodel(["conform", *extra, str(out)])


def _index(lines: list[dict[str, object]], side: str, **match: object) -> int:
    return next(i for i, ln in enumerate(lines) if ln.get("side") == side
                and all(ln.get(k) == v for k, v in match.items()))


def test_events_turned_on_late(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """precopy/unix/plain: the destination's -incoming precedes its events capability, so no
    MIGRATION setup; every event after the capability is expected."""
    lines = _lines("precopy-unix-plain.jsonl")
    assert _conform(lines, tmp_path) == 0
    caps = _index(lines, "dst", command="migrate-set-capabilities")
    setup = {"side": "dst", "event": "MIGRATION", "data": {"status": "setup"}, "t": lines[caps]["t"]}
    # a MIGRATION event before the capability was on: impossible
    assert _conform([*lines[:caps], setup, *lines[caps:]], tmp_path) == 1
    # an event missing after it: rejected
    active = _index(lines, "dst", event="MIGRATION", data={"status": "active"})
    assert _conform(lines[:active] + lines[active + 1:], tmp_path) == 1
    # the capability turned on only after the destination's `active`: its `active` event is impossible
    t = float(lines[active]["t"]) + 0.01  # type: ignore[arg-type]
    moved = {**lines[caps], "t_sent": t, "t": t}
    assert _conform(lines[:caps] + lines[caps + 1:active + 1] + [moved] + lines[active + 1:], tmp_path) == 1
    capsys.readouterr()


def test_non_live_precopy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """precopy/tcp/plain: `stop` before `migrate`; the destination then stays paused until `cont`."""
    lines = _lines("precopy-tcp-plain.jsonl")
    assert _conform(lines, tmp_path, "--config", "qemu-10.2-precopy") == 0
    cont = _index(lines, "dst", command="cont")
    assert _conform(lines[:cont] + lines[cont + 1:], tmp_path) == 1  # RESUME without `cont`
    stop = _index(lines, "src", command="stop")
    assert _conform(lines[:stop] + lines[stop + 1:], tmp_path) == 1  # STOP without `stop`
    # a postcopy set-up has no non-live migration in the model (docs/qemu-qtest.md)
    assert _conform(lines, tmp_path, "--config", "qemu-10.2") == 1
    capsys.readouterr()


def test_destination_closed_before_the_magic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """cancel/src/after/setup: the destination goes setup -> failed without active (10.0+); a 7.2
    destination has no peek and cannot."""
    lines = _lines("cancel-src-after-setup.jsonl")
    assert _conform(lines, tmp_path) == 0
    meta = lines[0]["meta"]
    assert isinstance(meta, dict)
    old: list[dict[str, object]] = [{"meta": {**meta, "dst_version": "7.2.22", "exit_on_error": True}}, *lines[1:]]
    assert _conform(old, tmp_path) == 1
    # the failure needs a connection: not before the source's `migrate`
    failed = _index(lines, "dst", event="MIGRATION", data={"status": "failed"})
    migrate = _index(lines, "src", command="migrate")
    early = {**lines[failed], "t": float(lines[migrate]["t_sent"]) - 0.5}  # type: ignore[arg-type]
    assert _conform([*lines[:migrate], early, *lines[migrate:failed], *lines[failed + 1:]], tmp_path) == 1
    capsys.readouterr()


def test_a_held_main_stream_holds_the_close(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A replay whose proxy held the whole main stream also held the source's close: its 11.1
    destination stayed in `setup` (blocked in the peek) until the teardown. Without the proxy's
    hold the model makes that destination fail at once, and the trace is rejected."""
    path = ROOT / "tests" / "fixtures" / "traces" / "replayed" / "qemu-7.2-to-11.1.no-stuck-state.jsonl"
    lines = [json.loads(ln) for ln in path.read_text().splitlines()]
    assert _conform(lines, tmp_path) == 0
    meta = lines[0]["meta"]
    assert isinstance(meta, dict) and meta["replay"]["hold_main_stream"] is True
    unheld = {**meta, "replay": {**meta["replay"], "hold_main_stream": False}}
    assert _conform([{"meta": unheld}, *lines[1:]], tmp_path) == 1
    capsys.readouterr()


def test_a_connect_that_outlives_the_cancel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """docs/qemu-qtest.md, 'A cancel that completes before the connect does'. A real 10.2.2 run of
    cancel/src/after/cancelling (seen in CI's live run): the source's migration_cancel found no
    outgoing file and completed the cancel itself (setup -> cancelling -> cancelled within 26 us),
    and the pending connect still started the migration thread, which sent the header: the
    destination went active, then failed at the end of the stream. The model rejected it before
    the fix (exit 1 at the destination's ``active``); now it is a behaviour. Variants that must
    fail: the thread's SETUP -> ACTIVE succeeding after the cancel, and the same run from a 7.2
    source, whose cancel stays ``cancelling`` until the cleanup that closes the stream (so its
    ``cancelled`` cannot come before the destination read the header)."""
    lines = [json.loads(ln) for ln in RACE.read_text().splitlines()]
    tr = load(RACE)
    assert tr.migration_statuses("src") == ["setup", "cancelling", "cancelled"]
    assert tr.migration_statuses("dst") == ["setup", "active", "failed"]
    assert _conform(lines, tmp_path) == 0, capsys.readouterr().out
    active = _index(lines, "dst", event="MIGRATION", data={"status": "active"})
    src_active = {"side": "src", "event": "MIGRATION", "data": {"status": "active"},
                  "timestamp": lines[active]["timestamp"], "t": lines[active]["t"]}
    assert _conform([*lines[:active + 1], src_active, *lines[active + 1:]], tmp_path) == 1
    meta = lines[0]["meta"]
    assert isinstance(meta, dict)
    old_src = [{"meta": {**meta, "src_version": "7.2.22"}}, *lines[1:]]
    assert _conform(old_src, tmp_path) == 1
    out = capsys.readouterr().out
    assert out.count("rejected") == 2, out


def test_a_7_2_destination_accepts_a_channel_closed_before_its_first_read(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The race above between two 7.2s (read in 7.2's source, not yet seen on a real 7.2: the
    cancel must land before the TCP connect completes). The 7.2 source's cancel stays
    ``cancelling`` until the cleanup that closes the stream, so its ``cancelled`` comes before a
    destination that had not yet accepted the channel; 7.2 does not peek at the magic, so that
    destination still accepts it, goes ``active`` and fails (and exits: 7.2 has no exit-on-error).
    A 10.0+ destination fails without ``active`` instead (the test above)."""
    lines = [json.loads(ln) for ln in RACE.read_text().splitlines()]
    meta = lines[0]["meta"]
    assert isinstance(meta, dict)
    out: list[dict[str, object]] = [{"meta": {**meta, "src_version": "7.2.22", "dst_version": "7.2.22",
                                              "exit_on_error": True}}]
    for ln in lines[1:]:
        if ln.get("command") == "migrate-incoming":
            ln = {**ln, "arguments": {"uri": ln["arguments"]["uri"]}}
        out.append(ln)
        if ln.get("side") == "dst" and ln.get("data") == {"status": "failed"}:
            out.append({"side": "dst", "exit": 1, "t": float(ln["t"]) + 0.001})
    assert _conform(out, tmp_path) == 0, capsys.readouterr().out
    # without the destination's active (the 10.0+ shape) a 7.2 destination cannot fail
    active = _index(out, "dst", event="MIGRATION", data={"status": "active"})
    assert _conform([*out[:active], *out[active + 1:]], tmp_path) == 1
    capsys.readouterr()
