"""The operator: QMP commands on either QEMU, with the guards QEMU applies to them.

System: the ``qmp_*`` handlers in ``migration/migration.c`` and ``monitor/qmp-cmds.c``
(``cont``), protocol.md sections 4.3 and 9. A command QEMU refuses is a row with ``refusal``: a
visible step that changes nothing, so a counterexample can show "migrate_cancel was refused here".

Operator policy (what a sane management layer such as libvirt does, and the only freedom the model
gives it):
* ``migrate-incoming`` then ``migrate`` once; no second migration attempt.
* ``migrate-start-postcopy`` at most once, before the switchover.
* ``cont`` on the source only after the migration failed or was cancelled (never after
  ``completed``); ``cont`` on the destination whenever its guest is paused (``-S``).
* ``quit`` on the destination once the source's migration failed or was cancelled: management
  falls back to the source and tears the destination down.
* Refusals and no-ops (a self-loop each: they change nothing) wherever QEMU answers so, read in
  the handlers of QEMU 7.2 and 10.2.2 and recorded on 7.2.22 and 11.1.3 (docs/conform.md,
  "QMP commands in every state"): ``migrate`` while a migration runs, ``migrate_cancel`` in
  postcopy since 10.0 and accepted without effect once the migration ended, ``migrate-pause``
  outside "alive" postcopy (7.2: outside postcopy-active), ``migrate-recover`` outside
  postcopy-paused, ``migrate-continue`` outside pre-switchover, ``cont`` in runstate
  finish-migrate (refused) or on a running guest (no-op), ``stop`` on a guest that is not
  running (no-op), a second ``migrate_cancel`` while ``cancelling`` (it emits ``cancelling``
  again: QEMU's migration-test cancel/src/after/cancelling, docs/qemu-10.2.md). Not modelled:
  ``stop`` of a running guest, ``cont`` on a completed source (both restart or stop a guest
  against the operator policy above).
"""

from __future__ import annotations

from model.config import Config
from model.messages import DEVICE_STATE, EOF
from model.status import IN_POSTCOPY, POSTCOPY_ALIVE, RUNNING_STATES, RunState
from model.status import MigrationStatus as S
from model.table import Row, statuses, unchanged
from model.world import (
    DISK_DST,
    DISK_NONE,
    DISK_SRC,
    DM_IDLE,
    DM_LISTEN,
    LINK_NONE,
    LINK_UP,
    PC_CLEANUP,
    PC_COMPLETE,
    PC_DONE,
    PC_FINISH,
    PC_IDLE,
    PC_PACKAGE,
    PC_PAUSED,
    PC_PC_COMPLETE,
    PC_PRE_SWITCHOVER,
    PC_SETUP,
    PC_STUCK,
    RP_ERR,
    RP_ON,
    World,
    activate_disk,
    break_link,
    incoming_started,
    partitioned,
    send_main,
)

MC = "migration/migration.c"
QC = "monitor/qmp-cmds.c"
CANCEL_REFUSED = "Postcopy migration in progress, cannot cancel."
PAUSE_REFUSED = "migrate-pause is currently only supported during postcopy-active or postcopy-recover state"
NOT_FINALIZED = "Migration is not finalized yet"
LOCK_REFUSED = "Failed to get \"write\" lock"
IN_PROGRESS = "There's a migration process in progress"
RECOVER_REFUSED = "Migrate recover can only be run when postcopy is paused."
CONTINUE_REFUSED = "Migration not in expected state: %s"
NO_POSTCOPY = "Enable postcopy with migrate_set_capability before the start of migration"

# --- source -------------------------------------------------------------------------------------


def can_migrate(c: Config, w: World) -> bool:
    return w.s_pc == PC_IDLE


def migrate(c: Config, w: World) -> World:
    """``migrate_init``: NONE (silent) then SETUP; the flag and event of PONG 0x42 are reset."""
    return w._replace(s_pc=PC_SETUP, s_loaded=False)


