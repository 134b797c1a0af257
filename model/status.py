"""Names QEMU gives to where a migration is: ``MigrationStatus``, ``PostcopyState`` and ``RunState``.

System: ``qapi/migration.json`` (``MigrationStatus``, with ``postcopy-device`` since 10.2 and
``failing`` in the 11.1 build observed here), ``migration/postcopy-ram.h`` (``PostcopyState``) and
``qapi/run-state.json`` (``RunState``). The values are the QAPI strings, so they read the same in a
model trace, a QMP event and a QEMU log.

The predicates at the end are QEMU's own state sets (``migration_is_running`` & co. in
``migration/migration.c``); guards in the transition tables use them instead of ad-hoc lists.
"""

from __future__ import annotations

import enum


class MigrationStatus(enum.Enum):
    """``MigrationStatus`` in the order of the QAPI enum (10.2, plus 11.1's ``failing``)."""

    NONE = "none"
    SETUP = "setup"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    ACTIVE = "active"
    POSTCOPY_DEVICE = "postcopy-device"
    POSTCOPY_ACTIVE = "postcopy-active"
    POSTCOPY_PAUSED = "postcopy-paused"
    POSTCOPY_RECOVER_SETUP = "postcopy-recover-setup"
    POSTCOPY_RECOVER = "postcopy-recover"
    COMPLETED = "completed"
    FAILING = "failing"
    FAILED = "failed"
    COLO = "colo"
    PRE_SWITCHOVER = "pre-switchover"
    DEVICE = "device"
    WAIT_UNPLUG = "wait-unplug"

    def __repr__(self) -> str:
        return f"MigrationStatus.{self.name}"

    # Members are singletons: identity hashing is correct and avoids Enum's Python-level
    # ``__hash__`` in the search's innermost loop. Nothing iterates a set of these.
    __hash__ = object.__hash__


S = MigrationStatus


class PostcopyState(enum.Enum):
    """The destination's postcopy sub-state (``postcopy_state_get``). RUNNING, not the migration
    status, decides whether a stream error pauses (RUNNING) or fails the destination."""

    NONE = "none"
    ADVISE = "advise"
    DISCARD = "discard"
    LISTENING = "listening"
    RUNNING = "running"
    END = "end"

    def __repr__(self) -> str:
        return f"PostcopyState.{self.name}"

    # Members are singletons: identity hashing is correct and avoids Enum's Python-level
    # ``__hash__`` in the search's innermost loop. Nothing iterates a set of these.
    __hash__ = object.__hash__


class RunState(enum.Enum):
    """The guest's run state (``query-status``), reduced to what the properties judge."""

    RUNNING = "running"
    FINISH_MIGRATE = "finish-migrate"
    POSTMIGRATE = "postmigrate"
    INMIGRATE = "inmigrate"
    PAUSED = "paused"

    def __repr__(self) -> str:
        return f"RunState.{self.name}"

    # Members are singletons: identity hashing is correct and avoids Enum's Python-level
    # ``__hash__`` in the search's innermost loop. Nothing iterates a set of these.
    __hash__ = object.__hash__


# migration_is_running(): what QMP `migrate` refuses to start over and what `migrate_cancel` may stop.
RUNNING_STATES = frozenset({
    S.SETUP, S.ACTIVE, S.POSTCOPY_DEVICE, S.POSTCOPY_ACTIVE, S.POSTCOPY_PAUSED,
    S.POSTCOPY_RECOVER_SETUP, S.POSTCOPY_RECOVER, S.PRE_SWITCHOVER, S.DEVICE, S.WAIT_UNPLUG,
    S.CANCELLING, S.COLO, S.FAILING,
})
# migration_in_postcopy(): gates qmp_migrate_cancel since 10.0.
IN_POSTCOPY = frozenset({
    S.POSTCOPY_DEVICE, S.POSTCOPY_ACTIVE, S.POSTCOPY_PAUSED, S.POSTCOPY_RECOVER_SETUP,
    S.POSTCOPY_RECOVER,
})
# migration_postcopy_is_alive(): gates qmp_migrate_pause. POSTCOPY_DEVICE is deliberately absent.
POSTCOPY_ALIVE = frozenset({S.POSTCOPY_ACTIVE, S.POSTCOPY_RECOVER})
# Statuses a side can rest in for good once its threads are done.
TERMINAL = frozenset({S.COMPLETED, S.FAILED, S.CANCELLED})
