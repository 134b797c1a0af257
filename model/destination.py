"""The destination QEMU: its main thread (incoming coroutine and bottom halves) and listen thread.

System: ``migration/savevm.c`` (``loadvm_process_command`` and friends, commit 7b842fe354),
``migration/postcopy-ram.c`` (``postcopy_listen_thread``), ``migration/migration.c``
(``process_incoming_migration_co``/``_bh``), transitions D1-D11 of protocol.md section 5.

How the destination moves (the postcopy path):
* The main thread reads the stream: OPEN_RETURN_PATH, ADVISE, then MIG_CMD_PACKAGED, whose
  contents it loads from memory in order: LISTEN (starts the listen thread, which sets
  ``postcopy-device`` if a return path exists on 10.2+, else ``postcopy-active``, D5), the device
  state (which may fail), PING 3, PING 0x42 (each answered with a PONG), RUN (``postcopy-active``,
  PostcopyState RUNNING, D6). RUN only schedules a bottom half; the guest starts when it runs
  (with autostart and if the disks activate).
* After the package, the listen thread owns the main stream: PING 4, pages, EOF (D11), and on a
  stream error it pauses if PostcopyState is RUNNING (D8), else fails (D7).
* A device load failure (10.2+) sets the error on the stream; only the listen thread cleans up,
  and it notices only when its read returns: when something arrives or the connection drops.

Assumptions / abstractions:
* Page requests (the fault thread, REQ_PAGES) are not modelled: the source pushes pages anyway.
* Closing the files after SHUT is graceful: what was sent before the close still arrives.
* A process that exits releases its disk lock.
"""

from __future__ import annotations

from model.config import Config
from model.messages import (
    DEVICE_STATE,
    EOF,
    LISTEN,
    OPEN_RETURN_PATH,
    PACKAGED,
    PING_1,
    PING_3,
    PING_4,
    PKG_DEVICE_STATE,
    PONG_FOR,
    POSTCOPY_ADVISE,
    POSTCOPY_RESUME,
    RAM,
    RESUME_ACK,
    RUN,
    SHUT_0,
    SHUT_1,
    PING_0x42,
)
from model.status import MigrationStatus as S
from model.status import PostcopyState as PS
from model.status import RunState
from model.table import ANY, Row, statuses
from model.world import (
    DISK_DST,
    DISK_NONE,
    DL_DONE,
    DL_ON,
    DM_DONE,
    DM_FAILED,
    DM_LOAD,
    DM_PACKAGE,
    DM_QUIT,
    LINK_DOWN,
    LINK_UP,
    PC_PAUSED,
    World,
    activate_disk,
    listening,
    main_closed,
    main_head,
    send_rp,
)

SV = "migration/savevm.c"
MC = "migration/migration.c"
PR = "migration/postcopy-ram.c"

# ---------------------------------------------------------------------------------------------
# Shared effects.


def close_files(w: World) -> World:
    """``migration_incoming_state_destroy`` closes both files after SHUT: the connection is
    gone, but what was already sent on the return path still arrives."""
    if w.link != LINK_UP:
        return w
    return w._replace(link=LINK_DOWN, main=())


def exit_process(w: World) -> World:
    """``exit(EXIT_FAILURE)``: the process is gone; the kernel drops its image locks. Its end is
    seen through a silent partition too (what the harness's partition, a proxy, does; a real
    partition would hold the close until it heals: docs/faults.md)."""
    return w._replace(d_alive=False, disk=DISK_NONE if w.disk == DISK_DST else w.disk,
                      part_main=False, part_rp=False)


def destroy(w: World, shut: str) -> World:
    """Send SHUT(v) on the return path, then close the files."""
    w = send_rp(w, shut)._replace(h_shut=shut[-2])
    return close_files(w)


def fail_and_cleanup(c: Config, w: World) -> World:
    """D7/D4 tail: SHUT(1), close, and exit with exit-on-error (always before 10.2)."""
    w = destroy(w, SHUT_1)._replace(d_listen=DL_DONE if w.d_listen == DL_ON else w.d_listen)
    if c.exit_on_error or not c.dst.exit_on_error_in_postcopy:
        w = exit_process(w)
    return w


