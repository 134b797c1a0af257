"""The model against QEMU: citations, the two drivers agreeing, and the sequences real QEMU emits."""

from __future__ import annotations

import dataclasses
import re
from collections import deque
from collections.abc import Callable
from functools import cache

import pytest

from model import config as C
from model.events import events
from model.machines import SideMachines, successors_via_machines
from model.status import MigrationStatus, RunState
from model.system import Action, all_rows, compile_rows, initial_states, is_final, successors
from model.world import World, src_running

CITATION = re.compile(r"^(migration|system|block|hw|monitor|util)/[\w/-]+\.c:\w+$|^block\.c:\w+$"
                      r"|^\((network|kill -9|storage)\)$")


def test_every_row_cites_its_qemu_function() -> None:
    missing = [r.name for r in all_rows() if not CITATION.match(r.qemu)]
    assert missing == [], f"rows without a QEMU file:function citation: {missing}"


def test_row_names_are_unique_per_side() -> None:
    seen: set[tuple[str, str]] = set()
    for r in all_rows():
        key = (r.side, r.name)
        assert key not in seen, key
        seen.add(key)


def test_statuses_are_the_qapi_strings() -> None:
    assert [s.value for s in MigrationStatus][:6] == [
        "none", "setup", "cancelling", "cancelled", "active", "postcopy-device"]
    assert MigrationStatus("failing") is MigrationStatus.FAILING
    assert MigrationStatus("wait-unplug") is MigrationStatus.WAIT_UNPLUG


@pytest.mark.parametrize("name", list(C.NAMED))
def test_transitions_machines_and_compiled_tables_agree(name: str) -> None:
    """Every reachable world: the ``transitions`` machines give exactly the compiled successors
    (with one fault per run: every fault row still fires, at a twentieth of the states)."""
    cfg = dataclasses.replace(C.NAMED[name], faults=C.Faults(total=1))
    comp = compile_rows(cfg)
    machines = SideMachines(cfg, comp)
    init = initial_states(cfg)[0]
    seen, queue = {init}, deque([init])
    while queue:
        w = queue.popleft()
        fast = successors(comp, w)
        assert successors_via_machines(machines, w) == fast
        for _, n in fast:
            if n not in seen:
                seen.add(n)
                queue.append(n)
    assert len(seen) > (1000 if cfg.postcopy else 500)  # a precopy-only configuration is smaller


def test_successors_do_not_mutate_the_world() -> None:
    cfg = C.NAMED["qemu-11.1"]
    comp = compile_rows(cfg)
    w = initial_states(cfg)[0]
    snapshot = tuple(w)
    for _ in range(30):
        succ = successors(comp, w)
        assert tuple(w) == snapshot
        w = succ[-1][1] if succ else w
        snapshot = tuple(w)


# ---------------------------------------------------------------------------------------------
# Status sequences. A "run" here is any path from the initial world to a final world, restricted
# to the actions allowed by ``allow``; we collect the MIGRATION sequences of every such run.

Seqs = frozenset[tuple[tuple[str, ...], tuple[str, ...]]]


def runs(cfg: C.Config, allow: Callable[[Action], bool], stop: Callable[[World], bool] = is_final) -> Seqs:
    comp = compile_rows(cfg)

    @cache
    def from_(w: World, depth: int) -> frozenset[tuple[tuple[str, ...], tuple[str, ...]]]:
        if stop(w) or depth > 80:
            return frozenset({((), ())}) if stop(w) else frozenset()
        out: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
        for a, n in successors(comp, w):
            if n == w or not allow(a):
                continue
            evs = events(cfg, w, a, n)
            s = tuple(e.status for e in evs if e.side == "src" and e.event == "MIGRATION")
            d = tuple(e.status for e in evs if e.side == "dst" and e.event == "MIGRATION")
            for rs, rd in from_(n, depth + 1):
                out.add((s + rs, d + rd))
        return frozenset(out)

    return from_(initial_states(cfg)[0], 0)


def postcopy_only(a: Action) -> bool:
    return a.actor != "fault" and (not a.actor.endswith("qmp") or a.name in (
        "migrate", "migrate-incoming", "migrate-start-postcopy"))


def postcopy_completed(w: World) -> bool:
    return is_final(w) and w.h_postcopy and w.s_status is MigrationStatus.COMPLETED


SRC_11 = ("setup", "active", "device", "postcopy-device", "postcopy-active", "completed")
DST_11 = ("setup", "active", "postcopy-device", "postcopy-active", "completed")
SRC_72 = ("setup", "active", "postcopy-active", "completed")
DST_72 = ("setup", "active", "postcopy-active", "completed")
SRC_100 = ("setup", "active", "device", "postcopy-active", "completed")