def migration_is_running(c: Config, status: S) -> bool:
    """``migration_is_running``: the states a new ``migrate`` is refused in (7.2 and 10.2.2 read;
    11.1's ``failing`` is left out: its handler was not read)."""
    return status in RUNNING_STATES and status is not S.FAILING


def migrate_refused(c: Config, w: World) -> bool:
    """``migrate_prepare``: "There's a migration process in progress" (7.2: QERR_MIGRATION_ACTIVE,
    the same text)."""
    return w.s_pc != PC_IDLE and migration_is_running(c, w.s_status)


def can_start_postcopy(c: Config, w: World) -> bool:
    return c.postcopy and not w.s_start_postcopy and w.s_status in (S.SETUP, S.ACTIVE)


def cancellable(c: Config, w: World) -> bool:
    if w.s_status not in RUNNING_STATES or w.s_status in (S.CANCELLING, S.FAILING):
        return False
    if w.s_pc in (PC_FINISH, PC_CLEANUP, PC_DONE):
        return False
    return not (w.s_status in IN_POSTCOPY and c.src.cancel_refused_in_postcopy)


def cancel_without_file(c: Config, w: World) -> bool:
    """``migration_cancel`` in ``setup`` with no outgoing file yet (``setup && !s->to_dst_file``:
    the connect is still pending, ``LINK_NONE``): since 10.0 the handler completes the cancel
    itself, under the BQL it already holds (``Version.cancel_completes_without_file``)."""
    return (c.src.cancel_completes_without_file and w.s_status is S.SETUP and w.s_pc == PC_SETUP
            and w.link == LINK_NONE)


def cancel(c: Config, w: World) -> World:
    """``migration_cancel``: CANCELLING, shut the stream down; release a pre-switchover wait. With
    no outgoing file yet (10.0+), the handler keeps the BQL for its CANCELLING -> CANCELLED
    (``s_cancel``)."""
    w = break_link(w)._replace(s_cancel=cancel_without_file(c, w))
    if w.s_pc == PC_PRE_SWITCHOVER:
        w = w._replace(s_pc=PC_PACKAGE)
    return w


def cancel_races_rp(c: Config, w: World) -> bool:
    """The migration thread is joining a return-path thread that still reads (precopy completion
    waiting for SHUT(0), postcopy completion). ``migration_cancel`` (10.2.2, 11.1) and
    ``migrate_fd_cancel`` (7.2) shut the return path down *before* their compare-and-swap loop to
    CANCELLING, so the return-path thread's error can reach that thread first: it fails
    (``migration_completion``) before the CAS. Elsewhere the window changes nothing: the
    migration thread needs the BQL (held by the QMP handler) to stop the guest or to finish, and
    its other steps do not read the return path's error."""
    return w.s_rp == RP_ON and w.s_pc in (PC_COMPLETE, PC_PC_COMPLETE)


def cancel_now(c: Config, w: World) -> bool:
    return cancellable(c, w) and not cancel_races_rp(c, w)


def cancel_shuts_rp_first(c: Config, w: World) -> bool:
    return cancellable(c, w) and cancel_races_rp(c, w)


def shut_rp_for_cancel(c: Config, w: World) -> World:
    """``qemu_file_shutdown(rp_state.from_dst_file)``: the file's error is set before the socket's
    shutdown (migration/qemu-file.c), so the return-path thread's next read fails whatever it
    has buffered; it records the error and leaves. The handler keeps the BQL for its CAS."""
    return w._replace(s_rp=RP_ERR, s_error=True, s_cancel=True)


def cancel_cas_running(c: Config, w: World) -> bool:
    """The CAS loop after the return path's shutdown finds a running migration: 11.1 counts its
    ``failing`` as running (``migration_is_running``, the patch "migration: introduce
    MIGRATION_STATUS_FAILING"), so a migration thread that failed in the window is cancelled all
    the same (``failing -> cancelling``, seen on real 11.1.3: docs/replay-gaps.md)."""
    return w.s_cancel and w.s_status in RUNNING_STATES and w.s_status is not S.CANCELLING