def start_guest(c: Config, w: World) -> World:
    """Activate the disks and ``vm_start`` (RESUME), or stay paused if the disks refuse."""
    w, ok = activate_disk(c, w, DISK_DST)
    if ok:
        return w._replace(d_run=RunState.RUNNING, h_dst_ran=True)
    return w._replace(d_run=RunState.PAUSED)


# ---------------------------------------------------------------------------------------------
# Main thread: reading the stream.


def _main_head(w: World, msg: str) -> bool:
    return w.d_main == DM_LOAD and main_head(w) == msg


def accept(c: Config, w: World) -> bool:
    return listening(w) and w.link == LINK_UP


def start_loading(c: Config, w: World) -> World:
    return w._replace(d_main=DM_LOAD, d_pcs=PS.NONE)


def pop_main(w: World) -> World:
    return w._replace(main=w.main[1:])


def open_return_path(c: Config, w: World) -> World:
    return pop_main(w)._replace(d_rp=True)


def advise(c: Config, w: World) -> World:
    return pop_main(w)._replace(d_pcs=PS.ADVISE)


def precopy_eof(c: Config, w: World) -> World:
    """D3: ``process_incoming_migration_bh``: activate disks and start (autostart) or pause,
    then COMPLETED, then destroy (SHUT(0)). A guest the source's operator had stopped before
    ``migrate`` (the global state's runstate, sent with the device state, is not live:
    ``migration_get_target_runstate``) stays paused whatever autostart says; ``s_live`` stands
    for that received runstate (it cannot change once ``migrate`` was issued)."""
    w = pop_main(w)._replace(d_main=DM_DONE)
    w = start_guest(c, w) if w.d_autostart and w.s_live else w._replace(d_run=RunState.PAUSED)
    return destroy(w, SHUT_0)


def packaged(c: Config, w: World) -> bool:
    head = main_head(w)
    return w.d_main == DM_LOAD and isinstance(head, tuple) and head[0] == PACKAGED


def open_package(c: Config, w: World) -> World:
    head = w.main[0]
    assert isinstance(head, tuple)
    return pop_main(w)._replace(d_main=DM_PACKAGE, d_pkg=head[1])


def closed_before_first_read(c: Config, w: World) -> bool:
    """The connection was made and closed (a cancel, a reset, the source's end) before the
    destination read its first bytes: still listening (``setup``, no ``active``), nothing left to
    read."""
    return listening(w) and w.d_alive and main_closed(w)


def accept_closed(c: Config, w: World) -> bool:
    """A connection was made and is gone again before the destination's main loop accepted it:
    the kernel completed the handshake, so the listener still gets the channel."""
    return listening(w) and w.link == LINK_DOWN


def peek_fails(c: Config, w: World) -> World:
    """``migration_channel_process_incoming`` (10.0+): ``migration_ioc_process_incoming`` peeks
    at the channel magic (``migration_channel_read_peek``: "Failed to peek at channel", or the
    read error of a reset); the error sets FAILED (10.2.2: on the process's outgoing
    ``MigrationState``, whose change emits the MIGRATION event all the same; the incoming
    coroutine never started, so no ``active``, no SHUT) and exits with exit-on-error
    (docs/qemu-qtest.md)."""
    w = w._replace(d_main=DM_FAILED)
    return exit_process(w) if c.exit_on_error else w


def precopy_read_error(c: Config, w: World) -> bool:
    return w.d_main == DM_LOAD and main_closed(w)


def precopy_fail(c: Config, w: World) -> World:
    """D4: no listen thread, the coroutine fails, destroys and exits (exit-on-error)."""
    w = destroy(w, SHUT_1)._replace(d_main=DM_FAILED)
    return exit_process(w) if c.exit_on_error else w


# --- the package, item by item ---------------------------------------------------------------


def _pkg_head(w: World, item: str) -> bool:
    return w.d_main == DM_PACKAGE and bool(w.d_pkg) and w.d_pkg[0] == item


def pop_pkg(w: World) -> World:
    return w._replace(d_pkg=w.d_pkg[1:])


def listen_with_rp(c: Config, w: World) -> bool:
    return _pkg_head(w, LISTEN) and w.d_rp and c.dst.postcopy_device


