"""Proposed fixes, as variants of today's transition tables: would *this* close the hole, and what
would it break?

A design is built like a mutant (``model/mutants.py``): a function from today's rows to new rows,
rows changed by name with ``dataclasses.replace`` or added next to the ones they extend; today's
tables are never edited. Where a design needs both sides to agree (a capability), its new rows
are guarded by that condition and the old rows by its negation, so on a configuration where the
design does not apply the model is exactly today's.

Each design's docstring says where it comes from (a patch, an RFC, a review remark, or our own
proposal, with the qemu-devel Message-ID) and what it means to fix; ``intends`` names the
properties (``properties/qemu.py``) it should turn from violated to holding, ``configs`` the
configurations that matter for it: each changes the design's reachable graph (tested), and
they are chosen to show every kind of cell the design turns on any configuration (an intended
property fixed or left violated, mixed versions showing which side the change is on, a busy guest
where the change must not hurt); ``migmodel whatif --config NAME ...`` judges a design on any other.
``migmodel whatif`` judges every property on the design and on today's model and shows, cell by
cell, what is fixed, what is broken and what is unchanged.

Faults: designs are judged with today's fault injector (``model/faults.py``: link cut, destination
crash, device-load failure, and disk failure where a configuration budgets it). A design whose
point is a fault the model does not have yet (a silent partition, a disk-activation failure at
RUN that goes away again) says so: its verdicts on that point wait for the new fault kind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from model import config as configs
from model import destination, faults, management, source
from model.config import Config
from model.destination import POSTCOPY, listen_fail
from model.messages import PACKAGED, PING_4, RUN, PING_0x42
from model.mutants import insert_after, replace_row
from model.status import MigrationStatus as S
from model.status import PostcopyState as PS
from model.status import RunState
from model.table import Row, statuses
from model.world import (
    DL_ON,
    DM_FAILED,
    DM_PACKAGE,
    DM_QUIT,
    LINK_DOWN,
    LINK_UP,
    PC_ITERATE,
    PC_SENT,
    PC_WAIT_PONG,
    RP_ERR,
    RP_ON,
    World,
    break_link,
    partitioned,
    send_main,
    send_rp,
)

__all__ = ("DESIGNS", "Design")

RowsFn = Callable[[tuple[Row, ...]], tuple[Row, ...]]
MC = "migration/migration.c"
SV = "migration/savevm.c"
PR = "migration/postcopy-ram.c"

# Wire items only a design uses (names as QEMU spells such things; values are the design's).
RUN_ACK = "MIG_RP_MSG_POSTCOPY_RUN_ACK"
PING_KEEPALIVE = "MIG_CMD_PING(keepalive)"
PONG_KEEPALIVE = "MIG_RP_MSG_PONG(keepalive)"


@dataclass(frozen=True)
class Design:
    """A named proposal: ``doc`` (where from, what it intends), ``origin`` (one line: the source),
    ``intends`` (property names), ``configs`` (configurations to judge it on: names of
    ``configs.NAMED`` or configurations of its own) and ``change`` (today's rows -> new rows)."""

    name: str
    doc: str
    origin: str
    intends: tuple[str, ...]
    configs: tuple[Config, ...]
    change: RowsFn

    def rows(self, base_rows: tuple[Row, ...]) -> tuple[Row, ...]:
        return self.change(tuple(base_rows))


def _row(rows: tuple[Row, ...], name: str) -> Row:
    for row in rows:
        if row.name == name:
            return row
    raise KeyError(f"no row named {name!r}")


def _unless(rows: tuple[Row, ...], name: str, applies: Callable[[Config], bool]) -> tuple[Row, ...]:
    """Row ``name`` keeps today's behaviour only where the design does not apply."""
    old = _row(rows, name).guard
    return replace_row(rows, name, guard=lambda c, w: old(c, w) and not applies(c))


# ---------------------------------------------------------------------------------------------
# 1. RUN_ACK (the RFC's design).


def _run_ack_applies(c: Config) -> bool:
    """The RFC's ``postcopy-setup`` capability, set on both sides; it needs a return path."""
    return c.src.postcopy_device and c.dst.postcopy_device and c.has_return_path


def _package_without_run(c: Config, w: World) -> World:
    items = tuple(i for i in source.package_items(c) if i not in (PING_0x42, RUN))
    w = send_main(w, (PACKAGED, items))
    if c.postcopy_ram:
        w = send_main(w, PING_4)
    return w._replace(s_pc=PC_SENT)


def _package_loaded(c: Config, w: World) -> bool:
    return _run_ack_applies(c) and w.d_main == DM_PACKAGE and not w.d_pkg


def _send_run_ack(c: Config, w: World) -> World:
    """``loadvm_handle_cmd_packaged`` (RFC): the package loaded: RUN_ACK, then LOADVM_QUIT (the
    listen thread reads the stream from now on)."""
    return send_rp(w, RUN_ACK)._replace(d_main=DM_QUIT)


def _rp_run_ack(c: Config, w: World) -> bool:
    return w.s_alive and w.s_rp == RP_ON and bool(w.rp) and w.rp[0] == RUN_ACK


def _set_run_acked(c: Config, w: World) -> World:
    return w._replace(rp=w.rp[1:], s_loaded=True)


def _commit_and_send_run(c: Config, w: World) -> World:
    """POSTCOPY_SETUP -> POSTCOPY_ACTIVE, then ``qemu_savevm_send_postcopy_run`` on the stream."""
    return send_main(source.act_on_pong(c, w), RUN)


def _acked(c: Config, w: World) -> bool:
    return _run_ack_applies(c) and source.pong_flag_set(c, w)


def _complete_ready_unacked(c: Config, w: World) -> bool:
    return _run_ack_applies(c) and source.drained_without_pong(c, w)


def _listen_run(c: Config, w: World) -> bool:
    return (_run_ack_applies(c) and w.d_listen == DL_ON and not w.d_ferr and bool(w.main)
            and w.main[0] == RUN)


def _listen_handles_run(c: Config, w: World) -> World:
    """RUN read by the listen thread: PostcopyState RUNNING, the start BH scheduled."""
    return w._replace(main=w.main[1:], d_pcs=PS.RUNNING, d_bh=True)


def run_ack(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """RUN_ACK, as Juraj Marcin's RFC proposed it before PING 0x42 replaced it: "[RFC PATCH 4/4]
    migration: Introduce postcopy-setup capability and state" (qemu-devel, 2025-08-07,
    Message-ID 20250807114922.1013286-5-jmarcin@redhat.com; docs/whatif-designs.md; docs/protocol.md
    section 7.4, R1).

    The package no longer carries RUN (nor PING 0x42). The destination loads it and sends
    ``MIG_RP_MSG_POSTCOPY_RUN_ACK`` (and goes postcopy-active); the source's return-path thread
    sets ``postcopy_run_acked``; the migration thread then leaves the pre-commit state (the RFC's
    ``postcopy-setup``; the model keeps today's name, postcopy-device), commits to postcopy-active
    and only then sends ``MIG_CMD_POSTCOPY_RUN``, which the destination's listen thread handles.
    As posted, the source also commits and sends RUN without the ACK once nothing is pending
    (``complete_ready``), instead of waiting. Needs the capability on both sides, so only
    10.2+ pairings with a return path change. (The RFC also let ``migrate-pause`` through in its
    new state; not modelled.)

    Intends: the destination cannot run before the source commits (RUN follows the commit:
    ``postcopy-device-means-dst-not-run``), so the source can always resume before it commits
    (``source-resumable-before-pong``), after a device-load failure too
    (``resumes-after-device-load-failure``). Maintainers dropped it
    (protocol change, capability on both sides, libvirt work; Peter Xu: whatever the last message
    is, it can be lost: ML aJzOo7P8aA64AfY_@x1.local)."""
    return _run_ack_rows(rows, wait=False)


def run_ack_wait(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """RUN_ACK with the source committing only on the ACK, as issue 16 describes the RFC's
    alternative: the RFC's rows (see ``run-ack``), except that a source with nothing pending does
    not commit and send RUN unacknowledged but waits for the ACK, as 10.2+ waits for PONG 0x42
    today (11.1's wait also ends on a return-path error). Our variant of the RFC (Message-ID
    20250807114922.1013286-5-jmarcin@redhat.com), to show what the RFC's shortcut was for.

    Intends: the same as ``run-ack`` (``postcopy-device-means-dst-not-run``,
    ``source-resumable-before-pong``, ``resumes-after-device-load-failure``). Expected to keep
    today's two-sided hang after a device-load failure with nothing pending: the destination
    still cannot tell the source."""
    return _run_ack_rows(rows, wait=True)


def _woken_by_ack(c: Config, w: World) -> bool:
    return _run_ack_applies(c) and source.woken_by_pong(c, w)


def _wait_for_ack(c: Config, w: World) -> bool:
    return _run_ack_applies(c) and source.drained_without_pong(c, w)


def _run_ack_rows(rows: tuple[Row, ...], *, wait: bool) -> tuple[Row, ...]:
    rows = replace_row(rows, "postcopy_start: send package",
                       effect=lambda c, w: (_package_without_run(c, w) if _run_ack_applies(c)
                                            else source.send_package(c, w)))
    for name in ("migration_iteration_run: act on PONG 0x42", "migration_iteration_run: wait for PONG 0x42",
                 "migration_iteration_run: woken by PONG 0x42"):
        rows = _unless(rows, name, _run_ack_applies)
    act = _row(rows, "migration_iteration_run: act on PONG 0x42")
    acked = dataclasses.replace(act, name="migration_iteration_run: act on RUN_ACK, send RUN", guard=_acked,
                                effect=_commit_and_send_run, qemu=f"{MC}:migration_iteration_run",
                                doc="RFC: postcopy_run_acked: postcopy-active, then send POSTCOPY_RUN")
    waiting: tuple[Row, ...]
    if wait:
        waiting = (
            dataclasses.replace(_row(rows, "migration_iteration_run: wait for PONG 0x42"),
                                name="migration_iteration_run: wait for RUN_ACK", guard=_wait_for_ack,
                                doc="design: nothing pending: wait for the ACK"),
            dataclasses.replace(act, name="migration_iteration_run: woken by RUN_ACK, send RUN",
                                guard=_woken_by_ack, effect=_commit_and_send_run,
                                doc="design: the ACK ends the wait; postcopy-active, then send RUN"))
    else:
        waiting = (dataclasses.replace(act, name="migration_iteration_run: complete_ready, send RUN unacked",
                                       guard=_complete_ready_unacked, effect=_commit_and_send_run,
                                       qemu=f"{MC}:migration_iteration_run",
                                       doc="RFC: nothing pending: postcopy-active and RUN without the ACK"),)
    rows = insert_after(rows, "migration_iteration_run: act on PONG 0x42", acked, *waiting)
    rows = insert_after(rows, "source_return_path_thread: PONG", Row(
        "src", "rp", "source_return_path_thread: POSTCOPY_RUN_ACK", statuses(), None, _rp_run_ack,
        _set_run_acked, f"{MC}:source_return_path_thread", "RFC: postcopy_run_acked = true"))
    rows = insert_after(rows, "loadvm_process_command: PING without return path", Row(
        "dst", "main", "loadvm_handle_cmd_packaged: POSTCOPY_RUN_ACK", statuses(S.POSTCOPY_DEVICE),
        S.POSTCOPY_ACTIVE, _package_loaded, _send_run_ack, f"{SV}:loadvm_handle_cmd_packaged",
        "RFC: package loaded; RUN_ACK, postcopy-active, LOADVM_QUIT"))
    return insert_after(rows, "loadvm_process_command: PING 4", Row(
        "dst", "listen", "loadvm_postcopy_handle_run (listen thread)", statuses(S.POSTCOPY_ACTIVE), None,
        _listen_run, _listen_handles_run, f"{SV}:loadvm_postcopy_handle_run",
        "RFC: RUN arrives after the package, read by the listen thread"))


# ---------------------------------------------------------------------------------------------
# 2. Wake the listen thread.


def _load_failed_listen_blocked(c: Config, w: World) -> bool:
    """The main thread failed the load; the listen thread is blocked on a silent, open stream."""
    return (w.d_listen == DL_ON and w.d_ferr and w.d_main == DM_FAILED and not w.main
            and w.link == LINK_UP)


def wake_listen_thread(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """Our proposal, from the 11.1 hang seen on real QEMU (docs/real-qemu.md, 'The wait for
    PONG 0x42 when nothing is pending': in 10 of 11 runs neither side moved after a device-load
    failure with nothing pending). Since patch 5 of the series (468a7effde) only the listen
    thread cleans up after a failed load, and it notices the error only when its read returns.

    Change: after the nested load fails, the destination's main thread shuts the read side of
    ``from_src_file`` down (``qemu_file_shutdown``-like, read side only, so the return path still
    works), so the blocked listen thread returns at once, fails (D7) and its bottom half sends
    SHUT(1) and closes the connection.

    Intends: the failure reaches the source and it resumes, instead of both sides hanging
    (``no-stuck-state``, ``resumes-after-device-load-failure`` on 11.1). On 10.2 the source's
    wait ignores return-path errors, so it should stay stuck there: the design alone is not
    enough on 10.2. ``source-resumable-before-pong`` also fails for another reason (a PONG
    received but not yet acted on, then the destination dies), which this design does not
    touch."""
    return insert_after(rows, "qemu_loadvm_state_main: error set on the stream", Row(
        "dst", "listen", "postcopy_listen_thread: woken after the load error", POSTCOPY, S.FAILED,
        _load_failed_listen_blocked, listen_fail, f"{PR}:postcopy_listen_thread",
        "design: the main thread shuts from_src_file's read side down after the load error"))


# ---------------------------------------------------------------------------------------------
# 3. Error-aware PONG wait on 10.2.


def _woken_by_rp_error_any(c: Config, w: World) -> bool:
    return w.s_pc == PC_WAIT_PONG and w.s_rp == RP_ERR and not w.s_loaded


def error_aware_wait_10_2(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """What the 11.1.3 build does, back-ported to 10.2: the wait for PONG 0x42 with nothing
    pending also ends when the return-path thread exits with an error (the source then fails and
    restarts its guest). Seen on real QEMU 11.1.3 (docs/real-qemu.md, 'The wait for PONG 0x42
    when nothing is pending'; inferred there from the binary, the upstream commit was not
    identified). It implements the second half of Peter Xu's review remark on V1 (qemu-devel,
    2025-09-19, Message-ID aM2X-N9gXvFxxdvI@x1.local): "If the channel is broken before its
    arrival, logically we should handle this case as a FAILURE and restart the VM on src".

    Intends: ``rp-error-ends-postcopy-device`` on the 10.2 configurations (10.2's event is set
    only by the PONG)."""
    # The row is 11.1's only (``since=(11, 1)``); the design drops the version bound.
    return replace_row(rows, "migration_iteration_run: woken by rp error (11.1)", guard=_woken_by_rp_error_any,
                       since=())


# ---------------------------------------------------------------------------------------------
# 4. Cancel in postcopy-device.


def cancel_in_postcopy_device(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """``migrate_cancel`` accepted while the source is in postcopy-device, also while it waits
    for PONG 0x42 (``migration_cancel`` then kicks the wait). Since Fabiano Rosas' "migration:
    Reject qmp_migrate_cancel after postcopy" (Message-ID 20250213175927.19642-6-farosas@suse.de)
    cancel is refused in every postcopy state, and 10.2 added postcopy-device to that set,
    "the one postcopy state where the source could safely resume" (docs/tests-and-bugs.md B6;
    docs/protocol.md 4.3). The same change is the mutant ``cancel-in-postcopy-device`` (without
    the kick), which shows it is unsafe in the PONG-in-flight window.

    Intends: the operator can end the two-sided hang (``no-stuck-state``,
    ``source-resumable-before-pong``). Expected to break ``postcopy-never-cancelled`` (the
    policy it reverses) and to widen the split-brain window."""
    base = _row(rows, "migrate_cancel")
    refused = _row(rows, "migrate_cancel: refused")

    def in_device(c: Config, w: World) -> bool:
        return w.s_status is S.POSTCOPY_DEVICE and w.s_pc in (PC_ITERATE, PC_WAIT_PONG)

    def cancel(c: Config, w: World) -> World:
        new = management.cancel(c, w)
        return new._replace(s_pc=PC_ITERATE) if new.s_pc == PC_WAIT_PONG else new

    rows = replace_row(rows, "migrate_cancel", guard=lambda c, w: base.guard(c, w) or in_device(c, w),
                       effect=cancel)
    return replace_row(rows, "migrate_cancel: refused",
                       guard=lambda c, w: refused.guard(c, w) and not in_device(c, w))


# ---------------------------------------------------------------------------------------------
# 5. Pause on disk-activation failure.


def _run_bh_or_pause(c: Config, w: World) -> World:
    """The start BH; when autostart's disk activation fails, pause the migration."""
    new = destination.run_bh(c, w)
    if w.d_autostart and new.d_run is RunState.PAUSED:
        return break_link(new)
    return new


def _activation_fails_pause(c: Config, w: World) -> World:
    """The disk activation at RUN failed (fault ``dst-disk-activation``): pause the migration."""
    return break_link(faults.activation_fails_inmigrate(c, w))


def pause_on_disk_failure(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """When the RUN bottom half cannot activate the disks, the destination pauses the migration
    (it shuts its incoming stream down, as ``migrate-pause`` does: the listen thread, RUNNING,
    goes postcopy-paused, D8, and the source pauses, S14) instead of going on in postcopy with a
    guest that never starts. Juraj Marcin suggested falling back to postcopy-paused when disk
    activation fails after postcopy started (RFC thread; docs/protocol.md 7.3, case b.2, not
    implemented; today's bottom half: docs/whatif-designs.md); Daniel Berrangé: "The 'migration
    paused' state is our last chance"
    (Message-ID aN1EdMGbLxE10NOp@redhat.com; Jiri Denemark's case, docs/tests-and-bugs.md B2).

    Intends: ``no-vm-loss``: a storage problem at RUN leaves a recoverable pause (fix the
    storage, ``migrate-recover``, resume, ``cont``) instead of a running migration whose guest
    never starts. The fault this is about, a disk-activation failure at RUN that can go away
    again, is the fault kind ``dst-disk-activation`` (row "disk activation fails at RUN", 10.0
    on: runstate stays inmigrate): the design pauses there too. It is also judged with the
    permanent ``disk-failure`` (a configuration of its own with a budget of one), which no
    recovery can outlive. No cell changes, and none can: the model loses no VM to the transient
    failure alone (the destination guest never ran, so the source can still take over), and with
    a second fault (a partition, dead storage) it loses it both today and with the design
    (docs/whatif-designs.md, measured with no-vm-loss scoped to the states after the failure)."""
    rows = replace_row(rows, "loadvm_postcopy_handle_run_bh", effect=_run_bh_or_pause,
                       doc="design: a failed disk activation pauses the migration")
    # The fault kind ``dst-disk-activation`` (10.0+: no vm_start, runstate stays inmigrate).
    return replace_row(rows, "disk activation fails at RUN", effect=_activation_fails_pause,
                       doc="design: a failed disk activation at RUN pauses the migration")


# ---------------------------------------------------------------------------------------------
# 6. A source that keeps talking.


def _keepalive_due(c: Config, w: World) -> bool:
    return (w.s_pc == PC_WAIT_PONG and not w.s_loaded and w.link == LINK_UP
            and PING_KEEPALIVE not in w.main and PONG_KEEPALIVE not in w.rp)


def _wait_sees_stream_error(c: Config, w: World) -> bool:
    return w.s_pc == PC_WAIT_PONG and not w.s_loaded and w.link == LINK_DOWN


def _keepalive_lost(c: Config, w: World) -> bool:
    """The keepalive PING (or its PONG) is held by a silent partition: the timed wait times out."""
    return (w.s_pc == PC_WAIT_PONG and not w.s_loaded and w.link == LINK_UP and partitioned(w)
            and (PING_KEEPALIVE in w.main or PONG_KEEPALIVE in w.rp))


def _listen_keepalive(c: Config, w: World) -> bool:
    return w.d_listen == DL_ON and not w.d_ferr and bool(w.main) and w.main[0] == PING_KEEPALIVE


def keep_talking(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """Our proposal: while the source waits for PONG 0x42 with nothing pending, it wakes up
    periodically (a timed wait), checks the stream for errors as ``migration_detect_error``
    does, and sends a ``MIG_CMD_PING`` so that the destination's listen thread reads something.
    An old destination answers any PING, so no capability is needed. Motivated by Peter Xu's
    remark on V1 (Message-ID aM2X-N9gXvFxxdvI@x1.local: a channel broken before the PONG
    arrives should be a failure that restarts the source) and by the two ways into the
    indefinite wait seen on real QEMU 11.1.3 (docs/real-qemu.md, 'The wait for PONG 0x42 when
    nothing is pending'): a device-load failure whose listen thread never wakes, and a silent
    partition (judged on ``qemu-11.1-to-7.2`` too, where that partition strands the source).

    Intends: the hang after a device-load failure ends on 10.2 and 11.1 (``no-stuck-state``,
    ``resumes-after-device-load-failure``), and a broken stream ends the wait on 10.2
    (``rp-error-ends-postcopy-device``). A silent partition (fault kinds ``partition-dst-src``,
    ``partition-src-dst``: nothing is closed, bytes are held) is caught by a timeout: when the
    keepalive PING or its PONG is held, the wait fails and the source restarts its guest (row
    "keepalive PONG timed out", an ideal timeout that fires only when the bytes are really held).
    The risk, a partition holding PONG 0x42 after the destination started its guest (two running
    guests), cannot show as a broken cell: ``no-split-brain-after-partition`` fails today
    already. ``migmodel whatif`` shows it on the run of the cell it fixes on ``qemu-11.1-to-7.2``
    (``no-stuck-state``): the only way out it finds restarts the source while the destination
    guest runs."""
    wait = _row(rows, "migration_iteration_run: wait for PONG 0x42")
    rows = insert_after(
        rows, "migration_iteration_run: woken by rp error (11.1)",
        dataclasses.replace(wait, name="migration_iteration_run: keepalive PING while waiting",
                            guard=_keepalive_due, effect=lambda c, w: send_main(w, PING_KEEPALIVE),
                            doc="design: the timed wait sends a PING on the main stream"),
        Row("src", "mig", "migration_iteration_run: stream error while waiting", statuses(S.POSTCOPY_DEVICE),
            S.FAILED, _wait_sees_stream_error, source.to_finish, f"{MC}:migration_detect_error",
            "design: the timed wait checks the stream; a broken one fails (S13)", fails=True),
        Row("src", "mig", "migration_iteration_run: keepalive PONG timed out", statuses(S.POSTCOPY_DEVICE),
            S.FAILED, _keepalive_lost, source.to_finish, f"{MC}:migration_iteration_run",
            "design: no PONG to the keepalive PING within the timeout: a failure (Peter Xu's remark)",
            fails=True))
    return insert_after(rows, "loadvm_process_command: PING 4", Row(
        "dst", "listen", "loadvm_process_command: keepalive PING", POSTCOPY, None, _listen_keepalive,
        lambda c, w: send_rp(w._replace(main=w.main[1:]), PONG_KEEPALIVE), f"{SV}:loadvm_process_command",
        "any PING is answered with a PONG"))


# ---------------------------------------------------------------------------------------------
# The catalogue.


def _named(*names: str) -> tuple[Config, ...]:
    return tuple(configs.NAMED[n] for n in names)


SHARED_DISK_FAILURE = dataclasses.replace(
    configs.NAMED["qemu-11.1-shared-disk"], name="qemu-11.1-shared-disk+disk-failure",
    faults=configs.NAMED["qemu-11.1-shared-disk"].faults.with_limit("disk-failure", 1),
    description="QEMU 11.1, shared disk with locks; the fault may also be a storage failure.")


def _doc(fn: RowsFn) -> str:
    return " ".join((fn.__doc__ or "").split())


_ALL: tuple[tuple[str, RowsFn, str, tuple[str, ...], tuple[Config, ...]], ...] = (
    ("run-ack", run_ack,
     "RFC: Juraj Marcin, [RFC PATCH 4/4] postcopy-setup capability and state, "
     "Message-ID 20250807114922.1013286-5-jmarcin@redhat.com",
     ("postcopy-device-means-dst-not-run", "source-resumable-before-pong", "resumes-after-device-load-failure"),
     _named("qemu-11.1", "qemu-10.2", "qemu-11.1-busy-guest", "qemu-11.1-shared-disk",
            "qemu-11.1-shared-disk-busy-guest")),
    ("run-ack-wait", run_ack_wait,
     "our variant of the RFC (Message-ID 20250807114922.1013286-5-jmarcin@redhat.com): commit only on the ACK",
     ("postcopy-device-means-dst-not-run", "source-resumable-before-pong", "resumes-after-device-load-failure"),
     _named("qemu-11.1", "qemu-10.2", "qemu-11.1-busy-guest", "qemu-11.1-shared-disk",
            "qemu-11.1-shared-disk-busy-guest")),
    ("wake-listen-thread", wake_listen_thread,
     "our proposal, from the 11.1.3 hang (docs/real-qemu.md, 'The wait for PONG 0x42 when nothing is pending')",
     ("no-stuck-state", "resumes-after-device-load-failure"),
     _named("qemu-11.1", "qemu-10.2", "qemu-11.1-busy-guest", "qemu-11.1-to-10.2")),
    ("error-aware-wait-10.2", error_aware_wait_10_2,
     "QEMU 11.1.3's wait (docs/real-qemu.md); Peter Xu, review of V1, Message-ID aM2X-N9gXvFxxdvI@x1.local",
     ("rp-error-ends-postcopy-device",),
     _named("qemu-10.2", "qemu-10.2-bitmaps-return-path", "qemu-10.2-to-11.1", "qemu-10.2-to-7.2")),
    ("cancel-in-postcopy-device", cancel_in_postcopy_device,
     "docs/tests-and-bugs.md B6 (the refusal added by Message-ID 20250213175927.19642-6-farosas@suse.de)",
     ("no-stuck-state", "source-resumable-before-pong"),
     _named("qemu-11.1", "qemu-10.2", "qemu-11.1-busy-guest", "qemu-11.1-shared-disk-busy-guest",
            "qemu-11.1-to-7.2")),
    ("pause-on-disk-activation-failure", pause_on_disk_failure,
     "review: Juraj Marcin (case b.2, docs/protocol.md 7.3), Daniel Berrange, "
     "Message-ID aN1EdMGbLxE10NOp@redhat.com",
     ("no-vm-loss",),
     (*_named("qemu-11.1-shared-disk", "qemu-11.1-shared-disk-busy-guest"), SHARED_DISK_FAILURE)),
    ("keep-talking", keep_talking,
     "our proposal, after Peter Xu's review of V1 (Message-ID aM2X-N9gXvFxxdvI@x1.local)",
     ("no-stuck-state", "resumes-after-device-load-failure", "rp-error-ends-postcopy-device"),
     _named("qemu-11.1", "qemu-10.2", "qemu-10.2-bitmaps-return-path", "qemu-11.1-to-7.2")),
)

DESIGNS: dict[str, Design] = {
    name: Design(name, _doc(fn), origin, intends, cfgs, fn) for name, fn, origin, intends, cfgs in _ALL
}
