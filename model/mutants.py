"""Known-bad variants of the model: does the checker notice when the protocol is broken?

Each mutant is one small change to a transition-table row (a guard, an effect, a destination
status) or to the rows present, the kind of change a real patch could have made. Most mimic a real
earlier version, a review round of the POSTCOPY_DEVICE series (protocol.md sections 7.4 and 11) or
a regression of one of its fixes. ``migmodel mutants`` explores each mutant on the configurations it
names and expects some property to give a worse verdict than on the unmodified model: the mutant
is then *killed*. A surviving mutant means either a missing property or a mutant that cannot be
told apart from the model (``equivalent=True``, with the reason in its docstring).

A mutant names the configurations on which the behaviour it breaks is used and on which the base
model keeps the property that should notice: a 10.2+ mutation is run on an 11.1 configuration such
as ``qemu-11.1-busy-guest`` (where ``source-resumable-before-pong`` holds) or
``qemu-11.1-shared-disk-busy-guest`` (where ``no-split-brain`` holds too).

Rows are changed by name with ``dataclasses.replace``; a mutant never edits the base tables.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from model import config as configs
from model import source
from model.config import Config
from model.messages import (
    LISTEN,
    PACKAGED,
    PING_3,
    PING_4,
    PKG_DEVICE_STATE,
    RUN,
    SHUT_1,
    PING_0x42,
    PONG_0x42,
)
from model.status import MigrationStatus as S
from model.status import PostcopyState
from model.table import Row, statuses
from model.world import PC_ITERATE, PC_SENT, PC_WAIT_PONG, World, send_main

__all__ = ("MUTANTS", "Mutant")

RowsFn = Callable[[tuple[Row, ...]], tuple[Row, ...]]


@dataclass(frozen=True)
class Mutant:
    """A named change to the transition tables.

    ``doc`` says which real change it mimics and why it is wrong; ``configs`` are the NAMED
    configurations it is checked on; ``rows(base)`` gives the mutated table. An ``equivalent``
    mutant cannot be distinguished from the model (its doc says why): reported, not counted.
    """

    name: str
    doc: str
    configs: tuple[str, ...]
    change: RowsFn
    equivalent: bool = False

    def rows(self, base_rows: Sequence[Row]) -> tuple[Row, ...]:
        return self.change(tuple(base_rows))


# ---------------------------------------------------------------------------------------------
# Small tools for editing a table by row name.


def _find(rows: tuple[Row, ...], name: str) -> int:
    for i, row in enumerate(rows):
        if row.name == name:
            return i
    raise KeyError(f"no row named {name!r}")


def replace_row(rows: tuple[Row, ...], name: str, **changes: object) -> tuple[Row, ...]:
    """The table with row ``name`` changed by ``dataclasses.replace``."""
    i = _find(rows, name)
    return (*rows[:i], dataclasses.replace(rows[i], **changes), *rows[i + 1:])  # type: ignore[arg-type]


def remove_row(rows: tuple[Row, ...], name: str) -> tuple[Row, ...]:
    i = _find(rows, name)
    return (*rows[:i], *rows[i + 1:])


def insert_after(rows: tuple[Row, ...], name: str, *new: Row) -> tuple[Row, ...]:
    i = _find(rows, name)
    return (*rows[:i + 1], *new, *rows[i + 1:])


def _row(rows: tuple[Row, ...], name: str) -> Row:
    return rows[_find(rows, name)]


# ---------------------------------------------------------------------------------------------
# The mutants. Each function's docstring is the mutant's documentation.


def pre_10_2_switchover(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """The switchover as before 10.2: after the package, DEVICE -> POSTCOPY_ACTIVE even with a
    return path, so postcopy-device is never used (7b842fe354 reverted on the source).

    Wrong: a failure after the switchover but before the destination loaded the device state
    then pauses the source in postcopy-active with its guest stopped, though the source still
    holds the newest machine state: the very bug the series fixes (issue 3)."""
    return replace_row(rows, "postcopy_start: postcopy-device", dest=S.POSTCOPY_ACTIVE,
                       effect=source.enter_postcopy_active)


def _v1_cas(c: Config, w: World) -> World:
    """V1: the rp thread moves POSTCOPY_DEVICE -> POSTCOPY_ACTIVE itself; a mig thread blocked on
    the PONG is woken by the same event."""
    w = w._replace(rp=w.rp[1:], s_loaded=True, h_acted=True)
    return w._replace(s_pc=PC_ITERATE) if w.s_pc == PC_WAIT_PONG else w


def v1_cas_in_rp_thread(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """V1 of the series (R4): the return-path thread handles PONG 0x42 with a compare-and-swap
    POSTCOPY_DEVICE -> POSTCOPY_ACTIVE, which does nothing if the state is not yet
    POSTCOPY_DEVICE; the migration thread has no flag to look at.

    Wrong: the destination can be fast and answer before ``postcopy_start`` leaves DEVICE; that
    early PONG is then lost, the source stays in postcopy-device while the destination runs the
    guest, and a later failure restarts the source guest: the PONG-in-flight window becomes
    permanent (issue 3; protocol.md 4.2). V2 moved the transition to the migration thread."""
    pong = _row(rows, "source_return_path_thread: PONG 0x42")
    cas = dataclasses.replace(
        pong, name="source_return_path_thread: PONG 0x42 (V1 CAS)",
        source=statuses(S.POSTCOPY_DEVICE), dest=S.POSTCOPY_ACTIVE, effect=_v1_cas,
        doc="V1: migrate_set_state(POSTCOPY_DEVICE, POSTCOPY_ACTIVE) in the rp thread")
    lost = dataclasses.replace(
        pong, name="source_return_path_thread: PONG 0x42 (V1 CAS misses)",
        source=frozenset(set(S) - {S.POSTCOPY_DEVICE}),
        effect=lambda c, w: w._replace(rp=w.rp[1:]),
        doc="V1: the compare-and-swap fails outside POSTCOPY_DEVICE; the PONG is lost")
    rows = remove_row(rows, "migration_iteration_run: act on PONG 0x42")
    rows = remove_row(rows, "migration_iteration_run: woken by PONG 0x42")
    i = _find(rows, pong.name)
    return (*rows[:i], cas, lost, *rows[i + 1:])


def _package_effect(order: Callable[[Config], tuple[str, ...]]) -> Callable[[Config, World], World]:
    def send(c: Config, w: World) -> World:
        w = send_main(w, (PACKAGED, order(c)))
        if c.postcopy_ram:
            w = send_main(w, PING_4)
        return w._replace(s_pc=PC_SENT)
    return send


def no_ping_0x42(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """The package without ``QEMU_VM_PING_PACKAGED_LOADED``: a source with postcopy-device that
    forgot (or conditioned wrongly, R9) the PING 0x42 in ``postcopy_start``.

    Wrong: the source waits in postcopy-device for a PONG that never comes, while the destination
    loads the package and runs the guest; a failure then restarts the source guest too (issue 3)."""
    items = lambda c: tuple(i for i in source.package_items(c) if i != PING_0x42)  # noqa: E731
    return replace_row(rows, "postcopy_start: send package", effect=_package_effect(items))


def _any_pong(c: Config, w: World) -> World:
    return w._replace(rp=w.rp[1:], s_loaded=True)


def act_on_any_pong(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """The rp thread sets ``postcopy_package_loaded`` on every PONG, not only 0x42 (a handler
    that forgot to compare the ping value).

    Wrong: PONG 4 is answered by the destination's listen thread, which may run before the main
    thread has loaded the device state; the source then commits to postcopy-active and can no
    longer resume its guest when the device load fails."""
    return replace_row(rows, "source_return_path_thread: PONG", effect=_any_pong)


def _pca_before_package(c: Config, w: World) -> World:
    return source.start_postcopy(c, w)._replace(h_pca=True)


def postcopy_active_before_package(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """``postcopy_start`` sets POSTCOPY_ACTIVE at the top, before the package is sent, as 7.2
    did, on a 10.2+ source.

    Wrong: once in postcopy-active a stream error pauses the source instead of failing it, so a
    destination that dies before loading the device state leaves the source guest stopped."""
    rows = replace_row(rows, "postcopy_start: switchover", dest=S.POSTCOPY_ACTIVE,
                       effect=_pca_before_package)
    done = _row(rows, "postcopy_start: done (7.2)")
    return insert_after(rows, "postcopy_start: done (7.2)", dataclasses.replace(
        done, name="postcopy_start: done (early postcopy-active)", guard=source.package_sent_ok, until=()))


def restart_without_disks(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """Patch 2 (26f65c01ed) reverted: ``migration_iteration_finish`` restarts the source guest
    after FAILED even when its disks could not be re-activated.

    Wrong: with shared storage the destination may already run with the image lock; the source
    guest runs too (split brain), writing to storage it does not own (R11)."""
    return replace_row(rows, "migration_iteration_finish: disks unavailable",
                       effect=source.restart_without_disks)


def cancel_in_postcopy_device(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """``qmp_migrate_cancel`` accepts postcopy-device (a tempting change: the source could still
    resume there, protocol.md 4.3).

    Wrong: the destination may already run (the PONG may be in flight); a cancelled postcopy
    migration restarts the source guest and ends ``cancelled`` after postcopy started."""
    def allowed(c: Config, w: World) -> bool:
        return w.s_status is S.POSTCOPY_DEVICE and w.s_pc == PC_ITERATE

    base = _row(rows, "migrate_cancel")
    refused = _row(rows, "migrate_cancel: refused")
    def accept(c: Config, w: World) -> bool:
        return base.guard(c, w) or allowed(c, w)

    def refuse(c: Config, w: World) -> bool:
        return refused.guard(c, w) and not allowed(c, w)

    rows = replace_row(rows, "migrate_cancel", guard=accept)
    return replace_row(rows, "migrate_cancel: refused", guard=refuse)


def complete_from_postcopy_device(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """Completion allowed from postcopy-device: ``migration_completion`` runs once pending is 0
    without waiting for the PONG (the postcopy-device -> completed jump of R5).

    Wrong: management (libvirt) never sees postcopy-active, and the source reports completed
    for a migration whose package it never saw confirmed."""
    both = statuses(S.POSTCOPY_DEVICE, S.POSTCOPY_ACTIVE)
    rows = replace_row(rows, "migration_completion: postcopy", source=both)
    rows = replace_row(rows, "migration_completion_end: postcopy", source=both)
    return replace_row(rows, "migration_completion: postcopy fails", source=both)


def _pong_after_run(c: Config) -> tuple[str, ...]:
    items = list(source.package_items(c))
    if PING_0x42 in items:
        items.remove(PING_0x42)
        items.append(PING_0x42)
    return tuple(items)


def _run_keep_reading(c: Config, w: World) -> World:
    """RUN handled, but the package's remaining items are still read (the PING after it)."""
    from model.destination import run
    w2 = run(c, w)
    return w2._replace(d_main="package") if w2.d_pkg else w2