def cancel_completes_itself(c: Config, w: World) -> bool:
    """The handler's last step when it found no outgoing file (``cancel_without_file``): the
    migration thread does not exist yet, so nothing else would complete the cancel."""
    return w.s_cancel and w.s_pc == PC_SETUP and w.link == LINK_NONE


def cancel_cas_not_running(c: Config, w: World) -> bool:
    """10.2.2 and 7.2: the migration thread set FAILED in the window; ``migration_is_running`` is
    false, the loop breaks, the stream is not shut down and no event is sent: the cancel was a
    no-op (seen on real 10.2.2: docs/replay-gaps.md)."""
    return w.s_cancel and w.s_status not in RUNNING_STATES


CANCEL_CAS = frozenset({"migration_cancel: cancelling", "migration_cancel: no longer running",
                        "migration_cancel: no connection yet"})
"""The main-loop rows that finish a ``migrate_cancel`` begun by its return-path shutdown, or one
that found no outgoing file (``cancel_without_file``): while
``s_cancel`` holds, the handler has the BQL and nothing else of the source's main loop runs
(``model/system.py``)."""


def cancel_noop(c: Config, w: World) -> bool:
    """``migration_cancel`` (10.2.2) / ``migrate_fd_cancel`` (7.2) on a migration that is no longer
    running, or before any (status none: QEMU's migration-test cancel/src/after/none): the loop
    breaks at once, nothing changes, no event; QMP answers ``{}`` (11.1.3 and 7.2.22 on a failed
    source: docs/conform.md)."""
    if w.s_status is S.NONE:
        return w.s_pc == PC_IDLE
    if w.s_status is S.CANCELLED:  # also while a connect that outlived the cancel is pending or
        return True  # its thread runs: migration_is_running() is false for CANCELLED
    return w.s_pc == PC_DONE and w.s_status in (S.COMPLETED, S.FAILED)


def cancel_refused(c: Config, w: World) -> bool:
    return w.s_status in IN_POSTCOPY and c.src.cancel_refused_in_postcopy


def postcopy_is_alive(c: Config, status: S) -> bool:
    """``migration_postcopy_is_alive`` (10.2.2): postcopy-active or postcopy-recover; 7.2's
    ``qmp_migrate_pause`` compares with POSTCOPY_ACTIVE only."""
    return status is S.POSTCOPY_ACTIVE or (status is S.POSTCOPY_RECOVER and c.src.since(10, 0))


def dst_postcopy_is_alive(c: Config, status: S) -> bool:
    return status is S.POSTCOPY_ACTIVE or (status is S.POSTCOPY_RECOVER and c.dst.since(10, 0))


def src_pause(c: Config, w: World) -> World:
    """``qmp_migrate_pause``: record the error, shut ``to_dst_file`` down, kick ``rp_sem``."""
    return break_link(w)._replace(s_error=True)


def paused_waiting(c: Config, w: World) -> bool:
    return w.s_pc == PC_PAUSED


def dst_listens(w: World) -> bool:
    return w.d_alive and w.d_status is S.POSTCOPY_PAUSED and w.d_recover and w.link != LINK_UP and not partitioned(w)


def resume_72_connects(c: Config, w: World) -> bool:
    return paused_waiting(c, w) and not c.src.recover_setup and dst_listens(w)


def resume_72_no_listener(c: Config, w: World) -> bool:
    return paused_waiting(c, w) and not c.src.recover_setup and not dst_listens(w)


def resume_72(c: Config, w: World) -> World:
    return w._replace(link=LINK_UP, main=(), rp=(), s_rp="on")


def continue_ok(c: Config, w: World) -> bool:
    return w.s_pc == PC_PRE_SWITCHOVER


def precopy_continue(c: Config, w: World) -> World:
    """``migrate-continue`` at a precopy pause: the migration thread goes on to DEVICE and sends
    the device state and EOF (one step here, as for the postcopy pause)."""
    return send_main(w, DEVICE_STATE, EOF)._replace(s_pc=PC_COMPLETE)


