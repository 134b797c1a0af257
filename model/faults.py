"""The fault injector: an ordinary actor whose actions break things, each within a budget.

Like P's ``FailureInjector`` and Stateright's ``max_crashes``: faults are actions like any other,
enabled while the configuration's budget for their kind (and the total budget) lasts. The checker
knows nothing of them; properties that assume "faults eventually stop" simply leave the ``fault``
actor's edges out.

Faults:
* ``link-cut``: the TCP connection drops (reset or partition ending in a reset). Messages in
  flight in either direction are lost; each side sees the error at its next read or write. A lost
  PONG followed by a reset (real-qemu.md scenario h) is this fault after the PONG was sent.
* ``dst-crash`` / ``src-crash``: kill -9. The process stops; its sockets reset; its image locks go.
* ``device-load-failure``: the destination cannot load the device state (a device it lacks).
* ``disk-failure``: shared storage refuses activation from now on (e.g. dead NFS).
"""

from __future__ import annotations

from model.config import Config
from model.destination import close_files, exit_process, fail_and_cleanup, load_fails
from model.messages import DEVICE_STATE, PKG_DEVICE_STATE
from model.status import MigrationStatus as S
from model.table import ANY, Row, statuses
from model.world import DISK_NONE, DISK_SRC, DM_LOAD, DM_PACKAGE, LINK_UP, World, break_link


def link_up(c: Config, w: World) -> bool:
    return w.link == LINK_UP


def dst_alive(c: Config, w: World) -> bool:
    return w.d_alive and w.d_status is not S.NONE


def crash_dst(c: Config, w: World) -> World:
    return exit_process(break_link(w))


def src_alive(c: Config, w: World) -> bool:
    return w.s_alive and w.s_status is not S.NONE


def crash_src(c: Config, w: World) -> World:
    w = break_link(w)
    return w._replace(s_alive=False, disk=DISK_NONE if w.disk == DISK_SRC else w.disk)


def package_device_state_next(c: Config, w: World) -> bool:
    return w.d_alive and w.d_main == DM_PACKAGE and bool(w.d_pkg) and w.d_pkg[0] == PKG_DEVICE_STATE


def devload_fails_new(c: Config, w: World) -> bool:
    return package_device_state_next(c, w) and c.dst.exit_on_error_in_postcopy


def devload_fails_old(c: Config, w: World) -> bool:
    return package_device_state_next(c, w) and not c.dst.exit_on_error_in_postcopy


def devload_new(c: Config, w: World) -> World:
    """10.2+: the main thread sets the error on the stream; the listen thread must notice."""
    return load_fails(c, w)._replace(h_devload=True)


def devload_old(c: Config, w: World) -> World:
    """Before 10.2 the destination exits from the load path (7.2: without a 'failed' event)."""
    return exit_process(close_files(w))._replace(h_devload=True, d_pkg=())


def precopy_device_state_next(c: Config, w: World) -> bool:
    return w.d_alive and w.d_main == DM_LOAD and bool(w.main) and w.main[0] == DEVICE_STATE


def devload_precopy(c: Config, w: World) -> World:
    """D4: the precopy load fails: SHUT(1), close, exit (exit-on-error)."""
    return fail_and_cleanup(c, w._replace(main=w.main[1:], h_devload=True))


def disk_fine(c: Config, w: World) -> bool:
    return not w.disk_broken


ROWS: tuple[Row, ...] = (
    Row("env", "fault", "link-cut", ANY, None, link_up, lambda c, w: break_link(w), "(network)",
        "the connection resets; in-flight messages are lost", fault="link-cut"),
    Row("env", "fault", "dst-crash", ANY, None, dst_alive, crash_dst, "(kill -9)",
        "the destination process dies", fault="dst-crash"),
    Row("env", "fault", "src-crash", ANY, None, src_alive, crash_src, "(kill -9)",
        "the source process dies", fault="src-crash"),
    Row("dst", "main", "device-load-failure", statuses(S.POSTCOPY_DEVICE, S.POSTCOPY_ACTIVE), None,
        devload_fails_new, devload_new, "migration/savevm.c:qemu_loadvm_state_main",
        "a device section in the package fails to load", fault="device-load-failure"),
    Row("dst", "main", "device-load-failure: exit", statuses(S.POSTCOPY_ACTIVE, S.POSTCOPY_DEVICE), None,
        devload_fails_old, devload_old, "migration/savevm.c:qemu_loadvm_state",
        "before 10.2 the destination exits", fault="device-load-failure"),
    Row("dst", "main", "device-load-failure: precopy", statuses(S.ACTIVE), S.FAILED,
        precopy_device_state_next, devload_precopy, "migration/migration.c:process_incoming_migration_co",
        "D4: precopy device state fails to load", fault="device-load-failure"),
    Row("env", "fault", "disk-failure", ANY, None, disk_fine, lambda c, w: w._replace(disk_broken=True),
        "(storage)", "shared storage refuses activation from now on", fault="disk-failure"),
)

BUDGET_INDEX = {"link-cut": 0, "dst-crash": 1, "src-crash": 2, "device-load-failure": 3, "disk-failure": 4}
