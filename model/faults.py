"""The fault injector: what networks, machines and operators do to a migration, each within a budget.

Like P's ``FailureInjector`` and Stateright's ``max_crashes``: faults are actions like any other,
enabled while the configuration's budget for their kind (and the total budget) lasts. The checker
knows nothing of them; properties that assume "faults eventually stop" leave the ``fault`` actor's
edges out.

``KINDS`` is the one table of fault kinds: its name (the budget key, ``Faults.limits``), its budget
slot (its index: ``World.budget[slot]``, the total last), the action labels of its rows (what a
timeline prints), the plain-English words a report uses, where a sequence chart draws it, its
default limit, and its rows. Adding a fault kind is adding one ``FaultKind`` here.

QEMU's reaction to each fault is not written here: it is the ordinary rows of ``source.py`` and
``destination.py`` reading the world the fault leaves (a closed link, a held stream, a dead
process), version by version. What each kind means, and what it assumes, is in docs/faults.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.config import Config, Faults
from model.destination import close_files, exit_process, fail_and_cleanup, load_fails
from model.messages import DEVICE_STATE, PKG_DEVICE_STATE
from model.status import MigrationStatus as S
from model.status import RunState
from model.table import ANY, Row, statuses
from model.world import (
    BQL_HELD,
    DISK_NONE,
    DISK_SRC,
    DM_LOAD,
    DM_PACKAGE,
    LINK_DOWN,
    LINK_UP,
    PC_DONE,
    PC_IDLE,
    PC_STUCK,
    World,
    break_link,
    incoming_started,
    listening,
    main_head,
    partitioned,
)

# ---------------------------------------------------------------------------------------------
# Guards and effects.


def link_up(c: Config, w: World) -> bool:
    return w.link == LINK_UP


def reset(c: Config, w: World) -> World:
    return break_link(w)


def can_partition_rp(c: Config, w: World) -> bool:
    return w.link == LINK_UP and not w.part_rp


def can_partition_main(c: Config, w: World) -> bool:
    return w.link == LINK_UP and not w.part_main


def heal(c: Config, w: World) -> World:
    return w._replace(part_main=False, part_rp=False)


def src_yank_registered(c: Config, w: World) -> bool:
    """``qmp_migrate`` registered the ``migration`` yank instance and ``migration_cleanup`` has
    not unregistered it; the source's channel still exists. A QMP command: it waits while
    ``postcopy_start`` holds the BQL."""
    return (w.link == LINK_UP and w.s_pc not in (PC_IDLE, PC_DONE, PC_STUCK) and w.s_pc not in BQL_HELD
            and not w.s_cancel)


def src_yank(c: Config, w: World) -> World:
    """``migration_yank_iochannel``: ``shutdown(SHUT_RDWR)`` of the source's socket. Its own reads
    and writes fail; what it already sent still reaches the destination, then the close; what
    the destination sent back is discarded."""
    return w._replace(link=LINK_DOWN, rp=(), part_rp=False)


def dst_yank_registered(c: Config, w: World) -> bool:
    """``qmp_migrate_incoming`` registered the instance; ``migration_incoming_state_destroy``
    closes the channel (the link is then no longer up). The channel is registered when the
    incoming connection is accepted."""
    return w.link == LINK_UP and incoming_started(w) and not listening(w)


def dst_yank(c: Config, w: World) -> World:
    """The destination's socket shut down: its reads fail; the source still receives what was
    sent on the return path, then the close."""
    return w._replace(link=LINK_DOWN, main=(), part_main=False)


def dst_alive(c: Config, w: World) -> bool:
    return w.d_alive and incoming_started(w)


def crash_dst(c: Config, w: World) -> World:
    return exit_process(break_link(w))


def src_alive(c: Config, w: World) -> bool:
    return w.s_alive and w.s_status is not S.NONE


def crash_src(c: Config, w: World) -> World:
    w = break_link(w)
    return w._replace(s_alive=False, disk=DISK_NONE if w.disk == DISK_SRC else w.disk)


def package_device_state_next(c: Config, w: World) -> bool:
    return w.d_alive and w.d_main == DM_PACKAGE and bool(w.d_pkg) and w.d_pkg[0] == PKG_DEVICE_STATE


def devload_in_package(c: Config, w: World) -> World:
    """10.2+: the main thread sets the error on the stream; the listen thread must notice."""
    return load_fails(c, w)._replace(h_devload=True)


def devload_exit(c: Config, w: World) -> World:
    """Before 10.2 the destination exits from the load path (7.2: without a 'failed' event)."""
    return exit_process(close_files(w))._replace(h_devload=True, d_pkg=())


def precopy_device_state_next(c: Config, w: World) -> bool:
    return w.d_alive and w.d_main == DM_LOAD and main_head(w) == DEVICE_STATE


def devload_precopy(c: Config, w: World) -> World:
    """D4: the precopy load fails: SHUT(1), close, exit (exit-on-error)."""
    return fail_and_cleanup(c, w._replace(main=w.main[1:], h_devload=True))


def disk_fine(c: Config, w: World) -> bool:
    return not w.disk_broken


def run_bh_with_autostart(c: Config, w: World) -> bool:
    """The RUN bottom half is pending and will try to activate the disks (autostart)."""
    return w.d_bh and w.d_autostart


def activation_fails_paused(c: Config, w: World) -> World:
    """7.2: ``autostart = false``, runstate ``paused``: management may ``cont`` (and retry)."""
    return w._replace(d_bh=False, d_autostart=False, d_run=RunState.PAUSED)


def activation_fails_inmigrate(c: Config, w: World) -> World:
    """10.0+: no ``vm_start``; runstate stays ``inmigrate`` (``cont`` only sets autostart)."""
    return w._replace(d_bh=False)


# ---------------------------------------------------------------------------------------------
# The table.


@dataclass(frozen=True)
class FaultKind:
    """One kind of fault: its budget key, its rows (whose names are the action labels), how a
    report tells it (``what``: "the connection was reset"), and where a sequence chart draws it
    (``target``: "source", "destination" or "main stream")."""

    name: str
    description: str
    what: str
    target: str
    rows: tuple[Row, ...]
    default: bool = True
    """In the default budget: up to the total, any mix with the other kinds."""
    silent: bool = False
    """Nothing fails by it (a partition, its healing): it spends budget but is no failure, so a
    run with only such faults still counts as fault-free (``World.h_fault`` stays false)."""

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.rows)


def _env(kind: str, label: str, guard: object, effect: object, qemu: str, doc: str, side: str = "env",
         source: frozenset[S] = ANY, **kw: object) -> Row:
    return Row(side, "fault", label, source, None, guard, effect, qemu, doc, fault=kind,  # type: ignore[arg-type]
               **kw)  # type: ignore[arg-type]


KINDS: tuple[FaultKind, ...] = (
    FaultKind("reset", "the connection is closed with RST on both ends; in-flight bytes are lost",
              "the connection was reset", "main stream", (
                  _env("reset", "reset", link_up, reset, "(network)",
                       "RST: each side sees the error at its next read or write"),)),
    FaultKind("partition-dst-src", "destination -> source bytes are dropped, nothing is closed",
              "the network began dropping destination-to-source bytes", "return path", (
                  _env("partition-dst-src", "partition dst->src", can_partition_rp,
                       lambda c, w: w._replace(part_rp=True, h_partition=w.h_partition or w.h_postcopy), "(network)",
                       "a silent partition: the return path is held; blocked reads stay blocked"),),
              silent=True),
    FaultKind("partition-src-dst", "source -> destination bytes are dropped, nothing is closed",
              "the network began dropping source-to-destination bytes", "main stream", (
                  _env("partition-src-dst", "partition src->dst", can_partition_main,
                       lambda c, w: w._replace(part_main=True, h_partition=w.h_partition or w.h_postcopy), "(network)",
                       "a silent partition: the main stream is held; blocked reads stay blocked"),),
              silent=True),
    FaultKind("heal", "a partition ends: the held bytes flow again", "the partition healed", "main stream", (
        _env("heal", "heal", lambda c, w: partitioned(w), heal, "(network)",
             "TCP retransmits what was held; nothing was lost"),), silent=True),
    FaultKind("yank", "QMP yank of the 'migration' instance: the side's migration sockets shut down",
              "the operator yanked the migration channel", "main stream", (
                  _env("yank", "yank: source", src_yank_registered, src_yank, "util/yank.c:qmp_yank",
                       "migration_yank_iochannel: shutdown of the source's channel", side="src"),
                  _env("yank", "yank: destination", dst_yank_registered, dst_yank, "util/yank.c:qmp_yank",
                       "migration_yank_iochannel: shutdown of the destination's channel", side="dst"))),
    FaultKind("dst-crash", "kill -9 of the destination: its sockets reset, its image locks go",
              "the destination process died", "destination", (
                  _env("dst-crash", "dst-crash", dst_alive, crash_dst, "(kill -9)",
                       "the destination process dies"),)),
    FaultKind("src-crash", "kill -9 of the source: its sockets reset, its image locks go",
              "the source process died", "source", (
                  _env("src-crash", "src-crash", src_alive, crash_src, "(kill -9)", "the source process dies"),),
              default=False),
    FaultKind("device-load-failure", "the destination cannot load the device state (a device it lacks)",
              "the destination failed to load the device state", "destination", (
                  _env("device-load-failure", "device-load-failure", package_device_state_next,
                       devload_in_package, "migration/savevm.c:qemu_loadvm_state_main",
                       "a device section in the package fails to load", side="dst",
                       source=statuses(S.POSTCOPY_DEVICE, S.POSTCOPY_ACTIVE), since=(10, 2)),
                  _env("device-load-failure", "device-load-failure: exit", package_device_state_next,
                       devload_exit, "migration/savevm.c:qemu_loadvm_state", "before 10.2 the destination exits",
                       side="dst", source=statuses(S.POSTCOPY_ACTIVE, S.POSTCOPY_DEVICE), until=(10, 2)),
                  _env("device-load-failure", "device-load-failure: precopy", precopy_device_state_next,
                       devload_precopy, "migration/migration.c:process_incoming_migration_co",
                       "D4: precopy device state fails to load", side="dst", source=statuses(S.ACTIVE)))),
    FaultKind("dst-disk-activation", "the destination's disk activation fails in the RUN bottom half",
              "the destination could not activate its disks at RUN", "destination", (
                  _env("dst-disk-activation", "disk activation fails at RUN: paused", run_bh_with_autostart,
                       activation_fails_paused, "migration/savevm.c:loadvm_postcopy_handle_run_bh",
                       "7.2: bdrv_activate_all fails: autostart cleared, runstate paused", side="dst",
                       until=(10, 0)),
                  _env("dst-disk-activation", "disk activation fails at RUN", run_bh_with_autostart,
                       activation_fails_inmigrate, "migration/savevm.c:loadvm_postcopy_handle_run_bh",
                       "migration_block_activate fails: no vm_start, runstate stays inmigrate", side="dst",
                       since=(10, 0)))),
    FaultKind("disk-failure", "shared storage refuses activation from now on (e.g. dead NFS)",
              "the shared storage failed", "main stream", (
                  _env("disk-failure", "disk-failure", disk_fine, lambda c, w: w._replace(disk_broken=True),
                       "(storage)", "shared storage refuses activation from now on"),),
              default=False),
)

SLOT: dict[str, int] = {k.name: i for i, k in enumerate(KINDS)}
"""A kind's budget slot: its index in ``World.budget`` (the total is the last entry)."""
TOTAL = len(KINDS)
FAILURES = frozenset(k.name for k in KINDS if not k.silent)
"""The kinds that make something fail (``World.h_fault``)."""
KIND_OF_LABEL: dict[str, FaultKind] = {label: k for k in KINDS for label in k.labels}
ROWS: tuple[Row, ...] = tuple(r for k in KINDS for r in k.rows)