def src_cont_ok(c: Config, w: World) -> bool:
    return (w.s_status in (S.FAILED, S.CANCELLED) and w.s_pc == PC_DONE and w.s_run is not RunState.RUNNING
            and activate_disk(c, w, DISK_SRC)[1])


def src_cont_locked(c: Config, w: World) -> bool:
    return (w.s_status in (S.FAILED, S.CANCELLED) and w.s_pc == PC_DONE and w.s_run is not RunState.RUNNING
            and not activate_disk(c, w, DISK_SRC)[1])


def finish_migrate(c: Config, w: World) -> bool:
    """``qmp_cont`` refuses while the runstate is finish-migrate (7.2 and 10.2.2)."""
    return w.s_run is RunState.FINISH_MIGRATE


def src_already_running(c: Config, w: World) -> bool:
    """``cont`` on a running guest: ``vm_start`` finds it running and does nothing (a management
    layer resuming a source that restarted its guest by itself, 10.2+ after a failure)."""
    return w.s_run is RunState.RUNNING and w.s_status is not S.NONE


def src_stop_noop(c: Config, w: World) -> bool:
    """``stop`` while the guest is not running (finish-migrate, postmigrate, paused):
    ``do_vm_stop`` changes nothing and sends no STOP (7.2.22 and 11.1.3 in postcopy-active,
    docs/conform.md; 10.0.2 in ``cancelling``, docs/real-qemu.md "QMP commands in stuck and
    terminal states")."""
    return w.s_run is not RunState.RUNNING


def src_stop_before_migrate(c: Config, w: World) -> bool:
    """``stop`` on the running source before ``migrate``: a non-live precopy (QEMU's migration-test
    precopy/tcp/plain). Modelled for precopy-only configurations (``Config.postcopy`` false)."""
    return not c.postcopy and w.s_pc == PC_IDLE and w.s_run is RunState.RUNNING


def src_stop(c: Config, w: World) -> World:
    """``qmp_stop`` -> ``vm_stop(RUN_STATE_PAUSED)`` (STOP); the migration's ``vm_old_state`` will
    not be live."""
    return w._replace(s_run=RunState.PAUSED, s_live=False)


def src_cont(c: Config, w: World) -> World:
    w, _ = activate_disk(c, w, DISK_SRC)
    return w._replace(s_run=RunState.RUNNING)


# --- destination --------------------------------------------------------------------------------


def can_listen(c: Config, w: World) -> bool:
    return w.d_main == DM_IDLE


def listen(c: Config, w: World) -> World:
    """``qemu_start_incoming_migration``: the listener is up; the main thread waits for the
    connection (``process_incoming_migration_co`` runs when it is accepted)."""
    return w._replace(d_main=DM_LISTEN)


def dst_pause(c: Config, w: World) -> World:
    """``qmp_migrate_pause`` on the destination: shut ``from_src_file`` down (nothing more to do
    when the connection is already broken: the main thread sees the error at its next read)."""
    return break_link(w)


def can_recover(c: Config, w: World) -> bool:
    return not w.d_recover and not w.d_rp


def listen_for_recovery(c: Config, w: World) -> World:
    return w._replace(d_recover=True)


def dst_cont_ok(c: Config, w: World) -> bool:
    return w.d_run is RunState.PAUSED and not w.d_bh and activate_disk(c, w, DISK_DST)[1]


def dst_cont_locked(c: Config, w: World) -> bool:
    return w.d_run is RunState.PAUSED and not w.d_bh and not activate_disk(c, w, DISK_DST)[1]


def dst_cont(c: Config, w: World) -> World:
    w, _ = activate_disk(c, w, DISK_DST)
    return w._replace(d_run=RunState.RUNNING, h_dst_ran=True)


def dst_cont_early(c: Config, w: World) -> bool:
    """``cont`` while still INMIGRATE only sets ``autostart``; the RUN BH starts the guest."""
    return w.d_run is RunState.INMIGRATE and not w.d_autostart and incoming_started(w)


