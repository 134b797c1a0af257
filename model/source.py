"""The source QEMU: its migration thread, its return-path thread and its main-loop work.

System: ``migration/migration.c`` (10.2-era, protocol.md MC-10.2, and the 11.1.3 build observed in
real-qemu.md), transitions S1-S24 of protocol.md section 4. QMP handlers are in ``management.py``.

How the source moves (the postcopy path):
* ``migrate`` creates the migration thread, which connects, opens the return path and iterates
  RAM (``active``). Once the operator asked for postcopy, ``postcopy_start`` stops the guest
  (``device``; 7.2 goes to ``postcopy-active`` first), sends the package
  LISTEN + device state + PING 3 + PING 0x42 + RUN, and moves to ``postcopy-device`` (with a
  return path, 10.2+) or ``postcopy-active``.
* The return-path thread only sets ``postcopy_package_loaded`` on PONG 0x42; the migration thread
  acts on it at its next iteration (S12) and commits to ``postcopy-active``. With nothing left to
  send it blocks until the PONG (10.2: only the PONG wakes it; 11.1: a return-path error too).
* ``migration_detect_error`` runs every pass: a broken stream fails the migration in
  ``postcopy-device`` (S13; the guest restarts in ``migration_iteration_finish`` if the disks
  re-activate) but pauses it in ``postcopy-active`` (S14; the guest stays stopped).

Assumptions / abstractions:
* RAM is a boolean ``s_pending``; rate limiting is not modelled, so the interleaving in which the
  PONG flag is set but the thread checks errors first (R3) is simply one of the orders.
* multifd, COLO, wait-unplug and release-ram are left out. Of the postcopy-preempt channel only
  the wait for a first PONG before the switchover is modelled (its pages are abstract like all RAM).
* ``migrate`` is issued once per run; a second attempt after a failure is out of scope.
"""

from __future__ import annotations

from model.config import Config
from model.messages import DEVICE_STATE as PRECOPY_DEVICE_STATE
from model.messages import (
    EOF,
    LISTEN,
    OPEN_RETURN_PATH,
    PACKAGED,
    PING_1,
    PING_3,
    PING_4,
    PKG_DEVICE_STATE,
    POSTCOPY_ADVISE,
    POSTCOPY_RESUME,
    RAM,
    RESUME_ACK,
    RUN,
    SHUT_0,
    SHUT_1,
    PING_0x42,
    PONG_0x42,
)
from model.status import MigrationStatus as S
from model.status import RunState
from model.table import ANY, Row, statuses
from model.world import (
    DISK_NONE,
    DISK_SRC,
    LINK_DOWN,
    LINK_NONE,
    LINK_UP,
    PC_CLEANUP,
    PC_COMPLETE,
    PC_DONE,
    PC_FINISH,
    PC_ITERATE,
    PC_PACKAGE,
    PC_PAUSED,
    PC_PC_COMPLETE,
    PC_PRE_SWITCHOVER,
    PC_RESUME,
    PC_SENT,
    PC_SETUP,
    PC_STUCK,
    PC_WAIT_PONG,
    RP_ERR,
    RP_OFF,
    RP_OK,
    RP_ON,
    World,
    activate_disk,
    break_link,
    listening,
    partitioned,
    rp_closed,
    rp_head,
    send_main,
)

MC = "migration/migration.c"

# ---------------------------------------------------------------------------------------------
# The package, as postcopy_start() builds it (protocol.md 3.4, steps 8-12).


def package_items(c: Config) -> tuple[str, ...]:
    """LISTEN, the device state, PING 3 (postcopy-ram), PING 0x42 (10.2+, return path), RUN."""
    items = [LISTEN, PKG_DEVICE_STATE]
    if c.postcopy_ram:
        items.append(PING_3)
    if c.src.postcopy_device and c.has_return_path:
        items.append(PING_0x42)
    items.append(RUN)
    return tuple(items)


# ---------------------------------------------------------------------------------------------
# Guards and effects. Each is small and named after what QEMU does.


def _iterating(c: Config, w: World) -> bool:
    return w.s_pc == PC_ITERATE


def _stream_ok(w: World) -> bool:
    return w.link == LINK_UP


def connect_ok(c: Config, w: World) -> bool:
    """The destination listens (``migrate-incoming`` done) and nothing is connected yet."""
    return w.s_pc == PC_SETUP and w.d_alive and listening(w) and w.link == LINK_NONE


def connect_fails(c: Config, w: World) -> bool:
    return w.s_pc == PC_SETUP and w.link == LINK_NONE and not connect_ok(c, w)


def connected(c: Config, w: World) -> bool:
    """The channel is up (or already broken again): the migration thread is in its setup."""
    return w.s_pc == PC_SETUP and w.link != LINK_NONE


def do_connect(c: Config, w: World) -> World:
    """``migration_connect``: the channel is up; the return path opens iff postcopy-ram or
    return-path; ADVISE announces postcopy. The migration thread's setup
    (``qemu_savevm_state_setup``, then SETUP -> ACTIVE) is a later step: the destination, which
    goes ACTIVE as soon as it accepts the channel, may show ``active`` first (it does, by 1-2 ms, in
    the recordings of tests/fixtures/traces)."""
    w = w._replace(link=LINK_UP, main=(), rp=(), s_rp=RP_ON if c.has_return_path else RP_OFF)
    msgs = []
    if c.has_return_path:
        msgs.append(OPEN_RETURN_PATH)
        if c.postcopy_preempt:
            msgs.append(PING_1)  # answered by PONG 1, which postcopy_start waits for
    if c.postcopy:
        msgs.append(POSTCOPY_ADVISE)  # migration_thread: only if migrate_postcopy()
    return send_main(w, *msgs)


