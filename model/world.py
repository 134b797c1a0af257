"""The global state: both QEMUs, the connection between them, the disks and the fault budget.

A ``World`` is an immutable, hashable value (a flat ``NamedTuple``: cheap to hash and to copy with
``_replace``). Computing a successor never mutates it. Field prefixes say who owns a field:
``s_`` the source QEMU, ``d_`` the destination QEMU, ``main``/``rp``/``link`` the TCP connection,
``disk*``/``budget`` the environment, ``h_`` history variables that no QEMU code reads but the
properties need (TLA+-style auxiliary variables: "has the destination guest ever run?").

Thread positions (``s_pc``, ``d_main``, ``d_listen``) are where a QEMU thread is blocked or what it
does next; they are the program counters of TLA+'s PlusCal translation.
"""

from __future__ import annotations

from typing import NamedTuple

from model.config import Config
from model.status import MigrationStatus, PostcopyState, RunState

S = MigrationStatus

# Source migration thread positions (s_pc).
PC_IDLE = "idle"  # no migration thread (before `migrate`)
PC_SETUP = "setup"  # connecting / qemu_savevm_state_setup
PC_ITERATE = "iterate"  # migration_thread loop: migration_iteration_run + migration_detect_error
PC_PRE_SWITCHOVER = "pre-switchover"  # waiting for migrate-continue (pause_event)
PC_PACKAGE = "package"  # postcopy_start: VM stopped, about to send the package (step 13)
PC_SENT = "sent"  # postcopy_start: package sent, error check (17) and DEVICE -> POSTCOPY_* (19)
PC_COMPLETE = "complete"  # precopy completion: device state sent, waiting for SHUT in close_return_path
PC_WAIT_PONG = "wait-pong"  # migration_iteration_run: blocked until PONG 0x42 (pending == 0)
PC_PAUSED = "paused"  # postcopy_pause: waiting on postcopy_pause_sem
PC_RESUME = "resume"  # postcopy_do_resume: POSTCOPY_RESUME sent, waiting for RESUME_ACK (rp_sem)
PC_PC_COMPLETE = "postcopy-complete"  # postcopy completion: EOF sent, joining the rp thread
PC_FINISH = "finish"  # loop left: migration_iteration_finish pending
PC_CLEANUP = "cleanup"  # migration_cleanup_bh pending
PC_DONE = "done"  # thread gone, cleanup done
PC_STUCK = "stuck"  # thread gone without a cleanup path ("Unknown ending state")

# postcopy_start holds the BQL from stopping the guest to leaving DEVICE (steps 3-19): the
# source's main loop (QMP handlers, bottom halves) cannot run in between.
BQL_HELD = frozenset({PC_PACKAGE, PC_SENT})

# Source return-path thread (s_rp).
RP_OFF = "off"
RP_ON = "on"
RP_OK = "exited"  # left after SHUT(0)
RP_ERR = "exited-error"  # left after an error (read error, SHUT(1))

# Destination main thread (d_main).
DM_IDLE = "idle"  # no incoming migration yet (before migrate-incoming)
DM_LISTEN = "listen"  # migrate-incoming done: listening, the connection not yet accepted
DM_LOAD = "load"  # process_incoming_migration_co reading the main stream
DM_PACKAGE = "package"  # loading the contents of MIG_CMD_PACKAGED (d_pkg holds what is left)
DM_QUIT = "quit"  # after RUN: LOADVM_QUIT, the listen thread owns the stream
DM_FAILED = "failed"  # a load failed; the error is set on from_src_file (d_ferr)
DM_DONE = "done"  # precopy load finished

# Destination listen thread (d_listen).
DL_OFF = "off"
DL_ON = "on"
DL_DONE = "done"

# Connection (link).
LINK_NONE = "none"
LINK_UP = "up"
LINK_DOWN = "down"

# Disk image lock holder (only meaningful with a shared disk).
DISK_SRC = "src"
DISK_DST = "dst"
DISK_NONE = "none"

