"""What an operator needs to know about a QEMU migration state (the advisor of ``migmodel advise``).

The generic engine (``checker/advise.py``) answers over every model state consistent with what was
observed; this module says, for one state, what those answers are made of:

* who may act: the management layer's QMP commands, and the two things it does to a QEMU process
  from outside, ``kill -9`` (the ``*-crash`` faults) and the QMP ``yank`` of the migration instance;
  every other fault (a link cut, a failed device load, a partition) is the environment's;
* where the newest guest state is: on the source until the destination guest has run; after
  that on the destination, or split between them while postcopy still has pages on the source;
  lost when the side holding it is gone;
* the harms an action can lead to: both guests running (split brain), the source running again
  after the destination guest ran (a rollback: the destination's writes are lost), the machine
  lost (no side can run it with all its state);
* how a settled state ends (only an operator action or a fault can change it).
"""

from __future__ import annotations

from collections.abc import Hashable

from checker.advise import FAULT, INTERNAL, OPERATOR, Advisor
from model.status import IN_POSTCOPY
from model.status import MigrationStatus as S
from model.system import Action
from model.world import World, dst_running, src_running
from properties.qemu import rollback, split_brain

OPERATOR_FAULTS = ("crash", "yank")
"""Fault actions a management layer performs itself: ``kill -9`` of a side, the QMP ``yank``."""


def kind(action: Action) -> str:
    if action.actor.endswith("/qmp"):
        return OPERATOR
    if action.actor == "fault":
        return OPERATOR if any(w in action.name for w in OPERATOR_FAULTS) else FAULT
    return INTERNAL


def label(action: Action) -> str:
    """``src: migrate_cancel``, ``kill -9 the destination``..."""
    if action.actor == "fault":
        if "crash" in action.name:
            return "kill -9 the " + ("destination" if action.name.startswith("dst") else "source")
        return action.name
    side = action.actor.split("/", 1)[0]
    command = action.name.split(":", 1)[0]
    return f"{side}: {command}" + (" (refused)" if action.refused else "")


def lost(w: World) -> bool:
    """No side can run the guest with its whole state any more: after the destination guest
    ran, the destination is gone before it completed, or (postcopy) the source, which still
    holds the pages the destination has not received, is gone before the destination completed;
    before that, the source is gone after it stopped its guest for the switchover."""
    dst_complete = w.d_alive and w.d_status is S.COMPLETED
    if w.h_dst_ran:
        if dst_complete:
            return False
        return not w.d_alive or (w.h_postcopy and not w.s_alive)
    return w.h_switched and not w.s_alive


def newest(w: World) -> str:
    if lost(w):
        return "lost"
    if rollback(w):
        return "diverged (both guests ran after the switchover)"
    if not w.h_dst_ran:
        return "source"
    if w.d_status is S.COMPLETED or not w.s_alive:
        return "destination"
    if w.h_postcopy and w.s_status in IN_POSTCOPY | {S.POSTCOPY_DEVICE}:
        return "split (postcopy: pages on the source, execution on the destination)"
    return "destination"


def harm(w: World) -> tuple[str, ...]:
    out = []
    if split_brain(w):
        out.append("both guests run (split brain)")
    if rollback(w):
        out.append("the source guest runs after the destination guest ran (rollback)")
    if lost(w):
        out.append("the machine is lost (the side holding its newest state is gone)")
    return tuple(out)


def outcome(w: World) -> tuple[str, bool]:
    s, d = src_running(w), dst_running(w)
    if h := harm(w):
        return h[0], False
    if d and w.d_status is S.COMPLETED:
        return "completed (the destination runs)", True
    if s and not d and not (w.d_alive and w.d_status in IN_POSTCOPY | {S.POSTCOPY_DEVICE}):
        return "the source runs (migration ended without handing over)", True
    if w.s_status is S.POSTCOPY_PAUSED or w.d_status is S.POSTCOPY_PAUSED:
        if not (w.s_alive and w.d_alive):  # recovery needs both processes
            gone = "source" if not w.s_alive else "destination"
            return f"postcopy paused, the {gone} gone (nothing recovers it)", False
        return "postcopy paused (recover with migrate-recover + migrate resume=true)", False
    src = w.s_status.value if w.s_alive else "gone"
    dst = w.d_status.value if w.d_alive else "gone"
    return f"waiting (source {src}, destination {dst})", False


def _status(w: World, side: str) -> Hashable:
    if side == "src":
        return (w.s_alive, w.s_run.value if w.s_alive else None)
    return (w.d_alive, w.d_run.value if w.d_alive else None)


def describe(w: World) -> str:
    src = f"{w.s_status.value}/{w.s_run.value}" if w.s_alive else "gone"
    dst = f"{w.d_status.value}/{w.d_run.value}" if w.d_alive else "gone"
    return f"src {src}, dst {dst}, link {w.link}" + (", dst guest has run" if w.h_dst_ran else "")


ADVISOR = Advisor(
    kind=kind,
    label=label,
    remote_ran=lambda w: bool(w.h_dst_ran),
    newest=newest,
    outcome=outcome,
    harm=harm,
    queries=(
        ("query-status on the destination (has its guest run? is it alive?)", lambda w: _status(w, "dst")),
        ("query-migrate on the destination", lambda w: w.d_status.value if w.d_alive else None),
        ("query-status on the source", lambda w: _status(w, "src")),
        ("query-migrate on the source", lambda w: w.s_status.value if w.s_alive else None),
    ),
    describe=describe,
    refused=lambda a: bool(a.refused),
)