def to_finish(c: Config, w: World) -> World:
    """Leave the migration loop: ``migration_iteration_finish`` runs next."""
    return w._replace(s_pc=PC_FINISH)


def stream_broken(c: Config, w: World) -> bool:
    return _iterating(c, w) and w.link == LINK_DOWN


def precopy_can_complete(c: Config, w: World) -> bool:
    """Precopy converged and the operator has not asked for postcopy."""
    return _iterating(c, w) and not w.s_start_postcopy and _stream_ok(w)


def stop_vm_for_switchover(c: Config, w: World) -> World:
    """``migration_stop_vm`` (STOP) and ``migration_switchover_start``: inactivate the disks."""
    return w._replace(s_run=RunState.FINISH_MIGRATE, disk=DISK_NONE if w.disk == DISK_SRC else w.disk)


def precopy_complete_send(c: Config, w: World) -> World:
    w = stop_vm_for_switchover(c, w)._replace(s_pc=PC_COMPLETE)
    return send_main(w, PRECOPY_DEVICE_STATE, EOF)


def precopy_pause(c: Config, w: World) -> bool:
    """Precopy converged with pause-before-switchover (QEMU's migration-test
    cancel/src/after/pre-switchover; docs/qemu-10.2.md)."""
    return precopy_can_complete(c, w) and c.pause_before_switchover


def precopy_pause_wait(c: Config, w: World) -> World:
    """``migration_completion_precopy``: ``migration_stop_vm`` (STOP), then
    ``migration_switchover_prepare`` sets PRE_SWITCHOVER and waits for ``migrate-continue``."""
    return stop_vm_for_switchover(c, w)._replace(s_pc=PC_PRE_SWITCHOVER)


def rp_closed_cleanly(c: Config, w: World) -> bool:
    """``close_return_path_on_source`` joined an rp thread that left on SHUT(0), or there is
    none: then ``migration_completion`` checks only its own stream (``qemu_file_get_error``),
    whose last write (EOF) succeeded; the destination's orderly close afterwards is no error
    (10.2.2 ``migration_completion``, ``close_return_path_on_source`` returns at once without an
    rp thread)."""
    return w.s_rp in (RP_OK, RP_OFF)


def rp_closed_with_error(c: Config, w: World) -> bool:
    """The rp thread left with an error. A running rp thread is waited for: it reads what is
    left (SHUT) before it sees the error."""
    return w.s_rp == RP_ERR


def completed(c: Config, w: World) -> World:
    """``migration_iteration_finish`` for COMPLETED: runstate postmigrate, guest stays stopped."""
    return w._replace(s_pc=PC_DONE, s_run=RunState.POSTMIGRATE, s_rp=RP_OFF)


def postcopy_requested(c: Config, w: World) -> bool:
    """``postcopy_start`` may run; with postcopy-preempt only once a PONG arrived
    (``migration_wait_main_channel``). Also on a connection that broke since the thread last
    wrote: it notices only when it writes the package (steps 13/17, ``package_fails``). Real
    sources did so 90 ms after their destination was killed (the a_kill_dst_after_start_postcopy
    recordings), as 10.0.2's stranded ``device`` runs show too (docs/real-qemu.md, QEMU 10.0.2)."""
    return (_iterating(c, w) and w.s_start_postcopy and w.s_status is S.ACTIVE
            and (w.s_acked or not c.postcopy_preempt))


def preempt_wait_fails(c: Config, w: World) -> bool:
    """[inference] The wait for the first PONG ends with an error when the return path dies;
    ``postcopy_start`` then fails before stopping the guest (protocol.md 3.4 step 1)."""
    return (_iterating(c, w) and c.postcopy_preempt and w.s_start_postcopy and not w.s_acked
            and w.s_status is S.ACTIVE and w.s_rp == RP_ERR)


def start_postcopy(c: Config, w: World) -> World:
    """``postcopy_start`` steps 3-7: stop the guest, switch over, discard bitmap, PING 2."""
    w = stop_vm_for_switchover(c, w)
    return w._replace(s_pc=PC_PACKAGE, h_switched=True, h_postcopy=True,
                      s_pending=w.s_pending and c.pages_after_switchover)


def start_postcopy_72(c: Config, w: World) -> World:
    """7.2 enters postcopy-active at the top of ``postcopy_start``, before stopping the guest."""
    return start_postcopy(c, w)._replace(h_pca=True)


def pbs(c: Config, w: World) -> bool:
    return c.pause_before_switchover and postcopy_requested(c, w)


def no_pbs(c: Config, w: World) -> bool:
    return not c.pause_before_switchover and postcopy_requested(c, w)


def wait_pause_event(c: Config, w: World) -> World:
    return start_postcopy(c, w)._replace(s_pc=PC_PRE_SWITCHOVER)