Msg = str | tuple[str, tuple[str, ...]]


class World(NamedTuple):
    """The whole system. See the module docstring for the field prefixes."""

    # source QEMU
    s_status: MigrationStatus
    s_run: RunState
    s_alive: bool
    s_pc: str
    s_start_postcopy: bool  # s->start_postcopy, set by migrate-start-postcopy
    s_pending: bool  # RAM still to send
    s_loaded: bool  # s->postcopy_package_loaded, set by the rp thread on PONG 0x42
    s_acked: bool  # rp_pong_acks posted: at least one PONG arrived (postcopy-preempt waits on it)
    s_rp: str  # return-path thread
    s_error: bool  # s->error recorded
    s_live: bool  # the guest ran when migrated (False after `stop` before `migrate`: vm_old_state not live)
    s_cancel: bool  # migrate_cancel holds the BQL between two of its steps (model/management.py CANCEL_CAS)
    # destination QEMU
    d_status: MigrationStatus
    d_pcs: PostcopyState
    d_run: RunState
    d_alive: bool
    d_main: str
    d_pkg: tuple[str, ...]  # what is left of the package being loaded
    d_listen: str
    d_bh: bool  # loadvm_postcopy_handle_run_bh scheduled, not yet run
    d_autostart: bool
    d_rp: bool  # mis->to_src_file exists
    d_ferr: bool  # an error is set on from_src_file
    d_recover: bool  # migrate-recover issued: listening for the new channel
    # connection
    link: str
    main: tuple[Msg, ...]  # source -> destination, in order
    rp: tuple[Msg, ...]  # destination -> source, in order
    part_main: bool  # silent partition: source -> destination bytes are held (nothing closed)
    part_rp: bool  # silent partition: destination -> source bytes are held
    # environment
    disk: str
    disk_broken: bool
    budget: tuple[int, ...]  # per fault kind (model/faults.py KINDS order), then the total
    # history (read only by properties)
    h_switched: bool  # the source stopped its guest for the switchover
    h_acted: bool  # the source acted on PONG 0x42 (S12)
    h_pca: bool  # the source passed through postcopy-active
    h_postcopy: bool  # the source started postcopy (postcopy_start)
    h_dst_ran: bool  # the destination guest has run
    h_devload: bool  # the destination failed to load device state
    h_shut: str  # last SHUT the destination sent: "" none, "0", "1"
    h_fault: bool  # a fault that makes something fail has happened (not a silent partition, unless TCP gave up)
    h_partition: bool  # a silent partition began after the postcopy switchover


def initial(config: Config, budget: tuple[int, ...]) -> World:
    """Both QEMUs started: the source guest runs, the destination waits (``-incoming defer``).
    ``budget`` is the fault budget vector (``model.faults.budget_vector``)."""
    return World(
        s_status=S.NONE, s_run=RunState.RUNNING, s_alive=True, s_pc=PC_IDLE,
        s_start_postcopy=False, s_pending=True, s_loaded=False, s_acked=False, s_rp=RP_OFF, s_error=False,
        s_live=True, s_cancel=False,
        d_status=S.NONE, d_pcs=PostcopyState.NONE, d_run=RunState.INMIGRATE, d_alive=True,
        d_main=DM_IDLE, d_pkg=(), d_listen=DL_OFF, d_bh=False, d_autostart=config.autostart,
        d_rp=False, d_ferr=False, d_recover=False,
        link=LINK_NONE, main=(), rp=(), part_main=False, part_rp=False,
        disk=DISK_SRC if config.shared_disk else DISK_NONE, disk_broken=False,
        budget=budget,
        h_switched=False, h_acted=False, h_pca=False, h_postcopy=False, h_dst_ran=False,
        h_devload=False, h_shut="", h_fault=False, h_partition=False,
    )


# ---------------------------------------------------------------------------------------------
# Small shared helpers used by both sides' effects.

def src_running(w: World) -> bool:
    """The source guest executes (runstate running, process alive)."""
    return w.s_alive and w.s_run is RunState.RUNNING