def listen_without(c: Config, w: World) -> bool:
    return _pkg_head(w, LISTEN) and not (w.d_rp and c.dst.postcopy_device)


def listen(c: Config, w: World) -> World:
    """LISTEN: PostcopyState LISTENING, ``postcopy_incoming_setup`` starts the listen thread,
    which sets its status (D5) before the creator goes on."""
    return pop_pkg(w)._replace(d_pcs=PS.LISTENING, d_listen=DL_ON)


def device_state(c: Config, w: World) -> bool:
    return _pkg_head(w, PKG_DEVICE_STATE)


def ping_answered(c: Config, w: World) -> bool:
    return w.d_main == DM_PACKAGE and bool(w.d_pkg) and w.d_pkg[0] in (PING_3, PING_0x42) and w.d_rp


def pong(c: Config, w: World) -> World:
    """``migrate_send_rp_pong``; the send result is ignored."""
    return send_rp(pop_pkg(w), PONG_FOR[w.d_pkg[0]])


def ping_without_rp(c: Config, w: World) -> bool:
    return w.d_main == DM_PACKAGE and bool(w.d_pkg) and w.d_pkg[0] in (PING_3, PING_0x42) and not w.d_rp


def load_fails(c: Config, w: World) -> World:
    """The nested load fails: the error is set on the main stream; the main thread stops."""
    return w._replace(d_main=DM_FAILED, d_pkg=(), d_ferr=True)


def run_on_device(c: Config, w: World) -> bool:
    return _pkg_head(w, RUN) and w.d_status is S.POSTCOPY_DEVICE


def run_on_active(c: Config, w: World) -> bool:
    return _pkg_head(w, RUN) and w.d_status is not S.POSTCOPY_DEVICE


def run(c: Config, w: World) -> World:
    """RUN: PostcopyState RUNNING, schedule the start BH, LOADVM_QUIT."""
    return pop_pkg(w)._replace(d_pcs=PS.RUNNING, d_bh=True, d_main=DM_QUIT)


def bh_pending(c: Config, w: World) -> bool:
    return w.d_bh


def run_bh(c: Config, w: World) -> World:
    """``loadvm_postcopy_handle_run_bh``: with autostart, activate disks then ``vm_start``."""
    w = w._replace(d_bh=False)
    return start_guest(c, w) if w.d_autostart else w._replace(d_run=RunState.PAUSED)


def recovery_connects(c: Config, w: World) -> bool:
    return w.d_recover and w.link == LINK_UP


def recover(c: Config, w: World) -> World:
    """D9: the new channel; a new ``to_src_file``; the paused loader is woken."""
    return w._replace(d_recover=False, d_rp=True)


def recovery_connects_first(c: Config, w: World) -> bool:
    """A 10.0+ source asked for the new channel (``migrate`` with ``resume``: RECOVER_SETUP; its
    connect runs asynchronously) and the destination listens: the destination's main loop may
    accept the connection before the source's main loop runs ``migration_connect`` (real 10.0.2
    -> 10.0.2: the destination's ``postcopy-recover`` 3 ms before the source's, docs/conform.md)."""
    return (w.s_alive and w.s_status is S.POSTCOPY_RECOVER_SETUP and w.s_pc == PC_PAUSED
            and w.d_status is S.POSTCOPY_PAUSED and w.d_recover and w.link != LINK_UP
            and not (w.part_main or w.part_rp))


def recover_first(c: Config, w: World) -> World:
    """D9 on a channel the source has not yet taken up: the new main channel and return path."""
    return w._replace(link=LINK_UP, main=(), rp=(), d_recover=False, d_rp=True)


# ---------------------------------------------------------------------------------------------
# Listen thread: the main stream after the package.


def _listening(w: World) -> bool:
    return w.d_listen == DL_ON


def _listen_head(w: World, msg: str) -> bool:
    return _listening(w) and main_head(w) == msg


def listen_reads_into_error(c: Config, w: World) -> bool:
    """The stream carries an error set by the main thread; the read returns it (when something
    arrives or the close is seen)."""
    return _listening(w) and w.d_ferr and (main_head(w) is not None or main_closed(w))


def listen_ping(c: Config, w: World) -> bool:
    return _listen_head(w, PING_4) and not w.d_ferr