def package_can_go(c: Config, w: World) -> bool:
    """Step 13 goes on whether or not the connection broke meanwhile: a write into a connection
    whose peer died succeeds until the kernel has the peer's RST (``package_fails`` is the
    other outcome, when it had). An 11.1 source whose destination was killed right after
    ``migrate-start-postcopy`` went on to ``postcopy-device`` that way (recorded by
    tests/live, scenario a_kill_dst_after_start_postcopy, 11.1.3 -> 7.2.22; docs/conform.md)."""
    return w.s_pc == PC_PACKAGE


def send_package(c: Config, w: World) -> World:
    """Steps 13-15: ``qemu_savevm_send_packaged`` (flushed, patch 1), then PING 4."""
    w = send_main(w, (PACKAGED, package_items(c)))
    if c.postcopy_ram:
        w = send_main(w, PING_4)
    return w._replace(s_pc=PC_SENT)


def package_fails(c: Config, w: World) -> bool:
    """Step 13 ("Last point of recovery") or step 17 finds the stream broken."""
    return w.s_pc in (PC_PACKAGE, PC_SENT) and w.link == LINK_DOWN and w.s_status is not S.CANCELLING


def package_fails_changing_state(c: Config, w: World) -> bool:
    """The fail path's compare-and-swap matches (every release but the 10.0 bug's)."""
    return package_fails(c, w) and not c.src.postcopy_start_fail_bug


def stuck_unknown_ending(c: Config, w: World) -> World:
    """10.0: the compare-and-swap expected POSTCOPY_ACTIVE, so DEVICE stays; the loop ends and
    ``migration_iteration_finish`` logs "Unknown ending state" without restarting the guest."""
    return w._replace(s_pc=PC_STUCK)


def package_sent_ok(c: Config, w: World) -> bool:
    """Step 17's error check passes unless the stream already saw the error (see
    ``package_can_go``): on a broken connection both outcomes are possible."""
    return w.s_pc == PC_SENT


def package_sent_with_rp(c: Config, w: World) -> bool:
    return package_sent_ok(c, w) and c.has_return_path


def package_sent_no_pong_wait(c: Config, w: World) -> bool:
    """Nothing to wait for: no return path, or a release without postcopy-device."""
    return package_sent_ok(c, w) and not (c.src.postcopy_device and c.has_return_path)


def back_to_loop(c: Config, w: World) -> World:
    return w._replace(s_pc=PC_ITERATE)


def enter_postcopy_active(c: Config, w: World) -> World:
    return w._replace(s_pc=PC_ITERATE, h_pca=True)


def pong_flag_set(c: Config, w: World) -> bool:
    return _iterating(c, w) and w.s_loaded


def act_on_pong(c: Config, w: World) -> World:
    """S12: the package was loaded; commit to postcopy-active."""
    return w._replace(s_pc=PC_ITERATE, h_acted=True, h_pca=True)


def drained_without_pong(c: Config, w: World) -> bool:
    return _iterating(c, w) and not w.s_loaded and not w.s_pending


def block_for_pong(c: Config, w: World) -> World:
    return w._replace(s_pc=PC_WAIT_PONG)


def woken_by_pong(c: Config, w: World) -> bool:
    return w.s_pc == PC_WAIT_PONG and w.s_loaded


def woken_by_rp_error(c: Config, w: World) -> bool:
    return w.s_pc == PC_WAIT_PONG and w.s_rp == RP_ERR and not w.s_loaded


def pause(c: Config, w: World) -> World:
    """``postcopy_pause``: join the rp thread, close the stream, wait on ``postcopy_pause_sem``."""
    return w._replace(s_pc=PC_PAUSED, s_rp=RP_OFF)


def tcp_gives_up(c: Config, w: World) -> bool:
    """During a silent partition, data the source sent stays unacknowledged: its kernel
    retransmits until ``tcp_retries2`` is exhausted (about 15 minutes by default) and then aborts
    the connection (docs/faults.md). Modelled where the unacknowledged data is certain: bytes held
    on a source -> destination partition, or pages still being sent while the destination's
    ACKs are dropped. Without such data (a source waiting for the PONG with nothing to send) no
    timeout comes: QEMU sets no keepalive on the migration socket."""
    if w.link != LINK_UP or not partitioned(w):
        return False
    return (w.part_main and bool(w.main)) or (w.part_rp and w.s_pending and w.s_pc == PC_ITERATE)


def connection_aborted(c: Config, w: World) -> World:
    """The source's socket is gone: its reads and writes fail; the destination hears of it only
    through a path that works (the RST crosses unless the source -> destination path is held).
    The silent partition has now made something fail: ``h_fault``, as after a reset."""
    if w.part_main:
        return w._replace(link=LINK_DOWN, rp=(), part_rp=False, h_fault=True)
    return w._replace(link=LINK_DOWN, main=(), rp=(), part_rp=False, h_fault=True)


def more_pages(c: Config, w: World) -> bool:
    return _iterating(c, w) and w.s_pending and _stream_ok(w) and not (w.main and w.main[-1] == RAM)


def send_pages(c: Config, w: World) -> World:
    return send_main(w, RAM)


def last_pages(c: Config, w: World) -> bool:
    """The last page can go while in postcopy-device only for a guest whose RAM may drain."""
    if not (_iterating(c, w) and w.s_pending and _stream_ok(w)):
        return False
    return w.s_status is S.POSTCOPY_ACTIVE or c.ram_may_drain


def send_last_pages(c: Config, w: World) -> World:
    return send_main(w, RAM)._replace(s_pending=False)


def postcopy_can_complete(c: Config, w: World) -> bool:
    return _iterating(c, w) and not w.s_pending and _stream_ok(w)