def dst_running(w: World) -> bool:
    """The destination guest executes. A guest started by the RUN bottom half counts even while
    its migration is postcopy-paused (it runs, stalled on missing pages)."""
    return w.d_alive and w.d_run is RunState.RUNNING


def incoming_started(w: World) -> bool:
    """``migrate-incoming`` was issued: the destination listens or has gone further. Not a
    status: a 7.2 destination listens with the status ``none`` (``Version.incoming_setup``)."""
    return w.d_main != DM_IDLE


def listening(w: World) -> bool:
    """The destination listens and has not yet accepted the main channel (its status is
    ``setup``, or ``none`` on 7.2)."""
    return w.d_main == DM_LISTEN


def send_main(w: World, *msgs: Msg) -> World:
    """Append to the main stream. Writes on a broken connection are lost (the writer sees the
    error at its next check; ``qemu_file`` records it)."""
    if w.link != LINK_UP:
        return w
    out = w.main
    for m in msgs:
        if m == "RAM" and out and out[-1] == "RAM":
            continue  # pages merge: only "something is in flight" matters
        out = (*out, m)
    return w._replace(main=out)


def send_rp(w: World, msg: Msg) -> World:
    """Append to the return path; a send on a broken connection is lost, and QEMU ignores the
    error for PONG (``migrate_send_rp_pong``)."""
    if w.link != LINK_UP or not w.d_rp:
        return w
    return w._replace(rp=(*w.rp, msg))


def break_link(w: World) -> World:
    """The connection is gone (RST, a kill, a shutdown): what is in flight is lost; each side
    notices at its next read. A silent partition of this connection ends with it (the model's
    partitions belong to one connection; a new one needs the path to work again)."""
    if w.link != LINK_UP:
        return w._replace(part_main=False, part_rp=False) if (w.part_main or w.part_rp) else w
    return w._replace(link=LINK_DOWN, main=(), rp=(), part_main=False, part_rp=False)


# What a reader sees of a stream. During a silent partition (docs/faults.md) the bytes are held
# in the network: a blocked read stays blocked, and neither data nor a close gets through until
# the partition heals; writes keep succeeding (TCP buffers them; its retransmission timeout, many
# minutes, is not modelled).

def main_head(w: World) -> Msg | None:
    """The next item the destination can read from the main stream, if any."""
    return w.main[0] if w.main and not w.part_main else None


def main_closed(w: World) -> bool:
    """The destination's read of the main stream returns an error: the connection is gone and
    nothing is left to read (and no partition hides the close)."""
    return w.link == LINK_DOWN and not w.main and not w.part_main


def rp_head(w: World) -> Msg | None:
    """The next item the source's return-path thread can read, if any."""
    return w.rp[0] if w.rp and not w.part_rp else None


def rp_closed(w: World) -> bool:
    """The source's read of the return path returns an error."""
    return w.link == LINK_DOWN and not w.rp and not w.part_rp


def partitioned(w: World) -> bool:
    return w.part_main or w.part_rp


def activate_disk(config: Config, w: World, side: str) -> tuple[World, bool]:
    """``migration_block_activate`` / ``bdrv_activate_all`` for ``side``: takes the image lock
    with a shared disk. Fails if the other side holds it or the storage failed."""
    if w.disk_broken:
        return w, False
    if not config.shared_disk:
        return w, True
    if w.disk in (DISK_NONE, side):
        return w._replace(disk=side), True
    return w, False


# ``NamedTuple._replace`` rebuilds through ``_make`` and a map over every field; the search calls
# it several times per successor, so a direct list copy is worth its few lines.
_INDEX = {name: i for i, name in enumerate(World._fields)}
_tuple_new = tuple.__new__


def _replace(self: World, **changes: object) -> World:
    values = list(self)
    for name, value in changes.items():
        values[_INDEX[name]] = value
    return _tuple_new(World, values)


World._replace = _replace  # type: ignore[method-assign,assignment]
