"""Offline checks of the real-QEMU traces in tests/fixtures/traces (no QEMU needed).

* every fixture parses, starts with a meta line and follows harness/TRACE_FORMAT.md;
* the MIGRATION sequences of the key scenarios are the ones docs/real-qemu.md reports for real
  QEMU 7.2.22 and 11.1.3 (held as data in harness/expected.py, which must equal the document's
  tables);
* a few findings of real-qemu.md hold in the traces (postcopy-device only on 11.1, the split
  brain of h, 11.1 refusing migrate_cancel in postcopy, ...);
* the README table is the one generated from the traces.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.expected import REAL_QEMU_MD, expected
from harness.traces import Trace, load, readme_table

TRACES = Path(__file__).parent / "fixtures" / "traces"
FILES = sorted(p for p in TRACES.glob("*/*.jsonl")
               if p.parent.name not in ("qemu-qtest", "replayed"))  # those: test_qtest.py, test_replay.py
VARIANTS = sorted(TRACES.glob("variants/*/*.jsonl"))
PAIRINGS = ["7.2-to-7.2", "11.1-to-11.1", "11.1-to-7.2", "7.2-to-11.1"]

#: Statuses of QAPI MigrationStatus in 7.2 .. 11.1.
STATUSES = {
    "none", "setup", "cancelling", "cancelled", "active", "postcopy-active", "postcopy-paused",
    "postcopy-recover-setup", "postcopy-recover", "completed", "failed", "colo", "pre-switchover",
    "device", "wait-unplug", "postcopy-device", "failing",
}  # fmt: skip

#: Scenarios whose sequences must equal real-qemu.md on every pairing that has them. These are
#: driven deterministically (a fault long before or long after the race windows); the others
#: are too, but are listed explicitly so that a new, timing-sensitive scenario does not join by
#: accident.
KEY_SCENARIOS = [
    "precopy_ok", "postcopy_ok", "a_kill_dst_after_start_postcopy", "a2_kill_dst_in_postcopy_active",
    "a3_kill_dst_on_postcopy_device_event", "b_pause_recover", "c_cancel_precopy", "c2_cancel_postcopy",
    "d_devload_fail_postcopy", "d2_devload_fail_precopy", "d3_devload_fail_postcopy_noexit",
    "d4_ram_size_mismatch", "e_kill_dst_precopy", "f_kill_src_postcopy",
    "g_dst_pause_while_src_postcopy_device", "h_partition_lost_pong", "h_partition_lost_pong_shared_disk",
]  # fmt: skip


def _id(p: Path) -> str:
    return f"{p.parent.name}/{p.stem}"


def _trace(pairing: str, scenario: str) -> Trace:
    path = TRACES / pairing / f"{scenario}.jsonl"
    if not path.exists():
        pytest.skip(f"no fixture {pairing}/{scenario}")
    return load(path)


def test_fixtures_present() -> None:
    assert FILES, "no traces under tests/fixtures/traces"
    for pairing in PAIRINGS:
        assert (TRACES / pairing).is_dir(), pairing
        assert len(list((TRACES / pairing).glob("*.jsonl"))) >= 15, pairing


@pytest.mark.parametrize("path", FILES + VARIANTS, ids=_id)
def test_trace_well_formed(path: Path) -> None:
    tr = load(path)
    meta = tr.meta
    for key in ("src_version", "dst_version", "capabilities", "shared_disk", "scenario",
                "exit_on_error", "autostart"):  # fmt: skip
        assert key in meta, key
    assert meta["scenario"] == path.stem.split(".")[0]
    assert meta.get("ok") is True
    src_short = ".".join(meta["src_version"].split(".")[:2])
    dst_short = ".".join(meta["dst_version"].split(".")[:2])
    assert path.parent.name == f"{src_short}-to-{dst_short}"
    assert set(meta["capabilities"]) >= {"events", "postcopy-ram", "return-path"}
    assert meta["shared_disk"] == meta["scenario"].endswith("_shared_disk")

    markers = [i for i, ln in enumerate(tr.lines) if ln["side"] == "harness" and ln.get("teardown") is True]
    assert len(markers) >= 1
    first = markers[0]
    assert all(ln.get("teardown") is True for ln in tr.lines[first:])
    assert not any(ln.get("teardown") for ln in tr.lines[:first])

    last_t = -1.0
    for ln in tr.lines:
        assert isinstance(ln["t"], float | int) and ln["t"] >= last_t, ln
        last_t = ln["t"]
        if "event" in ln:
            assert ln["side"] in ("src", "dst")
            assert isinstance(ln["event"], str) and ln["event"].isupper()
            ts = ln["timestamp"]
            assert isinstance(ts["seconds"], int) and isinstance(ts["microseconds"], int)
            assert ln["event"] != "MIGRATION_PASS"
            if ln["event"] == "MIGRATION":
                assert ln["data"]["status"] in STATUSES
        elif "command" in ln:
            assert ln["side"] in ("src", "dst")
            assert ("return" in ln) != ("error" in ln), ln
            if "error" in ln:
                assert set(ln["error"]) == {"class", "desc"}
        elif "exit" in ln:
            assert ln["side"] in ("src", "dst") and isinstance(ln["exit"], int)
        elif "stderr_tail" in ln:
            assert ln["side"] in ("src", "dst") and isinstance(ln["stderr_tail"], list)
        else:
            assert ln["side"] == "harness", ln
            assert {"fault", "teardown", "note"} & set(ln), ln
    # Every run starts with migrate on the source and a MIGRATION setup on both sides.
    assert tr.migration_statuses("src")[:1] == ["setup"]
    assert tr.migration_statuses("dst")[:1] == ["setup"]


#: Key scenarios and pairings for which docs/real-qemu.md has no row: a3 needs an 11.1
#: source (its hook waits for the source's postcopy-device event), d3 an 11.1 destination
#: (exit-on-error=false), and the shared-disk h was run by hand on 7.2 and 11.1 only. Listed so that
#: a gap cannot appear (or a row go missing) silently.
NO_DOC_ROW = {
    ("7.2-to-7.2", "a3_kill_dst_on_postcopy_device_event"), ("7.2-to-11.1", "a3_kill_dst_on_postcopy_device_event"),
    ("7.2-to-7.2", "d3_devload_fail_postcopy_noexit"), ("11.1-to-7.2", "d3_devload_fail_postcopy_noexit"),
    ("11.1-to-7.2", "h_partition_lost_pong_shared_disk"), ("7.2-to-11.1", "h_partition_lost_pong_shared_disk"),
}  # fmt: skip
DOCUMENTED = [(p, s) for p in PAIRINGS for s in KEY_SCENARIOS if expected(p, s) is not None]

#: docs/real-qemu.md: its per-pairing "State sequences" tables, and the h row of its shared-disk table
#: (the only shared-disk scenario the harness records).
REAL_QEMU_DOC = Path(__file__).resolve().parents[1] / "docs" / "real-qemu.md"
_LABELS = {"7.2.22": "7.2-to-7.2", "11.1.3": "11.1-to-11.1", "11.1.3 → 7.2.22": "11.1-to-7.2",
           "7.2.22 → 11.1.3": "7.2-to-11.1"}  # fmt: skip


def _statuses(cell: str) -> str:
    return " ".join(re.sub(r"\[on quit:[^]]*\]", "", cell).replace("→", " ").split())


def _doc_sequences() -> dict[str, dict[str, tuple[str, str]]]:
    out: dict[str, dict[str, tuple[str, str]]] = {}
    section = ""
    for line in REAL_QEMU_DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            section = line.lstrip("#").strip()
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("| ") else []
        heading = section.split(" (")[0]
        if heading in _LABELS and len(cells) == 6 and cells[0] != "scenario":
            out.setdefault(_LABELS[heading], {})[cells[0]] = (_statuses(cells[1]), _statuses(cells[2]))
        elif section.startswith("With one raw disk image") and len(cells) == 6 and cells[1] == "h_partition_lost_pong":
            row = (_statuses(cells[2]), _statuses(cells[3]))
            out.setdefault(_LABELS[cells[0]], {})[cells[1] + "_shared_disk"] = row
    return out


def test_expected_sequences_are_the_documents() -> None:
    """harness/expected.py holds exactly the sequences of docs/real-qemu.md's tables."""
    assert _doc_sequences() == REAL_QEMU_MD