def send_eof(c: Config, w: World) -> World:
    """``qemu_savevm_state_complete_postcopy``: the rest and EOF; then join the rp thread."""
    return send_main(w, EOF)._replace(s_pc=PC_PC_COMPLETE)


def finishing(c: Config, w: World) -> bool:
    """``migration_iteration_finish`` takes the BQL first: it waits while a ``migrate_cancel``
    holds it between its return-path shutdown and its compare-and-swap (``s_cancel``)."""
    return w.s_pc == PC_FINISH and not w.s_cancel


def disks_come_back(c: Config, w: World) -> bool:
    return (finishing(c, w) and w.s_live and activate_disk(c, w, DISK_SRC)[1]
            and not _cancelled_in_postcopy_72(c, w))


def was_stopped(c: Config, w: World) -> bool:
    """The operator stopped the guest before ``migrate`` (a non-live precopy)."""
    return finishing(c, w) and not w.s_live


def keep_stopped(c: Config, w: World) -> World:
    """``migration_iteration_finish``: ``vm_old_state`` is not live, so no ``vm_start``; a guest
    stopped for the switchover (finish-migrate) goes back to ``paused``
    (``runstate_set(s->vm_old_state)``)."""
    w, _ = activate_disk(c, w, DISK_SRC)
    run = RunState.PAUSED if w.s_run is RunState.FINISH_MIGRATE else w.s_run
    return w._replace(s_run=run, s_pc=PC_CLEANUP)


def _cancelled_in_postcopy_72(c: Config, w: World) -> bool:
    """7.x sets ``vm_was_running`` only for precopy completion, never in ``postcopy_start``: a
    failure or cancel after the postcopy switchover leaves the guest stopped (postmigrate)."""
    return not c.src.device_state and w.h_switched


def restart_vm(c: Config, w: World) -> World:
    """``migration_block_activate`` worked: ``vm_start`` (RESUME) if the guest was running."""
    w, _ = activate_disk(c, w, DISK_SRC)
    return w._replace(s_run=RunState.RUNNING, s_pc=PC_CLEANUP)


def disks_stay_away(c: Config, w: World) -> bool:
    return (finishing(c, w) and w.s_live and not activate_disk(c, w, DISK_SRC)[1]
            and not _cancelled_in_postcopy_72(c, w))


def stay_stopped(c: Config, w: World) -> World:
    """Patch 2 (26f65c01ed): reactivation failed, so no ``vm_start``; management decides."""
    return w._replace(s_pc=PC_CLEANUP)


def restart_without_disks(c: Config, w: World) -> World:
    """Before 10.2 the guest restarts even though its disks could not be re-activated."""
    return w._replace(s_run=RunState.RUNNING, s_pc=PC_CLEANUP)


def cancelled_in_postcopy_72(c: Config, w: World) -> bool:
    return finishing(c, w) and _cancelled_in_postcopy_72(c, w)


def postmigrate(c: Config, w: World) -> World:
    return w._replace(s_run=RunState.POSTMIGRATE, s_pc=PC_CLEANUP)


def cleanup_pending(c: Config, w: World) -> bool:
    return w.s_pc == PC_CLEANUP


def cleanup(c: Config, w: World) -> World:
    """``migration_cleanup_bh``: close the rp thread and the file."""
    return w._replace(s_pc=PC_DONE, s_rp=RP_OFF)


def cancel_seen(c: Config, w: World) -> bool:
    """The loop condition (``migration_is_active``) is false after ``migrate_cancel``. In
    ``setup`` with no connection yet (7.2) this also stands for the connect's error path
    (``migrate_fd_connect`` with an error: ``migrate_fd_cleanup``)."""
    return not w.s_cancel and w.s_status is S.CANCELLING and w.s_pc in (
        PC_SETUP, PC_ITERATE, PC_PRE_SWITCHOVER, PC_PACKAGE, PC_SENT, PC_COMPLETE, PC_PC_COMPLETE)


def cleanup_and_close(c: Config, w: World) -> World:
    """``migration_cleanup`` closes ``to_dst_file``. Only a connection that outlived a cancel
    (below) is still up here: every other cancel shut it down already."""
    w = cleanup(c, w)
    return break_link(w) if w.link == LINK_UP else w


# --- a connect that outlives the cancel -------------------------------------------------------
# ``migrate_cancel`` in ``setup`` before the socket connect completed does not stop the connect.
# When it completes, ``migration_channel_connect`` sets ``to_dst_file`` and ``migration_connect``
# starts the migration thread without looking at the status; the thread sends the stream header
# (and, with a return path or postcopy, OPEN_RETURN_PATH, PING 1, ADVISE), so the destination goes
# ``active``; the thread's SETUP -> ACTIVE then fails, its loop is not entered, and the cleanup
# closes the stream: the destination fails at its end. Seen on real 10.2.2 (docs/qemu-qtest.md).


def connect_after_cancel(c: Config, w: World) -> bool:
    """The pending connect of a cancelled migration succeeds (``connect_ok``), once the cancel's
    handler has let go of the BQL."""
    return not w.s_cancel and connect_ok(c, w)


def connect_after_cancel_fails(c: Config, w: World) -> bool:
    return not w.s_cancel and connect_fails(c, w)


