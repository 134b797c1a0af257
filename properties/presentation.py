"""How the QEMU model is drawn and told: the suite's presentation hooks (``checker/spec.py``).

* ``machine_diagrams``: each side's status machine, read from the transition tables (QAPI status
  names; an edge is a row that changes the status, labelled with the row and its QEMU function).
* ``project``: a world -> (source status, destination status).
* ``sequence``: a counterexample as a sequence chart (source, main stream, return path,
  destination, management), messages inferred from consecutive states' ``main`` / ``rp`` queues.
* ``explain``: a counterexample in one plain-English paragraph.
* ``explain_state``: what each QEMU thread of a world is doing or blocked on (the end of a
  counterexample: why nothing moves).
* ``QUESTIONS``: what the report's index answers from the verdicts.

The checker renders all of it generically; nothing here draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from model import world as W
from model.config import Config
from model.faults import KIND_OF_LABEL
from model.status import MigrationStatus
from model.system import Action, _msg, all_rows, effective_dest
from model.world import World

__all__ = ("QUESTIONS", "explain", "explain_state", "machine_diagrams", "project", "sequence")

QUESTIONS: tuple[tuple[str, str], ...] = (
    ("Can the source always resume its guest when the migration fails before the PONG?",
     "source-resumable-before-pong"),
    ("Do the two guests never run at the same time?", "no-split-brain"),
    ("Does the source never run again once the destination guest has run?", "no-rollback"),
    ("Is the VM never lost: can QEMU and the operator always get one guest running with the whole "
     "machine state?", "no-vm-loss"),
    ("Can every state move on without another failure (no hang, such as a source waiting for a PONG "
     "that cannot come)?", "no-stuck-state"),
    ("Does a broken return path always end postcopy-device?", "rp-error-ends-postcopy-device"),
    ("Without any fault, can QEMU and the operator always bring the migration to an end?",
     "fault-free-runs-finish"),
)

_SIDE_TITLE = {"src": "source", "dst": "destination"}
GONE = "(gone)"


def _function(qemu: str) -> str:
    return qemu.rsplit(":", 1)[-1]


def _label(name: str, qemu: str, actor: str) -> str:
    fn = _function(qemu)
    head = f"QMP {name}" if actor == "qmp" else name
    if name.split(":", 1)[0].split(" ", 1)[0] in (fn, fn.removeprefix("qmp_")):
        return head
    return f"{head}\n({fn})"


def machine_diagrams(config: Config, fired: frozenset[Any] | None) -> dict[str, dict[str, Any]]:
    """Per side, the status changes of the transition table that this configuration can make.

    With ``fired`` (the actions of an exploration), rows that never fire are left out, so the
    diagram is the machine of this QEMU version; internal rows (no status change) are counted in
    the note, not drawn.
    """
    names = None if fired is None else {a.name for a in fired if isinstance(a, Action)}
    out: dict[str, dict[str, Any]] = {}
    for side in ("src", "dst"):
        edges: list[tuple[str, str, str, str]] = []
        internal = unused = 0
        for row in all_rows():
            if row.side != side:
                continue
            if names is not None and row.name not in names:
                unused += 1
                continue
            dest = effective_dest(config, row)
            if dest is None:
                internal += 1
                continue
            style = "fault" if row.fault else ("error" if row.fails or dest is MigrationStatus.FAILED
                                               else "normal")
            sources = sorted(s.value for s in row.source) if row.source else ["*"]
            for src in sources:
                edges.append((src, dest.value, _label(row.name, row.qemu, row.actor), style))
        note = (f"{len(edges)} status changes drawn; {internal} rows that keep the status "
                f"(messages, flags, thread positions) not drawn")
        if names is not None:
            note += f"; {unused} rows never fire in {config.name}"
        out[_SIDE_TITLE[side]] = {"initial": MigrationStatus.NONE.value, "edges": edges, "note": note}
    return out


def project(w: World) -> tuple[str, str]:
    return (w.s_status.value if w.s_alive else GONE, w.d_status.value if w.d_alive else GONE)


# ---------------------------------------------------------------------------------------------
# Sequence charts.

SOURCE, MAIN, RP, DEST, MGMT = "source", "main stream", "return path", "destination", "management"
LANES = [SOURCE, MAIN, RP, DEST, MGMT]


def _queue_diff(before: Sequence[str], after: Sequence[str]) -> tuple[list[str], list[str]]:
    """(taken from the head, added at the tail) between two snapshots of a FIFO queue."""
    for k in range(len(before) + 1):
        rest = list(before[k:])
        if list(after[: len(rest)]) == rest:
            return list(before[:k]), list(after[len(rest):])
    return list(before), list(after)


def _short(msg: str) -> str:
    for prefix in ("MIG_CMD_", "MIG_RP_MSG_"):
        msg = msg.replace(prefix, "")
    return msg


def _status(state: dict[str, Any], side: str) -> str:
    status, run = state.get(side, "?"), state.get(f"{side}_runstate", "?")
    return str(status) if run == "gone" else f"{status}, guest {run}"


def _side(state: dict[str, Any], key: str) -> tuple[Any, Any]:
    return state.get(key), state.get(f"{key}_runstate")


def sequence(steps: list[dict[str, Any]]) -> dict[str, Any]:
    events: list[dict[str, Any]] = []
    prev: dict[str, Any] | None = None
    for step in steps:
        state = step["state"]
        i = step["step"]
        actor = str(step.get("actor", ""))
        action = str(step.get("action", ""))
        if prev is None:
            text = f"initial: source {_status(state, 'src')}; destination {_status(state, 'dst')}"
            events.append({"step": i, "kind": "note", "from": SOURCE, "to": DEST, "text": text})
            prev = state
            continue
        taken_main, sent_main = _queue_diff(prev.get("main", []), state.get("main", []))
        taken_rp, sent_rp = _queue_diff(prev.get("rp", []), state.get("rp", []))
        side = actor.split("/", 1)[0]
        lane = SOURCE if side == "src" else DEST if side == "dst" else MAIN
        text = action + (f" [refused: {step['refused']}]" if step.get("refused") else "")
        for key, name in (("src", SOURCE), ("dst", DEST)):
            if name == lane and _side(state, key) != _side(prev, key):
                text += f"\n=> {_status(state, key)}"
        if actor == "fault":
            kind = KIND_OF_LABEL.get(action)
            target = kind.target if kind is not None and kind.target in LANES else MAIN
            events.append({"step": i, "kind": "fault", "from": target, "to": RP if target == MAIN else target,
                           "text": f"FAULT {action}"})
            for m in taken_main:
                events.append({"step": i, "kind": "lost", "from": MAIN, "to": MAIN,
                               "text": f"lost {_short(m)}"})
            for m in taken_rp:
                events.append({"step": i, "kind": "lost", "from": RP, "to": RP, "text": f"lost {_short(m)}"})
            taken_main, taken_rp = [], []
        elif actor.endswith("/qmp"):
            events.append({"step": i, "kind": "message", "from": MGMT, "to": lane, "text": text})
        else:
            events.append({"step": i, "kind": "note", "from": lane, "to": lane, "text": text})
        for m in taken_main:
            events.append({"step": i, "kind": "message", "from": MAIN, "to": DEST, "text": _short(m)})
        for m in sent_main:
            events.append({"step": i, "kind": "message", "from": SOURCE, "to": MAIN, "text": _short(m)})
        for m in taken_rp:
            events.append({"step": i, "kind": "message", "from": RP, "to": SOURCE, "text": _short(m)})
        for m in sent_rp:
            events.append({"step": i, "kind": "message", "from": DEST, "to": RP, "text": _short(m)})
        for key, name in (("src", SOURCE), ("dst", DEST)):
            if name != lane and _side(state, key) != _side(prev, key):
                events.append({"step": i, "kind": "note", "from": name, "to": name,
                               "text": f"=> {_status(state, key)}"})
        prev = state
    return {"lanes": list(LANES), "events": events}


# ---------------------------------------------------------------------------------------------
# Plain English.


def _running(state: dict[str, Any], side: str) -> bool:
    return state.get(f"{side}_runstate") == "running"


_OPERATOR = frozenset({"migrate_cancel", "migrate-pause", "cont", "migrate", "migrate-recover"})


def explain(steps: list[dict[str, Any]]) -> str:
    """What happens in a counterexample, told from the events that matter for the properties:
    the guest stops and starts, the faults (and the messages they destroy), the final statuses."""
    if not steps:
        return ""
    parts: list[str] = []
    prev = steps[0]["state"]
    src_stopped = False
    for step in steps[1:]:
        state, i = step["state"], step["step"]
        actor, action = str(step.get("actor", "")), str(step.get("action", ""))
        if actor == "fault":
            lost = [_short(m) for m in prev.get("main", []) + prev.get("rp", [])
                    if m not in state.get("main", []) + state.get("rp", [])]
            kind = KIND_OF_LABEL.get(action)
            what = kind.what if kind is not None else action
            if action.startswith("yank: "):
                what += f" on the {action.removeprefix('yank: ')}"
            if lost:
                pong = [m for m in lost if "PONG(0x42)" in m]
                shown = pong or (lost if len(lost) <= 3 else [*lost[:3], f"{len(lost) - 3} more"])
                what += f", losing {', '.join(shown)}" + (" in flight" if pong else "")
            parts.append(f"{what} (step {i})")
        elif actor.endswith("/qmp") and not step.get("refused") and action.split(" ", 1)[0] in _OPERATOR \
                and action != "migrate":
            where = "source" if actor.startswith("src") else "destination"
            parts.append(f"the operator ran {action} on the {where} (step {i})")
        if _running(prev, "src") and not _running(state, "src") and state.get("src_runstate") != "gone":
            src_stopped = True
            parts.append(f"the source stopped its guest for the switchover (step {i})")
        if not _running(prev, "dst") and _running(state, "dst"):
            parts.append(f"the destination started its guest (step {i})")
        if src_stopped and not _running(prev, "src") and _running(state, "src"):
            parts.append(f"the source restarted its own guest (step {i})")
        if prev.get("src") != state.get("src") and state.get("src") in ("failed", "postcopy-paused",
                                                                        "cancelled"):
            parts.append(f"the source went {state['src']} (step {i})")
        if prev.get("dst") != state.get("dst") and state.get("dst") in ("failed", "postcopy-paused"):
            parts.append(f"the destination went {state['dst']} (step {i})")
        prev = state
    last = steps[-1]["state"]
    s_run, d_run = _running(last, "src"), _running(last, "dst")
    if s_run and d_run:
        end = "both guests run"
    elif not s_run and not d_run:
        end = "no guest runs"
    else:
        end = "only the " + ("source" if s_run else "destination") + " guest runs"
    story = "; ".join(parts) if parts else "nothing notable happens"
    return (f"{story[0].upper()}{story[1:]}. In the end the source is {_status(last, 'src')}, "
            f"the destination {_status(last, 'dst')}: {end}.")


# ---------------------------------------------------------------------------------------------
# What each thread waits for.

_SRC_PC: dict[str, str] = {
    W.PC_IDLE: "no migration thread yet (before QMP migrate)",
    W.PC_SETUP: "connecting and setting up (migration_connect, qemu_savevm_state_setup)",
    W.PC_PRE_SWITCHOVER: "waiting for QMP migrate-continue (pause_event, pause-before-switchover)",
    W.PC_PACKAGE: "in postcopy_start: guest stopped, about to send the package",
    W.PC_SENT: "in postcopy_start: package sent, about to check the stream and leave device",
    W.PC_COMPLETE: "precopy completion: device state sent, waiting for the destination's SHUT "
                   "(close_return_path_on_source)",
    W.PC_WAIT_PONG: "waiting for PONG 0x42 with nothing left to send (postcopy_package_loaded_event)",
    W.PC_PAUSED: "paused (postcopy_pause): waiting for QMP migrate resume=true (postcopy_pause_sem)",
    W.PC_RESUME: "recovering (postcopy_do_resume): POSTCOPY_RESUME sent, waiting for RESUME_ACK (rp_sem)",
    W.PC_PC_COMPLETE: "postcopy completion: EOF sent, joining the return-path thread (waits for SHUT)",
    W.PC_FINISH: "loop left: migration_iteration_finish about to restart the guest or leave it stopped",
    W.PC_CLEANUP: "gone; migration_cleanup_bh pending on the main loop",
    W.PC_DONE: "gone; clean-up done",
    W.PC_STUCK: "gone without a clean-up path (\"Unknown ending state\"): nothing changes the status again",
}

_DST_MAIN: dict[str, str] = {
    W.DM_LOAD: "reading the main stream (process_incoming_migration_co)",
    W.DM_QUIT: "stopped reading after RUN (LOADVM_QUIT); the listen thread owns the main stream",
    W.DM_FAILED: "its load failed; the error is set on the main stream (from_src_file) for the listen thread",
    W.DM_DONE: "precopy load finished",
}


def _next(queue: Sequence[Any]) -> str:
    return f"next in the queue: {_short(_msg(queue[0]))}" if queue else "nothing in flight"


def explain_state(w: World) -> list[tuple[str, str]]:
    """(thread, what it is doing or blocked on) for every QEMU thread of ``w``, source first.

    Derived from the thread positions (``s_pc``, ``s_rp``, ``d_main``, ``d_listen``, ``d_bh``) and
    the queues, so a reader sees why nothing moves at the end of a counterexample."""
    out: list[tuple[str, str]] = []
    if not w.s_alive:
        out.append(("src process", "gone (killed)"))
    else:
        doing = _SRC_PC.get(w.s_pc, w.s_pc)
        if w.s_pc == W.PC_ITERATE:
            doing = "iterating: sending RAM, serving page requests, checking the stream for errors"
            if w.s_status is MigrationStatus.POSTCOPY_DEVICE:
                doing += ("; PONG 0x42 arrived, acts on it at its next iteration" if w.s_loaded
                          else "; no PONG 0x42 yet")
        elif w.s_pc == W.PC_WAIT_PONG and w.s_loaded:
            doing = "PONG 0x42 arrived: about to move to postcopy-active"
        out.append(("src migration thread", doing))
        if w.s_rp == W.RP_ON:
            rp = (f"reading the return path, {_next(w.rp)}" if w.rp
                  else "blocked reading the return path (nothing in flight"
                  + ("; the connection is down: the read fails next)" if w.link == W.LINK_DOWN else ")"))
            out.append(("src return-path thread", rp))
        elif w.s_rp in (W.RP_OK, W.RP_ERR):
            out.append(("src return-path thread", "exited after SHUT(0)" if w.s_rp == W.RP_OK
                        else "exited after an error (a read error or SHUT(1))"))
    if not w.d_alive:
        out.append(("dst process", "gone (exited or killed)"))
        return out
    if w.d_main in (W.DM_IDLE, W.DM_LISTEN) and w.d_recover:
        main = "listening for the recovery channel (QMP migrate-recover)"
    elif w.d_main == W.DM_IDLE:
        main = "no incoming migration yet (before QMP migrate-incoming)"
    elif w.d_main == W.DM_LISTEN:
        main = "waiting for the incoming stream to start"
        if w.link == W.LINK_DOWN:
            main += " (the connection is down: nothing will arrive)"
    elif w.d_main == W.DM_PACKAGE:
        left = ", ".join(_short(_msg(m)) for m in w.d_pkg) or "nothing"
        main = f"loading the package; left in it: {left}"
    else:
        main = _DST_MAIN.get(w.d_main, w.d_main)
        if w.d_main == W.DM_LOAD:
            main += f"; {_next(w.main)}"
    out.append(("dst main thread", main))
    if w.d_listen == W.DL_ON:
        if w.main:
            listen = f"reading the main stream, {_next(w.main)}"
        elif w.link == W.LINK_DOWN:
            listen = "reading the main stream: the connection is down, the read fails next"
        else:
            listen = "blocked reading the main stream (postcopy_listen_thread): nothing arrives"
            if w.d_ferr:
                listen += "; it would see the main thread's error only when something arrives"
        out.append(("dst listen thread", listen))
    elif w.d_listen == W.DL_DONE:
        out.append(("dst listen thread", "exited"))
    if w.d_bh:
        out.append(("dst RUN bottom half", "scheduled: activates the disks and starts the guest"
                    if w.d_autostart else "scheduled: leaves the guest paused for QMP cont"))
    return out