def test_every_key_scenario_is_documented_or_a_known_gap() -> None:
    missing = {(p, s) for p in PAIRINGS for s in KEY_SCENARIOS if expected(p, s) is None}
    assert missing == NO_DOC_ROW


@pytest.mark.parametrize(("pairing", "scenario"), DOCUMENTED, ids=[f"{p}-{s}" for p, s in DOCUMENTED])
def test_sequences_match_real_qemu_md(pairing: str, scenario: str) -> None:
    want = expected(pairing, scenario)
    assert want is not None
    tr = _trace(pairing, scenario)
    assert (tr.migration_statuses("src"), tr.migration_statuses("dst")) == want


def test_expected_table_covers_catalogue() -> None:
    assert set(REAL_QEMU_MD) == set(PAIRINGS)
    assert "postcopy_ok" in REAL_QEMU_MD["11.1-to-11.1"]


def test_postcopy_ok_11_1_sequence() -> None:
    tr = _trace("11.1-to-11.1", "postcopy_ok")
    assert tr.migration_statuses("src") == [
        "setup", "active", "device", "postcopy-device", "postcopy-active", "completed"
    ]  # fmt: skip
    assert tr.migration_statuses("dst") == [
        "setup", "active", "postcopy-device", "postcopy-active", "completed"
    ]  # fmt: skip
    # STOP comes before device on the 11.1 source.
    names = [(ln["event"], ln.get("data", {}).get("status")) for ln in tr.events("src")]
    assert names.index(("STOP", None)) < names.index(("MIGRATION", "device"))