def thread_after_cancel(c: Config, w: World) -> bool:
    """The thread started by a connect that outlived the cancel, past its setup."""
    return not w.s_cancel and w.s_pc == PC_SETUP and w.link != LINK_NONE


# --- recovery ---------------------------------------------------------------------------------


def dst_listens_for_recovery(c: Config, w: World) -> bool:
    """The destination listens for the new channel, and the network lets a connection through
    (a SYN across a silent partition gets no answer: the connect fails)."""
    return (w.d_alive and w.d_status is S.POSTCOPY_PAUSED and w.d_recover and w.link != LINK_UP
            and not partitioned(w))


def recover_connect_ok(c: Config, w: World) -> bool:
    return w.s_pc == PC_PAUSED and dst_listens_for_recovery(c, w)


def recover_connect_fails(c: Config, w: World) -> bool:
    return w.s_pc == PC_PAUSED and not dst_listens_for_recovery(c, w) and not recover_accepted_first(c, w)


def recover_accepted_first(c: Config, w: World) -> bool:
    """The destination already accepted the new channel (``postcopy_try_recover: before the
    source's migration_connect``): the source's asynchronous connect succeeded, its main loop
    has not yet run ``migration_connect``. A source in RECOVER_SETUP sees the link up only then
    (its own ``migration_connect: resume`` leaves RECOVER_SETUP as it brings the link up)."""
    return w.s_pc == PC_PAUSED and w.link == LINK_UP and w.d_status is S.POSTCOPY_RECOVER


def new_channel(c: Config, w: World) -> World:
    """A new main channel and return path; a new rp thread; ``postcopy_pause_sem`` posted."""
    return w._replace(link=LINK_UP, main=(), rp=(), s_rp=RP_ON)


def resume_ready(c: Config, w: World) -> bool:
    return w.s_pc == PC_PAUSED and w.link == LINK_UP and w.s_rp == RP_ON


def send_resume(c: Config, w: World) -> World:
    """``postcopy_do_resume``: RECV_BITMAP exchange (abstract), then POSTCOPY_RESUME; wait for
    the rp thread to see RESUME_ACK."""
    return send_main(w, POSTCOPY_RESUME)._replace(s_pc=PC_RESUME)


def resumed(c: Config, w: World) -> bool:
    return w.s_pc == PC_RESUME and w.s_status is S.POSTCOPY_ACTIVE


def resume_fails(c: Config, w: World) -> bool:
    """Since 8.2 (``recover_error_pauses``) the rp thread's error kicks the wait for RESUME_ACK.
    7.2's rp thread pauses itself instead and nothing posts ``rp_sem``: the migration thread
    waits in ``postcopy_do_resume`` for good (observed, docs/drift-7.2-recover.md)."""
    return (w.s_pc in (PC_RESUME, PC_PAUSED) and (w.link == LINK_DOWN or w.s_rp == RP_ERR)
            and c.src.recover_error_pauses)


# --- return-path thread -------------------------------------------------------------------------


def _rp_head(w: World, msg: str) -> bool:
    return w.s_alive and w.s_rp == RP_ON and rp_head(w) == msg


def rp_pong_0x42(c: Config, w: World) -> bool:
    return _rp_head(w, PONG_0x42)


def set_package_loaded(c: Config, w: World) -> World:
    """PONG 0x42: ``postcopy_package_loaded = true`` and the event; no state change here."""
    return w._replace(rp=w.rp[1:], s_loaded=True)


def rp_other_pong(c: Config, w: World) -> bool:
    if not (w.s_alive and w.s_rp == RP_ON):
        return False
    head = rp_head(w)
    return isinstance(head, str) and head != PONG_0x42 and head.startswith("MIG_RP_MSG_PONG")


def pop_rp(c: Config, w: World) -> World:
    """Posts ``rp_pong_acks`` (postcopy-preempt's switchover waits for it)."""
    return w._replace(rp=w.rp[1:], s_acked=True)


def rp_shut_0(c: Config, w: World) -> bool:
    return _rp_head(w, SHUT_0)


def rp_exit_ok(c: Config, w: World) -> World:
    return w._replace(rp=w.rp[1:], s_rp=RP_OK)


def rp_shut_1(c: Config, w: World) -> bool:
    return _rp_head(w, SHUT_1)


def rp_exit_error(c: Config, w: World) -> World:
    """"Sibling indicated error": recorded; the rp thread leaves (11.1 also wakes a PONG wait)."""
    return w._replace(rp=w.rp[1:], s_rp=RP_ERR, s_error=True)


def rp_resume_ack(c: Config, w: World) -> bool:
    return _rp_head(w, RESUME_ACK) and w.s_status is S.POSTCOPY_RECOVER


def rp_stale_resume_ack(c: Config, w: World) -> bool:
    return _rp_head(w, RESUME_ACK) and w.s_status is not S.POSTCOPY_RECOVER


def rp_read_error(c: Config, w: World) -> bool:
    return w.s_alive and w.s_rp == RP_ON and rp_closed(w)


def rp_error(c: Config, w: World) -> World:
    return w._replace(s_rp=RP_ERR, s_error=True)


# ---------------------------------------------------------------------------------------------
# The table. Order is the order successors are listed in (deterministic traces).

_ = ANY
ITER = statuses(S.ACTIVE, S.POSTCOPY_DEVICE, S.POSTCOPY_ACTIVE)