def source_took_over(c: Config, w: World) -> bool:
    """The operator's cleanup after a failed migration: the source's migration ended in failure
    or cancellation, so management falls back to it and tears the destination down (libvirt
    kills the destination QEMU when a migration fails)."""
    return w.s_alive and w.s_status in (S.FAILED, S.CANCELLED) and w.s_pc == PC_DONE


def quit_dst(c: Config, w: World) -> World:
    """``quit``: the process exits, its sockets close and its image locks go."""
    w = break_link(w)
    return w._replace(d_alive=False, disk=DISK_NONE if w.disk == DISK_DST else w.disk)


# --- yank (the accepted yank is a budgeted fault action, model/faults.py; its refusal is here) ---

YANK_NOT_FOUND = "Instance not found"


def yank_instance_gone(c: Config, w: World) -> bool:
    """The ``migration`` yank instance is unregistered by ``migration_cleanup``: after the 10.0
    bug's "Unknown ending state" the cleanup ran while the status stayed ``device`` (then
    ``cancelling`` after ``migrate_cancel``); real 10.0.2 answered "Instance not found"
    (docs/faults.md)."""
    return w.s_pc == PC_STUCK


ANYRUN = frozenset(RUNNING_STATES)

ROWS: tuple[Row, ...] = (
    Row("src", "qmp", "yank: refused", statuses(S.DEVICE, S.CANCELLING), None, yank_instance_gone, unchanged,
        "util/yank.c:qmp_yank", "the instance was unregistered by migration_cleanup", refusal=YANK_NOT_FOUND),
    Row("dst", "qmp", "migrate-incoming", statuses(S.NONE), S.SETUP, can_listen, listen,
        f"{MC}:qmp_migrate_incoming",
        "D1: listen (exit-on-error from the configuration); 7.2 stays NONE and only emits 'setup' "
        "(qemu_start_incoming_migration: Version.incoming_setup)"),
    Row("src", "qmp", "migrate", statuses(S.NONE), S.SETUP, can_migrate, migrate,
        f"{MC}:qmp_migrate", "S1: migrate_init, then the migration thread"),
    Row("src", "qmp", "migrate: refused", frozenset(S), None, migrate_refused, unchanged,
        f"{MC}:migrate_prepare", "a second migration while one runs", refusal=IN_PROGRESS),
    Row("src", "qmp", "migrate-start-postcopy: refused", frozenset(S), None, lambda c, w: not c.postcopy,
        unchanged, f"{MC}:qmp_migrate_start_postcopy", "precopy only: neither postcopy-ram nor dirty-bitmaps",
        refusal=NO_POSTCOPY),
    Row("src", "qmp", "migrate-start-postcopy", statuses(S.SETUP, S.ACTIVE), None, can_start_postcopy,
        lambda c, w: w._replace(s_start_postcopy=True), f"{MC}:qmp_migrate_start_postcopy",
        "sets start_postcopy; the migration thread switches later"),
    Row("src", "qmp", "migrate_cancel", ANYRUN, S.CANCELLING, cancel_now, cancel,
        f"{MC}:qmp_migrate_cancel", "S22"),
    Row("src", "qmp", "migrate_cancel: shut the return path down", ANYRUN, None, cancel_shuts_rp_first,
        shut_rp_for_cancel, f"{MC}:migration_cancel",
        "S22, first half: the return path is shut down before the CAS to CANCELLING"),
    Row("src", "main", "migration_cancel: cancelling", ANYRUN, S.CANCELLING, cancel_cas_running, cancel,
        f"{MC}:migration_cancel", "S22, second half: CAS to CANCELLING, shut the stream down"),
    Row("src", "main", "migration_cancel: no connection yet", statuses(S.CANCELLING), S.CANCELLED,
        cancel_completes_itself, lambda c, w: w._replace(s_cancel=False), f"{MC}:migration_cancel",
        "10.0+: setup && !s->to_dst_file: the handler completes the cancel; the pending connect is not "
        "stopped (model/source.py 'migration_connect: after the cancel'; docs/qemu-qtest.md)"),
    Row("src", "main", "migration_cancel: no longer running", frozenset(S) - ANYRUN, None,
        cancel_cas_not_running, lambda c, w: w._replace(s_cancel=False), f"{MC}:migration_cancel",
        "the migration failed in the window: the loop breaks, nothing else happens"),
    Row("src", "qmp", "migrate_cancel: refused", frozenset(IN_POSTCOPY), None, cancel_refused, unchanged,
        f"{MC}:qmp_migrate_cancel", "refused in every postcopy state since 10.0", refusal=CANCEL_REFUSED),
    Row("src", "qmp", "migrate_cancel: again", statuses(S.CANCELLING), None, lambda c, w: True, unchanged,
        f"{MC}:migration_cancel",
        "cancelling still counts as running: CANCELLING -> CANCELLING, whose compare-and-swap succeeds, "
        "so migrate_set_state emits MIGRATION cancelling again (model/events.py; migration-test "
        "cancel/src/after/cancelling; docs/qemu-10.2.md)"),
    Row("src", "qmp", "migrate_cancel: not running", statuses(S.NONE, S.COMPLETED, S.FAILED, S.CANCELLED), None,
        cancel_noop, unchanged, f"{MC}:migration_cancel", "accepted, changes nothing (7.2: migrate_fd_cancel)"),
    Row("src", "qmp", "migrate-pause", frozenset(POSTCOPY_ALIVE), None,
        lambda c, w: postcopy_is_alive(c, w.s_status), src_pause,
        f"{MC}:qmp_migrate_pause", "the stream is shut down; S14/S21 follow"),
    Row("src", "qmp", "migrate-pause: refused", frozenset(S) - {S.NONE}, None,
        lambda c, w: not postcopy_is_alive(c, w.s_status), unchanged,
        f"{MC}:qmp_migrate_pause", "only 'alive' postcopy (not postcopy-device, not paused)", refusal=PAUSE_REFUSED),
    Row("src", "qmp", "migrate resume=true", statuses(S.POSTCOPY_PAUSED), S.POSTCOPY_RECOVER_SETUP,
        lambda c, w: paused_waiting(c, w) and c.src.recover_setup, unchanged, f"{MC}:migrate_prepare",
        "S17"),
    Row("src", "qmp", "migrate resume=true (7.2)", statuses(S.POSTCOPY_PAUSED), S.POSTCOPY_RECOVER,
        resume_72_connects, resume_72, f"{MC}:migrate_fd_connect", "7.2: PAUSED -> RECOVER on connect"),
    Row("src", "qmp", "migrate resume=true (7.2): connect failed", statuses(S.POSTCOPY_PAUSED), None,
        resume_72_no_listener, unchanged, f"{MC}:migrate_fd_connect",
        "7.2: a failed connect leaves the source silently paused"),
    Row("src", "qmp", "migrate-continue", statuses(S.PRE_SWITCHOVER), S.DEVICE,
        lambda c, w: continue_ok(c, w) and c.src.device_state and w.s_start_postcopy,
        lambda c, w: w._replace(s_pc=PC_PACKAGE),
        f"{MC}:migration_switchover_prepare", "qmp_migrate_continue sets pause_event; this goes on to DEVICE"),
    Row("src", "qmp", "migrate-continue (7.2)", statuses(S.PRE_SWITCHOVER), S.POSTCOPY_ACTIVE,
        lambda c, w: continue_ok(c, w) and not c.src.device_state and w.s_start_postcopy,
        lambda c, w: w._replace(s_pc=PC_PACKAGE),
        f"{MC}:migration_maybe_pause", "7.2: PRE_SWITCHOVER -> POSTCOPY_ACTIVE"),
    Row("src", "qmp", "migrate-continue (precopy)", statuses(S.PRE_SWITCHOVER), S.DEVICE,
        lambda c, w: continue_ok(c, w) and not w.s_start_postcopy, precopy_continue,
        f"{MC}:migration_switchover_prepare",
        "precopy: DEVICE, then the device state and EOF (migration_completion_precopy)"),
    Row("src", "qmp", "migrate-continue: refused", frozenset(S) - {S.NONE, S.PRE_SWITCHOVER}, None,
        lambda c, w: True, unchanged, f"{MC}:qmp_migrate_continue",
        "the state is not pre-switchover", refusal=CONTINUE_REFUSED),
    Row("src", "qmp", "cont", statuses(S.FAILED, S.CANCELLED), None, src_cont_ok, src_cont,
        f"{QC}:qmp_cont", "management resumes the source after a failed migration"),
    Row("src", "qmp", "cont: refused (lock)", statuses(S.FAILED, S.CANCELLED), None, src_cont_locked, unchanged,
        "block.c:bdrv_activate_all", "the destination holds the image lock", refusal=LOCK_REFUSED),
    Row("src", "qmp", "cont: refused", frozenset(S), None, finish_migrate, unchanged,
        f"{QC}:qmp_cont", "runstate finish-migrate: the migration is not finalized", refusal=NOT_FINALIZED),
    Row("src", "qmp", "cont: already running", frozenset(S), None, src_already_running, unchanged,
        f"{QC}:qmp_cont", "vm_start on a running guest does nothing"),
    Row("src", "qmp", "stop", statuses(S.NONE), None, src_stop_before_migrate, src_stop, f"{QC}:qmp_stop",
        "before migrate, precopy only: the guest pauses (STOP); a non-live migration"),
    Row("src", "qmp", "stop: not running", frozenset(S) - {S.NONE}, None, src_stop_noop, unchanged,
        f"{QC}:qmp_stop", "do_vm_stop: the guest is not running, nothing changes, no STOP"),
    Row("dst", "qmp", "migrate-pause", frozenset(POSTCOPY_ALIVE), None,
        lambda c, w: dst_postcopy_is_alive(c, w.d_status),
        dst_pause, f"{MC}:qmp_migrate_pause",
        "shuts from_src_file down; D8 follows (on a connection already broken it changes nothing: QEMU's "
        "migration-test postcopy/recovery/double-failures/* pauses a destination in postcopy-recover)"),
    Row("dst", "qmp", "migrate-pause: refused", frozenset(S), None,
        lambda c, w: incoming_started(w) and not dst_postcopy_is_alive(c, w.d_status), unchanged,
        f"{MC}:qmp_migrate_pause", "only 'alive' postcopy (not postcopy-device, not paused)", refusal=PAUSE_REFUSED),
    Row("dst", "qmp", "migrate-recover", statuses(S.POSTCOPY_PAUSED), None, can_recover, listen_for_recovery,
        f"{MC}:qmp_migrate_recover", "a new listener; D9 happens on connect (7.2 emits 'setup')"),
    Row("dst", "qmp", "migrate-recover: refused", frozenset(S) - {S.POSTCOPY_PAUSED}, None,
        lambda c, w: c.postcopy_ram and incoming_started(w), unchanged, f"{MC}:qmp_migrate_recover",
        "only in postcopy-paused", refusal=RECOVER_REFUSED),
    Row("dst", "qmp", "cont", frozenset(S), None, dst_cont_ok, dst_cont, f"{QC}:qmp_cont",
        "start a -S destination guest"),
    Row("dst", "qmp", "cont: refused (lock)", frozenset(S), None, dst_cont_locked, unchanged,
        "block.c:bdrv_activate_all", "the source holds the image lock", refusal=LOCK_REFUSED),
    Row("dst", "qmp", "quit", frozenset(S), None, source_took_over, quit_dst, "monitor/qmp-cmds.c:qmp_quit",
        "management tears down the destination after the migration failed"),
    Row("dst", "qmp", "cont: before RUN", frozenset(S), None, dst_cont_early,
        lambda c, w: w._replace(d_autostart=True), f"{QC}:qmp_cont",
        "INMIGRATE: only sets autostart (commit 1e9981465f)"),
)
