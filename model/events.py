"""What each step shows to the outside: the QMP events QEMU emits (MIGRATION, STOP, RESUME).

A status change of a side is a ``MIGRATION`` event on that side (``migrate_set_state`` emits it when
the compare-and-swap succeeds, with the ``events`` capability). A guest that starts emits
``RESUME``, one that stops ``STOP``. Events are not always state changes: a 7.2 destination emits
``setup`` on ``migrate-incoming`` and on ``migrate-recover`` without changing its status
(``qemu_start_incoming_migration``: ``Version.incoming_setup``; real-qemu.md finding 9,
docs/drift.md), and a second ``migrate_cancel`` emits ``cancelling`` again (docs/qemu-10.2.md).
"""

from __future__ import annotations

from typing import NamedTuple

from model.config import Config
from model.status import RunState
from model.system import Action
from model.world import World

STARTS_INCOMING = ("migrate-incoming", "migrate-recover")
"""The accepted destination commands that run ``qemu_start_incoming_migration``."""


class Event(NamedTuple):
    side: str  # "src" | "dst"
    event: str  # "MIGRATION" | "STOP" | "RESUME"
    status: str = ""  # MIGRATION's data.status


def _side(prefix: str, before: World, after: World) -> list[Event]:
    out: list[Event] = []
    b_status, a_status = getattr(before, f"{prefix}_status"), getattr(after, f"{prefix}_status")
    b_run, a_run = getattr(before, f"{prefix}_run"), getattr(after, f"{prefix}_run")
    side = "src" if prefix == "s" else "dst"
    if not getattr(before, f"{prefix}_alive"):
        return out
    # A step that ends the process (exit-on-error) still shows what QEMU emitted before exit():
    # the destination sends MIGRATION failed, then exits (real-qemu.md finding 10). A kill
    # changes no status, so it shows nothing.
    if a_status is not b_status:
        out.append(Event(side, "MIGRATION", a_status.value))
    if b_run is RunState.RUNNING and a_run is not RunState.RUNNING:
        out.append(Event(side, "STOP"))
    if a_run is RunState.RUNNING and b_run is not RunState.RUNNING:
        out.append(Event(side, "RESUME"))
    return out


def events(config: Config, before: World, action: Action, after: World) -> list[Event]:
    """The events a step emits, source first. Within one atomic step their order is not
    observable in the model; conformance treats them as a set."""
    out = _side("s", before, after) + _side("d", before, after)
    if action.name in STARTS_INCOMING and action.actor == "dst/qmp" and not config.dst.incoming_setup:
        # 7.2's qemu_start_incoming_migration: qapi_event_send_migration(SETUP), no status change
        out.append(Event("dst", "MIGRATION", "setup"))
    if action.name == "migrate_cancel: again" and action.actor == "src/qmp":
        # migration_cancel: CANCELLING -> CANCELLING succeeds, and migrate_set_state emits the event
        out.append(Event("src", "MIGRATION", "cancelling"))
    return out