def test_postcopy_device_only_on_new_sides() -> None:
    for path in FILES:
        tr = load(path)
        for side, version in (("src", tr.meta["src_version"]), ("dst", tr.meta["dst_version"])):
            if version.startswith("7.2"):
                assert "postcopy-device" not in tr.migration_statuses(side), path
                assert "device" not in tr.migration_statuses(side), path


def test_7_2_source_postcopy_active_before_stop() -> None:
    tr = _trace("7.2-to-7.2", "postcopy_ok")
    names = [(ln["event"], ln.get("data", {}).get("status")) for ln in tr.events("src")]
    assert names.index(("MIGRATION", "postcopy-active")) < names.index(("STOP", None))


@pytest.mark.parametrize("pairing", ["11.1-to-11.1", "11.1-to-7.2"])
def test_h_split_brain_on_11_1_source(pairing: str) -> None:
    """real-qemu.md finding 7: PONG lost then reset: both VMs end up running."""
    tr = _trace(pairing, "h_partition_lost_pong")
    assert tr.faults() == ["drop-dst-to-src", "reset"]
    assert tr.migration_statuses("src")[-2:] == ["failing", "failed"]
    assert tr.final_query("src", "query-status")["status"] == "running"
    assert tr.final_query("dst", "query-status")["status"] == "running"


def test_h_shared_disk_prevents_split_brain_11_1() -> None:
    tr = _trace("11.1-to-11.1", "h_partition_lost_pong_shared_disk")
    assert tr.migration_statuses("src")[-2:] == ["failing", "failed"]
    assert tr.final_query("src", "query-status")["status"] != "running"
    assert tr.final_query("dst", "query-status")["status"] == "running"


def test_11_1_refuses_cancel_in_postcopy() -> None:
    tr = _trace("11.1-to-11.1", "c2_cancel_postcopy")
    cancels = [ln for ln in tr.body() if ln.get("command") == "migrate_cancel"]
    assert len(cancels) == 1 and "error" in cancels[0]
    assert "cannot cancel" in cancels[0]["error"]["desc"]
    assert tr.migration_statuses("src")[-1] == "completed"


def test_7_2_accepts_cancel_in_postcopy() -> None:
    tr = _trace("7.2-to-7.2", "c2_cancel_postcopy")
    cancels = [ln for ln in tr.body() if ln.get("command") == "migrate_cancel"]
    assert len(cancels) == 1 and "return" in cancels[0]
    assert tr.final_query("src", "query-status")["status"] == "postmigrate"


@pytest.mark.parametrize("pairing", ["11.1-to-11.1", "11.1-to-7.2"])
def test_11_1_source_restarts_after_failure_before_pong(pairing: str) -> None:
    """a3: the destination is killed before its PONG: the 11.1 source fails and RESUMEs."""
    tr = _trace(pairing, "a3_kill_dst_on_postcopy_device_event")
    assert tr.faults() == ["kill-dst"]
    assert tr.exited("dst") == -9
    src = [(ln["event"], ln.get("data", {}).get("status")) for ln in tr.events("src")]
    last_resume = max(i for i, e in enumerate(src) if e == ("RESUME", None))
    # RESUME (the source VM restarts) comes between failing and failed.
    assert src.index(("MIGRATION", "failing")) < last_resume < src.index(("MIGRATION", "failed"))
    assert tr.final_query("src", "query-status")["status"] == "running"


def test_d3_destination_stays_alive() -> None:
    tr = _trace("11.1-to-11.1", "d3_devload_fail_postcopy_noexit")
    assert tr.meta["exit_on_error"] is False
    assert tr.exited("dst") is None
    assert tr.final_query("dst", "query-migrate")["status"] == "failed"


def test_variant_h_7_2_dst_failed_before_resume() -> None:
    """A 7.2 destination emits postcopy-active before loading the device state: a reset 5 ms
    later can still make it fail without ever running its guest (see the README)."""
    tr = load(TRACES / "variants" / "11.1-to-7.2" / "h_partition_lost_pong.dst-failed.jsonl")
    assert tr.migration_statuses("dst") == ["setup", "active", "postcopy-active", "failed"]
    assert not tr.events("dst", "RESUME")
    assert tr.exited("dst") == 1
    assert tr.migration_statuses("src")[-2:] == ["failing", "failed"]
    assert tr.final_query("src", "query-status")["status"] == "running"


def test_readme_table_is_generated_from_traces() -> None:
    readme = (TRACES / "README.md").read_text()
    assert readme_table(TRACES) in readme