def listen_pong(c: Config, w: World) -> World:
    return send_rp(pop_main(w), PONG_FOR[PING_4])


def listen_ram(c: Config, w: World) -> bool:
    return _listen_head(w, RAM) and not w.d_ferr


def listen_eof(c: Config, w: World) -> bool:
    """EOF, then wait for ``main_thread_load_event``: RUN must have been processed."""
    return _listen_head(w, EOF) and not w.d_ferr and w.d_main == DM_QUIT and w.d_status is S.POSTCOPY_ACTIVE


def listen_complete(c: Config, w: World) -> World:
    """D11, then ``postcopy_listen_thread_bh``: destroy (SHUT(0))."""
    w = pop_main(w)._replace(d_pcs=PS.END, d_listen=DL_DONE)
    return destroy(w, SHUT_0)


def listen_resume(c: Config, w: World) -> bool:
    return _listen_head(w, POSTCOPY_RESUME) and w.d_status is S.POSTCOPY_RECOVER


def handle_resume(c: Config, w: World) -> World:
    """D10: RESUME_ACK; pending page requests re-sent (abstract)."""
    return send_rp(pop_main(w), RESUME_ACK)


def listen_read_error(c: Config, w: World) -> bool:
    return _listening(w) and not w.d_ferr and main_closed(w)


def pauses(c: Config, w: World) -> bool:
    """``qemu_loadvm_state_main``: pause only in PostcopyState RUNNING with postcopy-ram (from
    ``postcopy-recover`` too since 8.2: ``recover_error_pauses``)."""
    return (listen_read_error(c, w) and w.d_pcs is PS.RUNNING and c.postcopy_ram
            and (w.d_status is not S.POSTCOPY_RECOVER or c.dst.recover_error_pauses))


def retries_on_closed_file(c: Config, w: World) -> bool:
    """7.2: a stream error in ``postcopy-recover``. ``postcopy_pause_incoming`` closes both files
    and sets ``from_src_file`` to NULL, but its swap is ACTIVE -> PAUSED only: the status stays,
    the wait for a new channel is skipped and it returns true."""
    return (listen_read_error(c, w) and w.d_pcs is PS.RUNNING and c.postcopy_ram
            and w.d_status is S.POSTCOPY_RECOVER and not c.dst.recover_error_pauses)


def crash_on_closed_file(c: Config, w: World) -> World:
    """``qemu_loadvm_state_main`` retries with ``f = mis->from_src_file`` (NULL): the next
    ``qemu_get_byte`` dereferences it and the process dies of SIGSEGV, still in
    ``postcopy-recover`` (no event; docs/drift-7.2-recover.md)."""
    return exit_process(pause_incoming(c, w))


def fails(c: Config, w: World) -> bool:
    return listen_read_error(c, w) and w.d_pcs is not PS.RUNNING


def bitmaps_only_running_error(c: Config, w: World) -> bool:
    return listen_read_error(c, w) and w.d_pcs is PS.RUNNING and not c.postcopy_ram


def pause_incoming(c: Config, w: World) -> World:
    """D8: ``postcopy_pause_incoming``: close the return path, wait for a new channel."""
    return w._replace(d_rp=False, d_recover=False)


def listen_fail(c: Config, w: World) -> World:
    """D7: FAILED; the BH destroys (SHUT(1)) and exits with exit-on-error."""
    return fail_and_cleanup(c, w._replace(main=w.main[1:] if w.main else w.main))


def bitmaps_lost(c: Config, w: World) -> World:
    """[inference] dirty-bitmaps-only postcopy logs the error and lets the thread end."""
    return w._replace(d_pcs=PS.END, d_listen=DL_DONE)


# ---------------------------------------------------------------------------------------------
# The table.

_ = ANY
POSTCOPY = statuses(S.POSTCOPY_DEVICE, S.POSTCOPY_ACTIVE)