def _pong_then_quit(c: Config, w: World) -> World:
    """The PONG; after RUN, the end of the package is LOADVM_QUIT."""
    from model.destination import pong
    w = pong(c, w)
    return w._replace(d_main="quit") if not w.d_pkg and w.d_pcs is PostcopyState.RUNNING else w


def pong_after_run(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """The destination answers PING 0x42 after RUN: the package is built with the PING after
    ``MIG_CMD_POSTCOPY_RUN`` and the destination keeps reading it after RUN.

    Wrong: RUN schedules the guest start, so the guest may run before the PONG is even sent;
    no PONG no longer means "the destination has not run" (Implication B of protocol.md 7.2)
    outside the short PONG-in-flight window."""
    rows = replace_row(rows, "postcopy_start: send package", effect=_package_effect(_pong_after_run))
    rows = replace_row(rows, "loadvm_process_command: PING", effect=_pong_then_quit)
    rows = replace_row(rows, "loadvm_postcopy_handle_run", effect=_run_keep_reading)
    return replace_row(rows, "loadvm_postcopy_handle_run: already active", effect=_run_keep_reading)


_BUFFERED = "MIG_CMD_PACKAGED (in the send buffer)"


def _unflushed_package(c: Config, w: World) -> World:
    w = send_main(w, (_BUFFERED, source.package_items(c)))
    if c.postcopy_ram:
        w = send_main(w, PING_4)
    return w._replace(s_pc=PC_SENT)


def _flush_if_followed(effect: Callable[[Config, World], World]) -> Callable[[Config, World], World]:
    def wrapped(c: Config, w: World) -> World:
        new = effect(c, w)
        main = new.main
        for i, m in enumerate(main):
            if isinstance(m, tuple) and m[0] == _BUFFERED and i < len(main) - 1:
                main = (*main[:i], (PACKAGED, m[1]), *main[i + 1:])
                return new._replace(main=main)
        return new
    return wrapped


def no_flush_after_package(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """Patch 1 (1529ec8f5f) reverted: no flush after the ``MIG_CMD_PACKAGED`` data. The package
    stays in the send buffer and reaches the destination only when something else is written
    after it (PING 4, pages, EOF all flush).

    Wrong in QEMU: a source with nothing more to send (iotest 194's dirty-bitmap postcopy) waits
    for a PONG that the destination cannot send before it has the package (R9).

    Caught on ``qemu-10.2-bitmaps-return-path`` (iotest 194's setup: dirty bitmaps with a return
    path, nothing left to send after the switchover): the source waits for the PONG at once and
    the package never leaves the buffer. With postcopy-ram, PING 4 follows the package in the same
    step and flushes it, so configurations with RAM cannot tell this mutant apart."""
    rows = replace_row(rows, "postcopy_start: send package", effect=_unflushed_package)
    return tuple(dataclasses.replace(r, effect=_flush_if_followed(r.effect)) if r.side == "src" else r
                 for r in rows)


def pause_before_run(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """The destination pauses on any postcopy stream error, without checking PostcopyState
    RUNNING (the check in ``qemu_loadvm_state_main`` dropped).

    Wrong: before RUN the destination has not started the guest and the source fails and
    resumes; a destination paused there waits for a recovery that will never come."""
    listen = lambda c, w: source_listen_read_error(c, w) and c.postcopy_ram  # noqa: E731
    rows = replace_row(rows, "postcopy_pause_incoming", guard=listen,
                       source=statuses(S.POSTCOPY_DEVICE, S.POSTCOPY_ACTIVE, S.POSTCOPY_RECOVER))
    return replace_row(rows, "postcopy_listen_thread: failed",
                       guard=lambda c, w: source_listen_read_error(c, w) and not c.postcopy_ram)


def source_listen_read_error(c: Config, w: World) -> bool:
    from model.destination import listen_read_error
    return listen_read_error(c, w)


def rp_error_no_wake(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """11.1's fix lost: a return-path error does not end the wait for PONG 0x42 (the rp thread
    no longer posts ``rp_sem`` when it exits with an error in postcopy-device), as in 10.2.

    Wrong: after SHUT(1) from a destination that failed to load the device state, a source with
    nothing left to send waits for ever in postcopy-device with its guest stopped (section 6)."""
    return remove_row(rows, "migration_iteration_run: woken by rp error (11.1)")


def detect_error_pauses(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """``migration_detect_error`` pauses in postcopy-device as it does in postcopy-active (the
    state added to the "postcopy" set that decides between pause and fail).

    Wrong: a paused source keeps its guest stopped and waits for a recovery that needs a
    destination which never loaded the device state: the source cannot resume (S13)."""
    return replace_row(rows, "migration_detect_error: postcopy-device", dest=S.POSTCOPY_PAUSED,
                       effect=source.pause, fails=False)


def _listen_and_start(c: Config, w: World) -> World:
    from model.destination import listen
    return listen(c, w)._replace(d_bh=True)


def dst_starts_at_listen(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """The destination schedules the guest start when the listen thread starts (LISTEN), not on
    RUN (a refactor of ``postcopy_incoming_setup`` that moved the BH).

    Wrong: the guest runs before the device state is loaded and before PONG 0x42 is sent, while
    the source still believes it may resume."""
    rows = replace_row(rows, "postcopy_listen_thread: postcopy-device", effect=_listen_and_start)
    return replace_row(rows, "postcopy_listen_thread: postcopy-active", effect=_listen_and_start)


def ignore_shut_1(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """The source's rp thread treats SHUT(1) like SHUT(0) (the "Sibling indicated error" check
    lost).

    Wrong: a destination that failed reports it on SHUT(1); the source then completes as if the
    destination had finished, and nobody runs the guest."""
    return replace_row(rows, "source_return_path_thread: SHUT(1)", effect=source.rp_exit_ok)


def postcopy_start_fail_bug(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """R12 regressed: the ``postcopy_start`` fail path expects POSTCOPY_ACTIVE again, so a stream
    error at the switchover leaves DEVICE and "Unknown ending state" (the 10.0/10.1 bug, fixed
    by 725a9e5f78) on a 10.2+ source.

    Wrong: the source never fails nor restarts its guest after a failure at the switchover."""
    fixed = _row(rows, "postcopy_start: fail")
    rows = replace_row(rows, "postcopy_start: fail",
                       guard=lambda c, w: fixed.guard(c, w) and w.s_status is not S.DEVICE)
    return replace_row(rows, "postcopy_start: fail (10.0 bug)", guard=source.package_fails, since=(), until=())


def ping_before_device_state(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """PING 0x42 placed before the device state in the package (LISTEN, PING 0x42, device state,
    PING 3, RUN).

    Wrong: the PONG then only says the package arrived, not that its device state loaded; the
    source commits to postcopy-active and cannot resume when the device load fails."""
    def order(c: Config) -> tuple[str, ...]:
        items = [i for i in source.package_items(c) if i != PING_0x42]
        if PING_0x42 in source.package_items(c):
            items.insert(items.index(PKG_DEVICE_STATE), PING_0x42)
        return tuple(items)
    assert LISTEN and PING_3 and RUN and PONG_0x42 and SHUT_1  # the names the docs refer to
    return replace_row(rows, "postcopy_start: send package", effect=_package_effect(order))


_ALL: tuple[tuple[str, RowsFn, tuple[str, ...], bool], ...] = (
    ("pre-10.2-switchover", pre_10_2_switchover, ("qemu-11.1-busy-guest", "qemu-10.2-busy-guest"), False),
    ("v1-cas-in-rp-thread", v1_cas_in_rp_thread, ("qemu-11.1-busy-guest", "qemu-11.1"), False),
    ("no-ping-0x42", no_ping_0x42, ("qemu-11.1-busy-guest", "qemu-11.1"), False),
    ("act-on-any-pong", act_on_any_pong, ("qemu-11.1-busy-guest",), False),
    ("postcopy-active-before-package", postcopy_active_before_package, ("qemu-11.1-busy-guest",), False),
    ("restart-without-disks", restart_without_disks, ("qemu-11.1-shared-disk-busy-guest",), False),
    ("cancel-in-postcopy-device", cancel_in_postcopy_device, ("qemu-11.1-busy-guest",), False),
    ("complete-from-postcopy-device", complete_from_postcopy_device, ("qemu-11.1",), False),
    ("pong-after-run", pong_after_run, ("qemu-11.1-busy-guest",), False),
    ("no-flush-after-package", no_flush_after_package, ("qemu-10.2-bitmaps-return-path",), False),
    ("pause-before-run", pause_before_run, ("qemu-11.1-busy-guest",), False),
    ("rp-error-no-wake", rp_error_no_wake, ("qemu-11.1",), False),
    ("detect-error-pauses", detect_error_pauses, ("qemu-11.1-busy-guest",), False),
    ("dst-starts-at-listen", dst_starts_at_listen, ("qemu-11.1-busy-guest",), False),
    ("ignore-shut-1", ignore_shut_1, ("qemu-11.1-busy-guest",), False),
    ("postcopy-start-fail-bug", postcopy_start_fail_bug, ("qemu-11.1-busy-guest",), False),
    ("ping-before-device-state", ping_before_device_state, ("qemu-11.1-busy-guest",), False),
)


def _doc(fn: RowsFn) -> str:
    return " ".join((fn.__doc__ or "").split())


MUTANTS: dict[str, Mutant] = {
    name: Mutant(name, _doc(fn), cfgs, fn, equivalent) for name, fn, cfgs, equivalent in _ALL
}

for _m in MUTANTS.values():
    for _c in _m.configs:
        assert _c in configs.NAMED, f"mutant {_m.name}: unknown configuration {_c}"