def _clip(vector: tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """A kind's count above the total can never bind: it is stored as the total, so runs that
    spent their faults differently but left the same choices reach the same state."""
    total = vector[TOTAL]
    return tuple(min(n, total) for n in vector)


def budget_vector(faults: Faults) -> tuple[int, ...]:
    """The initial ``World.budget``: each kind's limit in ``KINDS`` order, then the total."""
    unknown = sorted({k for k, _ in faults.limits} - set(SLOT))
    if unknown:
        from model.config import ConfigError

        raise ConfigError(f"unknown fault kind {unknown[0]!r} (known: {', '.join(SLOT)})")
    return _clip([*(faults.limit(k.name, faults.total if k.default else 0) for k in KINDS), faults.total])


def spend(vector: tuple[int, ...], kind: str) -> tuple[int, ...]:
    """The budget after one fault of ``kind``."""
    b = list(vector)
    b[SLOT[kind]] -= 1
    b[TOTAL] -= 1
    return _clip(b)


def describe(faults: Faults) -> str:
    """The budget in words, kinds that may happen only."""
    vector = budget_vector(faults)
    allowed = [f"{k.name} {n}" for k, n in zip(KINDS, vector, strict=False) if n]
    return f"faults (at most {faults.total} per run): " + (", ".join(allowed) or "none")