ROWS: tuple[Row, ...] = (
    # --- main thread: precopy stream -----------------------------------------------------------
    Row("dst", "main", "process_incoming_migration_co", statuses(S.SETUP, S.NONE), S.ACTIVE, accept,
        start_loading, f"{MC}:process_incoming_migration_co",
        "D2: main channel established: SETUP -> ACTIVE; NONE -> ACTIVE on 7.2, whose destination listens "
        "without a status (Version.incoming_setup)"),
    Row("dst", "main", "loadvm_process_command: OPEN_RETURN_PATH", statuses(S.ACTIVE), None,
        lambda c, w: _main_head(w, OPEN_RETURN_PATH), open_return_path,
        f"{SV}:loadvm_process_command", "creates to_src_file"),
    Row("dst", "main", "loadvm_postcopy_handle_advise", statuses(S.ACTIVE), None,
        lambda c, w: _main_head(w, POSTCOPY_ADVISE), advise, f"{SV}:loadvm_postcopy_handle_advise",
        "PostcopyState ADVISE"),
    Row("dst", "main", "loadvm_process_command: PING 1", statuses(S.ACTIVE), None,
        lambda c, w: _main_head(w, PING_1), lambda c, w: send_rp(pop_main(w), PONG_FOR[PING_1]),
        f"{SV}:loadvm_process_command", "answered by the main thread (postcopy-preempt)"),
    Row("dst", "main", "qemu_loadvm_state_main: device state", statuses(S.ACTIVE), None,
        lambda c, w: _main_head(w, DEVICE_STATE), lambda c, w: pop_main(w),
        f"{SV}:qemu_loadvm_state_main", "precopy: non-iterable devices load"),
    Row("dst", "main", "process_incoming_migration_bh", statuses(S.ACTIVE), S.COMPLETED,
        lambda c, w: _main_head(w, EOF), precopy_eof, f"{MC}:process_incoming_migration_bh",
        "D3: start the guest (autostart), COMPLETED, SHUT(0)"),
    Row("dst", "main", "migration_channel_process_incoming: closed before the magic", statuses(S.SETUP),
        S.FAILED, closed_before_first_read, peek_fails, "migration/channel.c:migration_channel_process_incoming",
        "the channel magic cannot be peeked: SETUP -> FAILED without ACTIVE; exit with exit-on-error "
        "(10.0: commit 'migration: Set migration state to FAILED ...' of 2025-02; 7.2 has no peek)",
        since=(10, 0)),
    Row("dst", "main", "process_incoming_migration_co: a closed channel (7.2)", statuses(S.NONE), S.ACTIVE,
        accept_closed, start_loading, f"{MC}:process_incoming_migration_co",
        "7.2 does not peek: a channel closed before its first read is accepted all the same, NONE -> ACTIVE, "
        "and the load fails at once (migration_ioc_process_incoming; docs/qemu-qtest.md)", until=(10, 0)),
    Row("dst", "main", "process_incoming_migration_co: load error", statuses(S.ACTIVE), S.FAILED,
        precopy_read_error, precopy_fail, f"{MC}:process_incoming_migration_co",
        "D4: precopy load error, SHUT(1), exit (exit-on-error)"),
    Row("dst", "main", "loadvm_handle_cmd_packaged", statuses(S.ACTIVE), None, packaged, open_package,
        f"{SV}:loadvm_handle_cmd_packaged", "read the whole package into memory"),
    # --- main thread: inside the package -------------------------------------------------------
    Row("dst", "listen", "postcopy_listen_thread: postcopy-device", statuses(S.ACTIVE), S.POSTCOPY_DEVICE,
        listen_with_rp, listen, f"{PR}:postcopy_listen_thread", "D5 with a return path (10.2+)"),
    Row("dst", "listen", "postcopy_listen_thread: postcopy-active", statuses(S.ACTIVE), S.POSTCOPY_ACTIVE,
        listen_without, listen, f"{PR}:postcopy_listen_thread", "D5 without a return path, or before 10.2"),
    Row("dst", "main", "qemu_loadvm_state_main: package device state", POSTCOPY, None, device_state,
        lambda c, w: pop_pkg(w), f"{SV}:qemu_loadvm_state_main", "non-iterable devices load from the package"),
    Row("dst", "main", "loadvm_process_command: PING", POSTCOPY, None, ping_answered, pong,
        f"{SV}:loadvm_process_command", "PONG(3) / PONG(0x42); a send error is ignored"),
    Row("dst", "main", "loadvm_process_command: PING without return path", POSTCOPY, None, ping_without_rp,
        load_fails, f"{SV}:loadvm_process_command", "\"CMD_PING ... received with no return path\""),
    Row("dst", "main", "loadvm_postcopy_handle_run", statuses(S.POSTCOPY_DEVICE), S.POSTCOPY_ACTIVE,
        run_on_device, run, f"{SV}:loadvm_postcopy_handle_run", "D6, PostcopyState RUNNING, BH scheduled"),
    Row("dst", "main", "loadvm_postcopy_handle_run: already active", statuses(S.POSTCOPY_ACTIVE), None,
        run_on_active, run, f"{SV}:loadvm_postcopy_handle_run", "no return path / before 10.2"),
    Row("dst", "main", "loadvm_postcopy_handle_run_bh", _, None, bh_pending, run_bh,
        f"{SV}:loadvm_postcopy_handle_run_bh", "the guest starts here (autostart, disks)"),
    Row("dst", "main", "postcopy_try_recover", statuses(S.POSTCOPY_PAUSED), S.POSTCOPY_RECOVER,
        recovery_connects, recover, f"{MC}:postcopy_try_recover", "D9: the new channel connects"),
    Row("dst", "main", "postcopy_try_recover: before the source's migration_connect", statuses(S.POSTCOPY_PAUSED),
        S.POSTCOPY_RECOVER, recovery_connects_first, recover_first, f"{MC}:postcopy_try_recover",
        "D9: the accept runs in the destination's main loop, the source's migration_connect in its own"),
    # --- listen thread ---------------------------------------------------------------------------
    Row("dst", "listen", "qemu_loadvm_state_main: error set on the stream", POSTCOPY, S.FAILED,
        listen_reads_into_error, listen_fail, f"{PR}:postcopy_listen_thread",
        "D7: the main thread's load error, seen at the next read"),
    Row("dst", "listen", "loadvm_process_command: PING 4", POSTCOPY, None, listen_ping, listen_pong,
        f"{SV}:loadvm_process_command", "answered by the listen thread"),
    Row("dst", "listen", "ram_load_postcopy", POSTCOPY, None, listen_ram, lambda c, w: pop_main(w),
        "migration/ram.c:ram_load_postcopy", "pages"),
    Row("dst", "listen", "postcopy_listen_thread: completed", statuses(S.POSTCOPY_ACTIVE), S.COMPLETED,
        listen_eof, listen_complete, f"{PR}:postcopy_listen_thread", "D11, then SHUT(0)"),
    Row("dst", "listen", "loadvm_postcopy_handle_resume", statuses(S.POSTCOPY_RECOVER), S.POSTCOPY_ACTIVE,
        listen_resume, handle_resume, f"{SV}:loadvm_postcopy_handle_resume", "D10, RESUME_ACK"),
    Row("dst", "listen", "postcopy_pause_incoming", statuses(S.POSTCOPY_ACTIVE, S.POSTCOPY_RECOVER),
        S.POSTCOPY_PAUSED, pauses, pause_incoming, f"{SV}:postcopy_pause_incoming",
        "D8: PostcopyState RUNNING and postcopy-ram"),
    Row("dst", "listen", "qemu_loadvm_state_main: retry on a closed file (7.2)", statuses(S.POSTCOPY_RECOVER),
        None, retries_on_closed_file, crash_on_closed_file, f"{SV}:qemu_loadvm_state_main",
        "7.2 postcopy_pause_incoming only swaps ACTIVE -> PAUSED; the retry reads NULL: SIGSEGV"),
    Row("dst", "listen", "postcopy_listen_thread: failed", POSTCOPY, S.FAILED, fails, listen_fail,
        f"{PR}:postcopy_listen_thread", "D7: error before RUNNING"),
    Row("dst", "listen", "qemu_loadvm_state_main: bitmaps-only error", statuses(S.POSTCOPY_ACTIVE),
        S.COMPLETED,
        bitmaps_only_running_error, bitmaps_lost, f"{PR}:postcopy_listen_thread",
        "RUNNING without postcopy-ram: logged, the thread ends (bitmaps lost) [inference]"),
)

__all__ = ["ROWS"]