EXPECTED = {  # real-qemu.md: postcopy_ok per pairing; 10.0 from its own section
    "qemu-7.2": (SRC_72, DST_72),
    "qemu-10.0": (SRC_100, DST_72),
    "qemu-10.0.5": (SRC_100, DST_72),
    "qemu-10.0-shared-disk": (SRC_100, DST_72),
    "qemu-10.2-shared-disk": (SRC_11, DST_11),
    "qemu-11.1-to-7.2-shared-disk": (SRC_11, DST_72),
    "qemu-10.2": (SRC_11, DST_11),
    "qemu-11.1": (SRC_11, DST_11),
    "qemu-11.1-to-7.2": (SRC_11, DST_72),
    "qemu-7.2-to-11.1": (SRC_72, DST_11),
    "qemu-10.2-bitmaps-only": (SRC_100, DST_72),
    "qemu-10.2-bitmaps-return-path": (SRC_11, DST_11),
    "qemu-11.1-shared-disk": (SRC_11, DST_11),
    "qemu-11.1-preempt": (SRC_11, DST_11),
    "qemu-11.1-busy-guest": (SRC_11, DST_11),
    "qemu-10.2-busy-guest": (SRC_11, DST_11),
    "qemu-11.1-shared-disk-busy-guest": (SRC_11, DST_11),
    # recorded on 10.2.2 (tests/fixtures/traces/10.2-to-*/postcopy_ok.jsonl)
    "qemu-10.2-to-11.1": (SRC_11, DST_11),
    "qemu-11.1-to-10.2": (SRC_11, DST_11),
    "qemu-10.2-to-7.2": (SRC_11, DST_72),
    "qemu-7.2-to-10.2": (SRC_72, DST_11),
    "qemu-10.2-preempt": (SRC_11, DST_11),
    # precopy only (QEMU's migration-test precopy/unix/plain on 10.2.2,
    # tests/fixtures/traces/qemu-qtest/; its destination's `setup` is in meta.trace_states)
    "qemu-10.2-precopy": (("setup", "active", "device", "completed"), ("setup", "active", "completed")),
}


def test_every_named_configuration_has_an_expected_sequence() -> None:
    assert set(EXPECTED) == set(C.NAMED)


@pytest.mark.parametrize("name", list(C.NAMED))
def test_fault_free_postcopy_emits_what_real_qemu_emits(name: str) -> None:
    """Every fault-free postcopy run that completes emits exactly real QEMU's sequences (a
    precopy-only configuration: every fault-free precopy run)."""
    cfg = C.NAMED[name]
    if cfg.postcopy:
        seqs = runs(cfg, postcopy_only, postcopy_completed)
    else:
        seqs = runs(cfg, postcopy_only, lambda w: is_final(w) and w.s_status is MigrationStatus.COMPLETED)
    assert seqs == {EXPECTED[name]}, seqs


def _devload_then_no_faults(a: Action) -> bool:
    return postcopy_only(a) or a.name.startswith("device-load-failure")


def _ended(w: World) -> bool:
    """A run that can go no further without another fault or operator step."""
    return w.h_devload and w.h_postcopy and (is_final(w) or w.s_pc in ("done", "paused", "stuck", "wait-pong"))


def test_device_load_failure_on_11_1_fails_over_to_the_source() -> None:
    """real-qemu.md finding 3 (d_devload_fail_postcopy on 11.1): failing, failed, guest running."""
    seqs = runs(C.NAMED["qemu-11.1-busy-guest"], _devload_then_no_faults, lambda w: w.h_devload and is_final(w))
    srcs = {s for s, _ in seqs}
    assert ("setup", "active", "device", "postcopy-device", "failing", "failed") in srcs
    assert all(s[-2:] == ("failing", "failed") for s in srcs), srcs


def test_device_load_failure_on_11_1_resumes_the_source_guest() -> None:
    cfg = C.NAMED["qemu-11.1-busy-guest"]
    comp = compile_rows(cfg)
    finals = _reachable_finals(comp, cfg, _devload_then_no_faults)
    assert finals and all(src_running(w) for w in finals)


def test_device_load_failure_on_7_2_strands_the_source() -> None:
    """real-qemu.md finding 3: a 7.2 source goes postcopy-paused with its guest stopped."""
    cfg = C.NAMED["qemu-7.2"]
    comp = compile_rows(cfg)
    ends = _reachable(comp, cfg, _devload_then_no_faults, _ended)
    assert ends
    assert all(not src_running(w) for w in ends)
    assert any(w.s_status is MigrationStatus.POSTCOPY_PAUSED and w.s_run is RunState.FINISH_MIGRATE for w in ends)