ROWS: tuple[Row, ...] = (
    # --- migration thread: setup ---------------------------------------------------------------
    Row("src", "mig", "migration_connect", statuses(S.SETUP), None, connect_ok, do_connect,
        f"{MC}:migration_connect", "S3: channel up, return path opened, ADVISE sent"),
    Row("src", "mig", "migration_thread: setup done", statuses(S.SETUP), S.ACTIVE, connected,
        lambda c, w: w._replace(s_pc=PC_ITERATE), f"{MC}:migration_thread",
        "S3: qemu_savevm_state_setup done, SETUP -> ACTIVE"),
    Row("src", "mig", "migration_connect: connect error", statuses(S.SETUP), S.FAILED, connect_fails,
        to_finish, f"{MC}:migration_connect_set_error", "S2: nobody listens", fails=True),
    Row("src", "mig", "migration_connect: after the cancel", statuses(S.CANCELLING, S.CANCELLED), None,
        connect_after_cancel, do_connect, f"{MC}:migration_connect",
        "the connect outlived migrate_cancel: the thread starts all the same and sends the header"),
    Row("src", "mig", "migration_connect: connect error after the cancel", statuses(S.CANCELLED), None,
        connect_after_cancel_fails, cleanup, f"{MC}:migration_connect_set_error",
        "10.0+: 'Illegal migration status (cancelled)' is reported, migration_cleanup changes nothing"),
    Row("src", "mig", "migration_thread: setup after the cancel", statuses(S.CANCELLED), None,
        thread_after_cancel, to_finish, f"{MC}:migration_thread",
        "10.0+: qemu_savevm_wait_unplug's SETUP -> ACTIVE finds CANCELLED; migration_is_active is false"),
    # --- migration thread: the loop -------------------------------------------------------------
    Row("src", "mig", "migration_detect_error: precopy", statuses(S.ACTIVE), S.FAILED, stream_broken,
        to_finish, f"{MC}:migration_detect_error", "S8/S24: stream error before the switchover", fails=True),
    Row("src", "mig", "migration_thread: cancelled", statuses(S.CANCELLING), None, cancel_seen,
        to_finish, f"{MC}:migration_thread", "S22: the loop ends after migrate_cancel"),
    Row("src", "mig", "migration_completion: precopy switchover", statuses(S.ACTIVE), S.DEVICE,
        lambda c, w: precopy_can_complete(c, w) and not c.pause_before_switchover, precopy_complete_send,
        f"{MC}:migration_completion", "S5: stop, DEVICE, send device state and EOF", since=(10, 0)),
    Row("src", "mig", "migration_completion: precopy switchover (7.2)", statuses(S.ACTIVE), None,
        lambda c, w: precopy_can_complete(c, w) and not c.pause_before_switchover, precopy_complete_send,
        f"{MC}:migration_completion", "7.2: no device state in precopy", until=(10, 0)),
    Row("src", "mig", "migration_completion: precopy pause before switchover", statuses(S.ACTIVE),
        S.PRE_SWITCHOVER, precopy_pause, precopy_pause_wait, f"{MC}:migration_switchover_prepare",
        "STOP, then PRE_SWITCHOVER; migrate-continue goes on (migrate_cancel: the loop ends)"),
    Row("src", "mig", "migration_completion_end: precopy", statuses(S.DEVICE, S.ACTIVE), S.COMPLETED,
        lambda c, w: w.s_pc == PC_COMPLETE and rp_closed_cleanly(c, w), completed,
        f"{MC}:migration_completion_end", "S6: rp thread closed after SHUT(0)"),
    Row("src", "mig", "migration_completion: precopy fails", statuses(S.DEVICE, S.ACTIVE), S.FAILED,
        lambda c, w: w.s_pc == PC_COMPLETE and rp_closed_with_error(c, w), to_finish,
        f"{MC}:migration_completion", "S8: SHUT(1) or stream error at completion", fails=True),
    # --- postcopy_start ------------------------------------------------------------------------
    Row("src", "mig", "postcopy_start: switchover", statuses(S.ACTIVE), S.DEVICE, no_pbs, start_postcopy,
        f"{MC}:migration_switchover_prepare", "S5: STOP, ACTIVE -> DEVICE, disks inactivated", since=(10, 0)),
    Row("src", "mig", "postcopy_start: switchover (7.2)", statuses(S.ACTIVE), S.POSTCOPY_ACTIVE, no_pbs,
        start_postcopy_72, f"{MC}:postcopy_start", "7.2: ACTIVE -> POSTCOPY_ACTIVE before the STOP",
        until=(10, 0)),
    Row("src", "mig", "postcopy_start: preempt channel fails", statuses(S.ACTIVE), S.FAILED, preempt_wait_fails,
        to_finish, f"{MC}:postcopy_start", "step 1: no PONG before the return path died", fails=True),
    Row("src", "mig", "postcopy_start: pause before switchover", statuses(S.ACTIVE), S.PRE_SWITCHOVER, pbs,
        wait_pause_event, f"{MC}:migration_switchover_prepare", "S5: wait for migrate-continue"),
    Row("src", "mig", "postcopy_start: send package", statuses(S.DEVICE, S.POSTCOPY_ACTIVE), None,
        package_can_go, send_package, f"{MC}:postcopy_start",
        "steps 13-15: MIG_CMD_PACKAGED (LISTEN, device state, PING 3, PING 0x42, RUN), PING 4"),
    Row("src", "mig", "postcopy_start: fail", statuses(S.DEVICE, S.POSTCOPY_ACTIVE, S.PRE_SWITCHOVER),
        S.FAILED, package_fails_changing_state, to_finish, f"{MC}:postcopy_start",
        "S11: stream error before (13) or after (17) the package; the guest will restart", fails=True),
    Row("src", "mig", "postcopy_start: fail (10.0 bug)", statuses(S.DEVICE), None, package_fails,
        stuck_unknown_ending, f"{MC}:postcopy_start",
        "R12: the fail path expects POSTCOPY_ACTIVE; DEVICE stays, \"Unknown ending state\"",
        since=(10, 0), until=(10, 0, 5)),
    Row("src", "mig", "postcopy_start: postcopy-device", statuses(S.DEVICE), S.POSTCOPY_DEVICE,
        package_sent_with_rp, back_to_loop, f"{MC}:postcopy_start", "S9: package sent, a return path exists",
        since=(10, 2)),
    Row("src", "mig", "postcopy_start: postcopy-active", statuses(S.DEVICE), S.POSTCOPY_ACTIVE,
        package_sent_no_pong_wait, enter_postcopy_active,
        f"{MC}:postcopy_start", "S10: package sent, no return path (or before 10.2)", since=(10, 0)),
    Row("src", "mig", "postcopy_start: done (7.2)", statuses(S.POSTCOPY_ACTIVE), None,
        package_sent_no_pong_wait, back_to_loop, f"{MC}:postcopy_start", "7.2: already postcopy-active",
        until=(10, 0)),
    # --- postcopy iterations -------------------------------------------------------------------
    Row("src", "mig", "migration_iteration_run: act on PONG 0x42", statuses(S.POSTCOPY_DEVICE),
        S.POSTCOPY_ACTIVE, pong_flag_set, act_on_pong, f"{MC}:migration_iteration_run",
        "S12: postcopy_package_loaded is set"),
    Row("src", "mig", "migration_iteration_run: wait for PONG 0x42", statuses(S.POSTCOPY_DEVICE), None,
        drained_without_pong, block_for_pong, f"{MC}:migration_iteration_run",
        "nothing pending: qemu_event_wait(postcopy_package_loaded_event) (10.2), rp_sem loop (11.1)"),
    Row("src", "mig", "migration_iteration_run: woken by PONG 0x42", statuses(S.POSTCOPY_DEVICE),
        S.POSTCOPY_ACTIVE, woken_by_pong, act_on_pong, f"{MC}:migration_iteration_run", "S12 after the wait"),
    Row("src", "mig", "migration_iteration_run: woken by rp error (11.1)", statuses(S.POSTCOPY_DEVICE),
        S.FAILED, woken_by_rp_error, to_finish, f"{MC}:migration_iteration_run",
        "11.1.3: the rp thread posts rp_sem when it exits with an error in postcopy-device", fails=True,
        since=(11, 1)),
    Row("src", "mig", "migration_detect_error: postcopy-device", statuses(S.POSTCOPY_DEVICE), S.FAILED,
        stream_broken, to_finish, f"{MC}:migration_detect_error",
        "S13: only postcopy-active pauses; the guest will restart", fails=True),
    Row("src", "mig", "migration_detect_error: postcopy-active", statuses(S.POSTCOPY_ACTIVE), S.POSTCOPY_PAUSED,
        stream_broken, pause, f"{MC}:postcopy_pause", "S14: the guest stays stopped"),
    Row("src", "mig", "tcp: retransmission timeout", ANY, None, tcp_gives_up, connection_aborted,
        "(network)", "the partition outlasts TCP's retransmissions (the kernel's tcp_retransmit_timer): "
        "the source's connection is aborted"),
    Row("src", "mig", "ram_save_iterate: pages", statuses(S.POSTCOPY_DEVICE, S.POSTCOPY_ACTIVE), None,
        more_pages, send_pages, "migration/ram.c:ram_save_iterate", "postcopy RAM keeps flowing"),
    Row("src", "mig", "ram_save_iterate: last pages", statuses(S.POSTCOPY_DEVICE, S.POSTCOPY_ACTIVE), None,
        last_pages, send_last_pages, "migration/ram.c:ram_save_iterate", "pending becomes 0"),
    Row("src", "mig", "migration_completion: postcopy", statuses(S.POSTCOPY_ACTIVE), None,
        postcopy_can_complete, send_eof, f"{MC}:migration_completion", "S15: send the rest and EOF"),
    Row("src", "mig", "migration_completion_end: postcopy", statuses(S.POSTCOPY_ACTIVE), S.COMPLETED,
        lambda c, w: w.s_pc == PC_PC_COMPLETE and rp_closed_cleanly(c, w), completed,
        f"{MC}:migration_completion_end", "S15: the rp thread left on SHUT(0)"),
    Row("src", "mig", "migration_completion: postcopy fails", statuses(S.POSTCOPY_ACTIVE), S.FAILED,
        lambda c, w: w.s_pc == PC_PC_COMPLETE and rp_closed_with_error(c, w), to_finish,
        f"{MC}:migration_completion", "S16: rp error at completion; the guest may restart (B9)", fails=True),
    # --- after the loop ------------------------------------------------------------------------
    Row("src", "mig", "migration_iteration_finish: restart guest", _, None, disks_come_back, restart_vm,
        f"{MC}:migration_iteration_finish", "4.1: disks re-activated, vm_start (RESUME)"),
    Row("src", "mig", "migration_iteration_finish: disks unavailable", _, None, disks_stay_away,
        stay_stopped, f"{MC}:migration_iteration_finish", "4.1, patch 2: no vm_start without disks",
        since=(10, 2)),
    Row("src", "mig", "migration_iteration_finish: restart without disks", _, None, disks_stay_away,
        restart_without_disks, f"{MC}:migration_iteration_finish", "before 10.2: vm_start anyway",
        until=(10, 2)),
    Row("src", "mig", "migration_iteration_finish: guest was stopped", _, None, was_stopped, keep_stopped,
        f"{MC}:migration_iteration_finish", "vm_old_state not live (stop before migrate): no vm_start"),
    Row("src", "mig", "migration_iteration_finish: after postcopy (7.2)", _, None,
        cancelled_in_postcopy_72, postmigrate, f"{MC}:migration_iteration_finish",
        "7.2: vm_was_running is false after postcopy_start: postmigrate, the guest stays stopped"),
    Row("src", "main", "migration_cleanup: failed", statuses(S.FAILING), S.FAILED, cleanup_pending, cleanup,
        f"{MC}:migration_cleanup", "11.1: FAILING -> FAILED in the cleanup BH"),
    Row("src", "main", "migration_cleanup: cancelled", statuses(S.CANCELLING), S.CANCELLED, cleanup_pending,
        cleanup_and_close, f"{MC}:migration_cleanup", "S23"),
    Row("src", "main", "migration_cleanup: after the cancel", statuses(S.CANCELLED), None, cleanup_pending,
        cleanup_and_close, f"{MC}:migration_cleanup",
        "10.0+: the thread of a connect that outlived the cancel ended; the stream is closed"),
    Row("src", "main", "migration_cleanup", statuses(S.FAILED), None, cleanup_pending, cleanup,
        f"{MC}:migration_cleanup", "close the rp thread and the file"),
    # --- recovery ------------------------------------------------------------------------------
    Row("src", "main", "migration_connect: resume", statuses(S.POSTCOPY_RECOVER_SETUP), S.POSTCOPY_RECOVER,
        recover_connect_ok, new_channel, f"{MC}:migration_connect", "S19: new channel and rp thread"),
    Row("src", "main", "migration_connect: resume, accepted first", statuses(S.POSTCOPY_RECOVER_SETUP),
        S.POSTCOPY_RECOVER, recover_accepted_first, lambda c, w: w._replace(s_rp=RP_ON), f"{MC}:migration_connect",
        "S19 after the destination took the channel: the rp thread starts (docs/conform.md)"),
    Row("src", "main", "migration_connect_set_error: resume", statuses(S.POSTCOPY_RECOVER_SETUP),
        S.POSTCOPY_PAUSED, recover_connect_fails, lambda c, w: w, f"{MC}:migration_connect_set_error",
        "S18: the destination does not listen"),
    Row("src", "mig", "postcopy_do_resume", statuses(S.POSTCOPY_RECOVER), None, resume_ready, send_resume,
        f"{MC}:postcopy_do_resume", "send POSTCOPY_RESUME, wait for RESUME_ACK"),
    Row("src", "mig", "postcopy_do_resume: resumed", statuses(S.POSTCOPY_ACTIVE), None, resumed, back_to_loop,
        f"{MC}:postcopy_pause", "the handshake saw POSTCOPY_ACTIVE"),
    Row("src", "mig", "postcopy_pause: resume failed", statuses(S.POSTCOPY_RECOVER), S.POSTCOPY_PAUSED,
        resume_fails, pause, f"{MC}:postcopy_pause", "S21: handshake error; paused again"),
    # --- return-path thread --------------------------------------------------------------------
    Row("src", "rp", "source_return_path_thread: PONG 0x42", _, None, rp_pong_0x42, set_package_loaded,
        f"{MC}:source_return_path_thread", "sets postcopy_package_loaded; no state change"),
    Row("src", "rp", "source_return_path_thread: PONG", _, None, rp_other_pong, pop_rp,
        f"{MC}:source_return_path_thread", "posts rp_pong_acks"),
    Row("src", "rp", "source_return_path_thread: SHUT(0)", _, None, rp_shut_0, rp_exit_ok,
        f"{MC}:source_return_path_thread", "the destination finished; the rp thread leaves"),
    Row("src", "rp", "source_return_path_thread: SHUT(1)", _, None, rp_shut_1, rp_exit_error,
        f"{MC}:source_return_path_thread", "\"Sibling indicated error\""),
    Row("src", "rp", "migrate_handle_rp_resume_ack", statuses(S.POSTCOPY_RECOVER), S.POSTCOPY_ACTIVE,
        rp_resume_ack, lambda c, w: w._replace(rp=w.rp[1:], h_pca=True),
        f"{MC}:migrate_handle_rp_resume_ack", "S20 in the rp thread"),
    Row("src", "rp", "migrate_handle_rp_resume_ack: ignored", _, None, rp_stale_resume_ack, pop_rp,
        f"{MC}:migrate_handle_rp_resume_ack", "RESUME_ACK outside postcopy-recover changes nothing"),
    Row("src", "rp", "source_return_path_thread: read error", _, None, rp_read_error, rp_error,
        f"{MC}:source_return_path_thread", "the error is recorded; the rp thread leaves"),
)

__all__ = ["ROWS", "package_items"]