def _reachable(comp: object, cfg: C.Config, allow: Callable[[Action], bool],
               keep: Callable[[World], bool]) -> list[World]:
    init = initial_states(cfg)[0]
    seen, queue, out = {init}, deque([init]), []
    while queue:
        w = queue.popleft()
        if keep(w):
            out.append(w)
        for a, n in successors(comp, w):  # type: ignore[arg-type]
            if allow(a) and n not in seen:
                seen.add(n)
                queue.append(n)
    return out


def _reachable_finals(comp: object, cfg: C.Config, allow: Callable[[Action], bool]) -> list[World]:
    return _reachable(comp, cfg, allow, lambda w: w.h_devload and is_final(w))


def test_lost_pong_then_reset_runs_both_guests_on_11_1() -> None:
    """real-qemu.md finding 7: PONG 0x42 lost, reset: source failing/failed and running,
    destination postcopy-paused and running."""
    cfg = C.NAMED["qemu-11.1"]
    comp = compile_rows(cfg)

    def allow(a: Action) -> bool:
        return postcopy_only(a) or a.name == "reset"

    both = _reachable(comp, cfg, allow, lambda w: src_running(w) and w.d_run is RunState.RUNNING
                      and w.d_status is MigrationStatus.POSTCOPY_PAUSED and w.s_status is MigrationStatus.FAILED)
    assert both
    shared = C.NAMED["qemu-11.1-shared-disk"]
    comp2 = compile_rows(shared)
    assert not _reachable(comp2, shared, allow, lambda w: src_running(w) and w.d_run is RunState.RUNNING)


def test_preempt_waits_for_a_pong_before_the_switchover() -> None:
    """postcopy-preempt: postcopy_start runs only after PONG 1 arrived, and fails (guest still
    running) if the return path dies before."""
    cfg = C.NAMED["qemu-11.1-preempt"]
    comp = compile_rows(cfg)
    names = {a.name for w in _reachable(comp, cfg, lambda a: True, lambda w: True) for a, _ in successors(comp, w)}
    assert "postcopy_start: preempt channel fails" in names
    switched = _reachable(comp, cfg, lambda a: True, lambda w: w.h_switched)
    assert switched and all(w.s_acked for w in switched)


def _dst_dies_before_the_package(a: Action) -> bool:
    return postcopy_only(a) or a.name == "dst-crash"


def test_10_0_5_fails_and_restarts_where_10_0_is_stranded_in_device() -> None:
    """real-qemu.md (QEMU 10.0.2): the destination killed between migrate-start-postcopy and the
    package strands a 10.0.2 source in `device`; 725a9e5f78 (10.0.5) fails it and restarts the guest."""
    for name, stranded in (("qemu-10.0", True), ("qemu-10.0.5", False)):
        cfg = C.NAMED[name]
        comp = compile_rows(cfg)
        ends = _reachable(comp, cfg, _dst_dies_before_the_package,
                          lambda w: w.h_switched and not w.d_alive and not w.h_pca and w.s_pc in ("done", "stuck"))
        assert ends, name
        if stranded:
            assert any(w.s_status is MigrationStatus.DEVICE and not src_running(w) for w in ends)
        else:
            assert all(w.s_status is MigrationStatus.FAILED and src_running(w) for w in ends)


def _partition_then(fault: str) -> Callable[[Action], bool]:
    def allow(a: Action) -> bool:
        return postcopy_only(a) or a.name in ("partition dst->src", fault)
    return allow


def test_silent_partition_then_reset_runs_both_guests_on_11_1() -> None:
    """real-qemu.md, the wait for PONG 0x42: RST after a silent partition: both guests run (4 of 4)."""
    cfg = C.NAMED["qemu-11.1"]
    both = _reachable(compile_rows(cfg), cfg, _partition_then("reset"),
                      lambda w: w.h_partition and src_running(w) and w.d_run is RunState.RUNNING and w.d_alive)
    assert both


def test_silent_partition_then_destination_kill_rolls_back_even_with_locks() -> None:
    """real-qemu.md: destination killed after a silent partition: the source restarts from the
    switchover state (4 of 4), image locks or not."""
    for name in ("qemu-11.1", "qemu-11.1-shared-disk"):
        cfg = C.NAMED[name]
        back = _reachable(compile_rows(cfg), cfg, _partition_then("dst-crash"),
                          lambda w: w.h_partition and w.h_dst_ran and src_running(w))
        assert back, name
