"""``migmodel replay``: run a model counterexample on real QEMU and say whether QEMU does it too.

Usage::

    migmodel replay --config C --property P [--out FILE]
    migmodel replay --counterexample FILE [--config C] [--property P] [--out FILE]
    migmodel replay --window NAME [--out FILE]        (a built-in window, see WINDOWS)

``--counterexample`` reads the JSON of ``migmodel verify --json`` (one configuration and property
is picked with ``--config`` / ``--property`` when it holds several), or a script in the format of
``migmodel simulate --script`` (one ``actor: action`` per line; then both options are needed).

How a model step becomes a harness action (:func:`plan_from_steps`):

* ``src/qmp: migrate`` and ``dst/qmp: migrate-incoming`` are the harness set-up (always
  ``migrate-incoming`` first: in the model the connection is made later, by ``migration_connect``,
  so both orders are one real run). ``src/qmp: migrate-start-postcopy`` is sent at the harness's
  usual moment (1 s into ``active``; for the idle guest, once ``ram.remaining`` <= 1 MiB).
* Other operator steps are the QMP command on that side, refused or not, sent once the real QEMUs
  are where the model was before the step (each side's last MIGRATION status).
* Faults: ``link-cut`` -> the fault proxy resets both TCP connections (RST); ``dst-crash`` /
  ``src-crash`` -> SIGKILL; ``device-load-failure`` -> the source gets a device the destination
  lacks (``isa-serial``), so the load fails where the model says: in the package, or at precopy's
  end. ``disk-failure`` is not mappable (the harness's guests have no disk that can fail to activate).
* Internal steps -> wait for what they show (MIGRATION events, STOP, RESUME, a process exit; a
  return-path frame the destination sends or the source receives, seen by the proxy).
* Windows: a return-path message that the model has in flight when an operator or fault step
  happens is **held** by the proxy (``harness/proxy.py``) until the model's source reads it, or for
  good; a destination whose main thread wrote PONG 0x42 but has not processed RUN when such a step
  happens runs with the LD_PRELOAD shim (``harness/shim/rpstop.c``), which blocks that thread right
  after the PONG write; when the destination has read nothing yet, the proxy holds the main stream.
* A run that needs nothing to be pending after the switchover (``ram_save_iterate: last pages``)
  uses the idle option-ROM guest (``harness/optionrom.py``); otherwise 64 MiB of random data.

Then the trace is recorded (``meta.replays`` = config, property, steps; ``meta.observed_violation``),
checked with ``migmodel conform --config C``, and the property is judged on the recorded outcome
(:data:`JUDGES`): final runstates, statuses, exits, and what did not change during the observation
window (``--hang-s``, default 8 s) for the "stuck" claims.

Exit codes: 0 reproduced (violation observed and the trace conforms); 1 not reproduced (no
violation observed, a step's effect never showed, or conform rejected the trace; the trace is still
written); 2 bad input; 3 not mappable (a step the harness cannot perform, a property it cannot
judge, or no QEMU binary for a version of the configuration); 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import io
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import optionrom
from harness.proxy import FaultProxy, FrameRule, rp_frame
from harness.qmp import Line, Recorder
from harness.scenarios import (
    DEFAULT_RUN_DIR,
    VM,
    BinaryError,
    HarnessError,
    MiB,
    QemuBinary,
    Scenario,
    Session,
    free_port,
    kill_leftovers,
    machine_for,
    probe_binary,
    run_scenario,
)
from harness.shim import Shim, ShimError, build

EXIT_REPRODUCED, EXIT_NOT_REPRODUCED, EXIT_USAGE, EXIT_NOT_MAPPABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
HARNESS = Path(__file__).resolve().parent
REPO = HARNESS.parent

#: Where each modelled QEMU version is found (environment variables override).
BINARIES: dict[str, tuple[str, ...]] = {
    "7.2": (os.environ.get("MIGMODEL_QEMU_72", ""), "/usr/bin/qemu-system-x86_64"),
    "11.1": (os.environ.get("MIGMODEL_QEMU_111", ""), str(HARNESS / "qemu-11.1")),
    "10.2": (os.environ.get("MIGMODEL_QEMU_102", ""), str(HARNESS / "qemu-10.2"),
             "/var/cache/migmodel/build/qemu-10.2.2/build/qemu-system-x86_64"),
    "10.0": (os.environ.get("MIGMODEL_QEMU_100", ""), str(HARNESS / "qemu-10.0")),
}

SRC_TERMINAL = frozenset({"completed", "failed", "cancelled"})
DST_TERMINAL = frozenset({"completed", "failed"})
RP_MSG = re.compile(r"^MIG_RP_MSG_([A-Z_]+)(?:\((\w+)\))?$")

Frame = tuple[str, "int | None"]


class NotMappable(Exception):
    """A step (or the property, or the configuration) that the harness cannot replay."""


class ReplayUsage(Exception):
    """Bad input: one line on stderr, exit code 2."""


# ---------------------------------------------------------------------------------------------
# The plan


@dataclass
class RStep:
    """One counterexample step as the harness performs or waits for it."""

    n: int
    text: str  # "fault: link-cut"
    kind: str  # setup | start-postcopy | qmp | kill | reset | partition | internal
    side: str = ""
    command: str = ""
    effects: tuple[tuple[str, str], ...] = ()  # (side, "MIGRATION x" | "STOP" | "RESUME" | "exited")
    sent: tuple[Frame, ...] = ()  # return-path frames this step makes the destination send
    consumed: tuple[Frame, ...] = ()  # return-path frames the source reads in this step
    pre: dict[str, str] = field(default_factory=dict)  # side -> MIGRATION status before a timed step
    in_flight: tuple[Frame, ...] = ()  # frames sent and not yet read when a timed step happens
    release: tuple[Frame, ...] = ()  # held frames the source reads later: release after this step
    after_s: float = 0.0  # seconds to wait once its state is reached (built-in windows; 7.2's postcopy_start)
    link_down: bool = False  # the model's connection is already gone before this timed step

    @property
    def timed(self) -> bool:
        return self.kind in ("qmp", "kill", "reset", "partition")


@dataclass
class Plan:
    config: str
    property: str
    steps: list[RStep]
    src_version: str
    dst_version: str
    guest: str = "blob"  # "blob" (64 MiB random data) or "idle" (the option-ROM guest)
    postcopy: bool = False
    devload: bool = False
    shared_disk: bool = False
    shim_after: Frame | None = None  # block the destination's writer after this frame
    shim_release_before: int | None = None  # step number before which the shim lets go
    hold_main: bool = False  # hold the main stream (the destination has read nothing)
    drop_from: Frame | None = None  # a silent partition that starts with this return-path frame
    notes: list[str] = field(default_factory=list)
    model_steps: list[str] = field(default_factory=list)


def _frames(items: Sequence[str]) -> list[Frame]:
    out: list[Frame] = []
    for item in items:
        m = RP_MSG.match(item)
        if m:
            out.append((m.group(1), int(m.group(2), 0) if m.group(2) else None))
    return out


def frame_label(f: Frame) -> str:
    return f[0] if f[1] is None else f"{f[0]}({f[1]:#x})"


def load_model_steps(config_name: str, lines: Sequence[str]) -> tuple[Any, list[Any], list[Any]]:
    """Run ``lines`` through the model of ``config_name``: (config, worlds, actions)."""
    from checker.simulate import run_script
    from checker.verify import UsageError
    from model.config import NAMED
    from model.system import MigrationModel

    if config_name not in NAMED:
        raise ReplayUsage(f"unknown configuration {config_name!r} (known: {', '.join(NAMED)})")
    config = NAMED[config_name]
    model = MigrationModel(config)
    try:
        steps = run_script(model, model_step_lines(config_name, lines))
    except UsageError as e:
        raise ReplayUsage(str(e)) from None
    return config, [s.state for s in steps], [s.action for s in steps]


SETUP_DONE = "src/mig: migration_thread: setup done"


def _with_setup_step(lines: list[str]) -> list[str]:
    """Step lists recorded before the model split the source's setup in two (the connect, then
    ``migration_thread`` going SETUP -> ACTIVE) get the second step right after the connect."""
    if any(ln.strip() == SETUP_DONE for ln in lines):
        return lines
    out: list[str] = []
    for ln in lines:
        out.append(ln)
        if ln.strip() == "src/mig: migration_connect":
            out.append(SETUP_DONE)
    return out


CANCEL = "src/qmp: migrate_cancel"
POSTCOPY_START_END_72 = "src/mig: postcopy_start: done (7.2)"
CANCEL_SPLIT = ("src/qmp: migrate_cancel: shut the return path down", "src/main: migration_cancel: cancelling")


def _with_cancel_split(model: Any, lines: list[str]) -> list[str]:
    """Step lists recorded before the model split ``migrate_cancel`` of a source joining its
    return-path thread in two (the return path's shutdown, then the compare-and-swap to
    CANCELLING: ``migration_cancel``) get the two steps where the old one is no longer enabled.
    The QMP command sent is the same."""
    from checker.simulate import action_text

    if CANCEL not in lines or CANCEL_SPLIT[0] in lines:
        return lines
    out: list[str] = []
    state = model.init_states()[0]
    for i, line in enumerate(lines):
        options = {action_text(model, a): s for a, s in model.successors(state)}
        if line == CANCEL and line not in options and CANCEL_SPLIT[0] in options:
            state = options[CANCEL_SPLIT[0]]
            out.append(CANCEL_SPLIT[0])
            line = CANCEL_SPLIT[1]
            options = {action_text(model, a): s for a, s in model.successors(state)}
        if line not in options:
            return out + lines[i:]  # not enabled: run_script says what is wrong
        state = options[line]
        out.append(line)
    return out


def model_step_lines(config_name: str, lines: Sequence[str]) -> list[str]:
    """``lines`` in today's model's terms (the setup and cancel splits above)."""
    from model.config import NAMED
    from model.system import MigrationModel

    lines = _with_setup_step(list(lines))
    if config_name not in NAMED:
        return lines
    return _with_cancel_split(MigrationModel(NAMED[config_name]), lines)


def plan_from_steps(config_name: str, prop: str, lines: Sequence[str]) -> Plan:
    """Map every model step to a harness action or wait (see the module docstring)."""
    from model.system import describe
    from properties.conformance import observe_for
    from properties.replayed import why_not_replayable

    lines = model_step_lines(config_name, lines)
    config, worlds, actions = load_model_steps(config_name, lines)
    reason = why_not_replayable(config, prop)
    if reason:
        raise NotMappable(f"{config_name} / {prop}: {reason}")
    if prop not in JUDGES:
        raise NotMappable(f"property {prop!r}: no judge reads it from a recording (judged: {', '.join(JUDGES)})")
    observe = observe_for(config)
    plan = Plan(config_name, prop, [], config.src.name, config.dst.name, shared_disk=config.shared_disk,
                model_steps=list(lines))
    described = [describe(w) for w in worlds]
    pong42: int | None = None
    for n in range(1, len(worlds)):
        before, after, action = worlds[n - 1], worlds[n], actions[n]
        text = lines[n - 1]
        name = action.name
        effects = tuple((s, o) for s, o in observe(before, action, after)
                        if o.startswith("MIGRATION") or o in ("STOP", "RESUME", "exited"))
        b_rp, a_rp = described[n - 1]["rp"], described[n]["rp"]
        k = _common_prefix_consumed(b_rp, a_rp)
        sent = tuple(_frames(a_rp[len(b_rp) - k:])) if a_rp else ()
        consumed = tuple(_frames(b_rp[:k])) if action.actor == "src/rp" else ()
        step = RStep(n, text, "internal", effects=effects, sent=sent, consumed=consumed)
        cmd = name.split(":", 1)[0].split()[0]
        if action.actor == "fault":
            if name.startswith("device-load-failure"):
                plan.devload, step.kind = True, "setup"
            elif name in ("reset", "link-cut"):  # link-cut: the fault's name before the fault table
                step.kind = "reset"
            elif name in ("dst-crash", "src-crash"):
                step.kind, step.side = "kill", name[:3]
            else:
                raise NotMappable(f"step {n} ({text}): fault {name!r} has no harness action")
        elif action.actor.endswith("/qmp"):
            step.side = action.actor.split("/", 1)[0]
            step.command = cmd
            if (step.side, cmd) in (("src", "migrate"), ("dst", "migrate-incoming")) and "resume" not in name:
                step.kind = "setup"
            elif cmd == "migrate-start-postcopy":
                plan.postcopy, step.kind = True, "start-postcopy"
            elif cmd in ("migrate_cancel", "migrate-pause", "cont", "quit"):
                step.kind = "qmp"
            else:
                raise NotMappable(f"step {n} ({text}): the replay does not send {cmd!r} yet")
        elif name == "ram_save_iterate: last pages":
            plan.guest = "idle"
        if (action.actor == "dst/main" and ("PONG", 0x42) in sent) and pong42 is None:
            pong42 = n
        if step.timed:
            d = described[n - 1]
            for side in ("src", "dst"):
                status = d[side]
                if status not in ("none", "(process gone)"):
                    step.pre[side] = status
            step.in_flight = tuple(_frames(d["rp"]))
            step.link_down = d["link"] == "down"
            if n > 1 and lines[n - 2] == POSTCOPY_START_END_72:
                # 7.2's postcopy_start releases the BQL, then sends PING 4 and checks the stream
                # (no event marks its end): a command sent at ``postcopy-active`` gets the BQL at
                # that unlock and races the check (postcopy-active -> failed). Wait it out.
                step.after_s = 0.1
            if d["dst"] in ("none", "setup") and d["main"]:
                plan.hold_main = True
        plan.steps.append(step)
    # Held frames are let go after the last timed step that needs them, if the source reads them later.
    for i, step in enumerate(plan.steps):
        for f in step.in_flight:
            later_reads = any(f in s.consumed for s in plan.steps[i + 1:])
            later_timed = any(f in s.in_flight for s in plan.steps[i + 1:])
            if later_reads and not later_timed:
                step.release += (f,)
    # The destination's main thread wrote PONG 0x42; a timed step comes before its next main step.
    if pong42 is not None:
        nxt = next((s.n for s in plan.steps if s.n > pong42 and actions[s.n].actor == "dst/main"), None)
        if any(s.timed and s.n > pong42 and (nxt is None or s.n < nxt) for s in plan.steps):
            plan.shim_after = ("PONG", 0x42)
            plan.shim_release_before = nxt
    if plan.devload and not plan.postcopy:
        plan.notes.append("device-load failure at precopy's end (no postcopy in the counterexample)")
    return plan


def _common_prefix_consumed(before: Sequence[str], after: Sequence[str]) -> int:
    """How many messages at the head of ``before`` were read: ``after`` is what is left of
    ``before`` (a suffix of it) followed by the newly sent ones."""
    for k in range(len(before) + 1):
        rest = list(before[k:])
        if list(after[: len(rest)]) == rest:
            return k
    return len(before)


# ---------------------------------------------------------------------------------------------
# Built-in windows that today's model cannot yet express (fault kinds being added to it)


def _window_partition(then: str, prop: str) -> Plan:
    """A silent partition that starts with PONG 0x42 (every later destination->source byte is
    dropped, nothing is closed), the destination guest runs, then ``then``."""
    steps = [
        RStep(1, "dst/qmp: migrate-incoming", "setup", side="dst", command="migrate-incoming"),
        RStep(2, "src/qmp: migrate", "setup", side="src", command="migrate"),
        RStep(3, "src/qmp: migrate-start-postcopy", "start-postcopy", side="src"),
        RStep(4, "src/mig: postcopy_start: postcopy-device", "internal",
              effects=(("src", "MIGRATION postcopy-device"),)),
        RStep(5, "fault: silent-partition (dst->src, from PONG 0x42 on)", "internal",
              sent=(("PONG", 0x42),)),
        RStep(6, "dst/main: loadvm_postcopy_handle_run_bh", "internal",
              effects=(("dst", "MIGRATION postcopy-active"), ("dst", "RESUME"))),
    ]
    # The partition stays silent for 2 s (the source waits in postcopy-device, the destination
    # guest runs), then it ends.
    if then == "reset":
        steps.append(RStep(7, "fault: link-cut (RST)", "reset",
                           pre={"src": "postcopy-device", "dst": "postcopy-active"}, after_s=2.0))
    else:
        steps.append(RStep(7, "fault: dst-crash", "kill", side="dst",
                           pre={"src": "postcopy-device", "dst": "postcopy-active"}, after_s=2.0))
    steps.append(RStep(8, "src/mig: migration_iteration_finish: restart guest", "internal",
                       effects=(("src", "RESUME"),)))
    plan = Plan("qemu-11.1", prop, steps, "11.1", "11.1", guest="idle", postcopy=True,
                model_steps=[s.text for s in steps], drop_from=("PONG", 0x42))
    plan.notes.append("silent partitions are not in today's model (fault kinds being added): the steps "
                      "are written by hand; re-check the configuration once the model has them")
    return plan


def _window_pong_wait(version: str, prop: str, config: str) -> Plan:
    """Nothing pending, PONG 0x42 dropped by a silent partition, then the connection resets: does
    the source leave ``postcopy-device``?"""
    steps = [
        RStep(1, "dst/qmp: migrate-incoming", "setup", side="dst", command="migrate-incoming"),
        RStep(2, "src/qmp: migrate", "setup", side="src", command="migrate"),
        RStep(3, "src/qmp: migrate-start-postcopy", "start-postcopy", side="src"),
        RStep(4, "src/mig: postcopy_start: postcopy-device", "internal",
              effects=(("src", "MIGRATION postcopy-device"),)),
        RStep(5, "dst/main: loadvm_process_command: PING (PONG 0x42 lost)", "internal",
              sent=(("PONG", 0x42),)),
        RStep(6, "fault: link-cut", "reset", pre={"src": "postcopy-device"}),
    ]
    plan = Plan(config, prop, steps, version, version, guest="idle", postcopy=True,
                model_steps=[s.text for s in steps], drop_from=("PONG", 0x42))
    return plan


WINDOWS: dict[str, Callable[[], Plan]] = {
    "partition-then-reset": lambda: _window_partition("reset", "no-split-brain"),
    "partition-then-dst-kill": lambda: _window_partition("kill", "no-rollback"),
    "pong-wait-10.2": lambda: _window_pong_wait("10.2", "rp-error-ends-postcopy-device", "qemu-10.2"),
}
"""Runs that the model cannot yet produce as a counterexample, written step by step."""



# ---------------------------------------------------------------------------------------------
# Judging a recording


@dataclass
class Outcome:
    """What a recording shows, for the judges."""

    lines: list[Line]
    hang_s: float
    proxy_log: list[dict[str, Any]]
    t_end: float

    def statuses(self, side: str) -> list[str]:
        return [str(ln["data"]["status"]) for ln in self._live() if ln.get("side") == side
                and ln.get("event") == "MIGRATION"]

    def _live(self) -> list[Line]:
        return [ln for ln in self.lines if not ln.get("teardown")]

    def exited(self, side: str) -> bool:
        return any(ln.get("side") == side and "exit" in ln for ln in self._live())

    def runstate(self, side: str) -> str | None:
        """The side's final ``query-status`` runstate; None if it exited."""
        if self.exited(side):
            return None
        ret = [ln["return"] for ln in self._live() if ln.get("side") == side
               and ln.get("command") == "query-status" and isinstance(ln.get("return"), dict)]
        return str(ret[-1].get("status")) if ret else None

    def running(self, side: str) -> bool:
        return self.runstate(side) == "running"

    def events(self, side: str, name: str) -> list[Line]:
        return [ln for ln in self._live() if ln.get("side") == side and ln.get("event") == name]

    def last_change(self) -> float:
        """When the last MIGRATION event or process exit arrived."""
        ts = [float(ln["t"]) for ln in self._live()
              if ln.get("event") in ("MIGRATION", "STOP", "RESUME") or "exit" in ln]
        return max(ts, default=0.0)

    def quiet_for(self) -> float:
        return self.t_end - self.last_change()

    def final(self) -> bool:
        """Both sides where a migration ends (the source done, the destination done or gone)."""
        src = self.statuses("src")
        dst = self.statuses("dst")
        src_done = self.exited("src") or (bool(src) and src[-1] in SRC_TERMINAL)
        dst_done = self.exited("dst") or (bool(dst) and dst[-1] in DST_TERMINAL) or not dst
        return src_done and dst_done


def _stuck(o: Outcome) -> tuple[bool, str]:
    st = f"src {o.statuses('src')[-1:] or ['-']}, dst {o.statuses('dst')[-1:] or ['-']}" \
         f"{' (exited)' if o.exited('dst') else ''}"
    if o.final():
        return False, f"both sides ended ({st})"
    if o.quiet_for() < o.hang_s * 0.9:
        return False, f"not at an end but still changing ({st})"
    return True, f"no end and no change for {o.quiet_for():.1f} s: {st}"


def _judge_split(o: Outcome) -> tuple[bool, str]:
    s, d = o.runstate("src"), o.runstate("dst")
    return (s == "running" and d == "running"), f"final runstates: src {s or 'exited'}, dst {d or 'exited'}"


def _judge_rollback(o: Outcome) -> tuple[bool, str]:
    dst_resume = o.events("dst", "RESUME")
    src_resume = [ln for ln in o.events("src", "RESUME") if dst_resume and ln["t"] > dst_resume[0]["t"]]
    ok = bool(dst_resume) and bool(src_resume) and o.running("src")
    return ok, (f"destination guest ran (RESUME at {dst_resume[0]['t']:.3f} s); " if dst_resume else
                "destination guest never ran; ") + (
        f"source guest restarted at {src_resume[0]['t']:.3f} s, final runstate {o.runstate('src')}"
        if src_resume else f"source did not restart after that (final runstate {o.runstate('src') or 'exited'})")


def _judge_vm_loss(o: Outcome) -> tuple[bool, str]:
    src_ok = o.running("src")
    dst_ok = o.running("dst") and o.statuses("dst")[-1:] == ["completed"]
    settled = o.final() or o.quiet_for() >= o.hang_s * 0.9
    lost = settled and not src_ok and not dst_ok
    return lost, (f"source runstate {o.runstate('src') or 'exited'} ({o.statuses('src')[-1:]}), destination "
                  f"{o.runstate('dst') or 'exited'} ({o.statuses('dst')[-1:]}); quiet for {o.quiet_for():.1f} s")


def _judge_resumable(o: Outcome) -> tuple[bool, str]:
    in_window = "postcopy-device" in o.statuses("src") or "postcopy-active" in o.statuses("src")
    dst_ran = bool(o.events("dst", "RESUME"))
    ok, why = _judge_vm_loss(o)
    return (in_window and not dst_ran and not o.running("src") and ok,
            f"destination guest {'ran' if dst_ran else 'never ran'}; {why}")


def _judge_rp_error(o: Outcome) -> tuple[bool, str]:
    st = o.statuses("src")
    stuck = bool(st) and st[-1] == "postcopy-device" and not o.exited("src")
    faults = [ln for ln in o.lines if ln.get("fault") in ("reset", "kill-dst") and not ln.get("teardown")]
    since = o.t_end - float(faults[0]["t"]) if faults else 0.0
    return (stuck and bool(faults) and since >= o.hang_s * 0.9,
            f"source status {st[-1:] or '-'} {since:.1f} s after the return path broke" if faults
            else "the return path never broke")


def _judge_device_not_run(o: Outcome) -> tuple[bool, str]:
    cur = ""
    for ln in sorted((x for x in o._live() if x.get("event") in ("MIGRATION", "RESUME")), key=lambda x: x["t"]):
        if ln["side"] == "src" and ln["event"] == "MIGRATION":
            cur = ln["data"]["status"]
        if ln["side"] == "dst" and ln["event"] == "RESUME" and cur == "postcopy-device":
            return True, f"destination RESUME at {ln['t']:.3f} s while the source was in postcopy-device"
    return False, "no destination RESUME while the source was in postcopy-device"


def _judge_resumes_devload(o: Outcome) -> tuple[bool, str]:
    ok, why = _judge_vm_loss(o)
    return ok and not o.running("src"), why


def _judge_cancelled(o: Outcome) -> tuple[bool, str]:
    st = o.statuses("src")
    post = [i for i, s in enumerate(st) if s.startswith("postcopy")]
    bad = bool(post) and any(s in ("cancelling", "cancelled") for s in st[post[0]:])
    return bad, f"source statuses {' -> '.join(st)}"


def _judge_shut(o: Outcome) -> tuple[bool, str]:
    done = o.statuses("src")[-1:] == ["completed"]
    shut0 = any(e["kind"] == "SHUT" and e["value"] == 0 and e["fate"] in ("forwarded", "released")
                for e in o.proxy_log)
    return done and not shut0, f"source {'completed' if done else 'did not complete'}; SHUT(0) " \
        f"{'reached' if shut0 else 'never reached'} it"


def _judge_via_active(o: Outcome) -> tuple[bool, str]:
    st = o.statuses("src")
    bad = st[-1:] == ["completed"] and "postcopy-device" in st and "postcopy-active" not in st
    return bad, f"source statuses {' -> '.join(st)}"


JUDGES: dict[str, Callable[[Outcome], tuple[bool, str]]] = {
    "no-split-brain": _judge_split,
    "no-rollback": _judge_rollback,
    "no-vm-loss": _judge_vm_loss,
    "source-resumable-before-pong": _judge_resumable,
    "no-stuck-state": _stuck,
    "migration-terminates": _stuck,
    "fault-free-runs-finish": _stuck,
    "rp-error-ends-postcopy-device": _judge_rp_error,
    "postcopy-device-means-dst-not-run": _judge_device_not_run,
    "resumes-after-device-load-failure": _judge_resumes_devload,
    "postcopy-never-cancelled": _judge_cancelled,
    "completed-after-clean-shut": _judge_shut,
    "completed-via-postcopy-active": _judge_via_active,
}
"""How each property's violation shows in a recording: (violated, why)."""


# ---------------------------------------------------------------------------------------------
# Running a plan


class ReplayVM(VM):
    """A QEMU process with extra environment variables (the shim)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.extra_env: dict[str, str] = {}

    async def start(self, timeout: float) -> None:
        old = {k: os.environ.get(k) for k in self.extra_env}
        os.environ.update(self.extra_env)
        try:
            await super().start(timeout)
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


@dataclass
class ReplaySession(Session):
    plan: Plan | None = None
    shim: Shim | None = None
    rom: Path | None = None
    hang_s: float = 8.0
    divergence: str | None = None
    t_end: float = 0.0
    done: set[int] = field(default_factory=set)  # timed steps already performed

    def _common_args(self, side: str, mem: int) -> list[str]:
        args = super()._common_args(side, mem)
        if self.plan is not None and self.plan.guest == "idle":
            i = args.index("-device")
            if args[i + 1].startswith("loader,"):
                del args[i:i + 2]
            args += ["-option-rom", str(self.rom)]
        return args

    async def setup(self) -> None:
        plan = self.plan
        assert plan is not None
        sc = self.scenario
        self.machine = machine_for(self.src_bin, self.dst_bin)
        if sc.shared_disk:
            with open(self.run_dir / "disk.raw", "wb") as disk:
                disk.truncate(16 * MiB)
        dst_args = [*self._common_args("dst", 128), "-incoming", "defer"]
        src_args = [*self._common_args("src", 128), "-S", *sc.src_args]
        self.dst = ReplayVM("dst", self.dst_bin, dst_args, self.run_dir, self.rec)
        if self.shim is not None:
            self.dst.extra_env = self.shim.env()
        self.src = ReplayVM("src", self.src_bin, src_args, self.run_dir, self.rec)
        self.rec.meta.update(machine=self.machine, src_args=src_args, dst_args=dst_args)
        await self.dst.start(self.step_timeout)
        await self.src.start(self.step_timeout)
        caps = [{"capability": c, "state": True} for c in ("events", "postcopy-ram", "return-path")]
        for vm in (self.src, self.dst):
            await self._must(vm, "migrate-set-capabilities", {"capabilities": caps})
        params: dict[str, Any] = {"max-bandwidth": sc.max_bandwidth,
                                  "max-postcopy-bandwidth": sc.max_postcopy_bandwidth}
        if plan.guest == "idle":
            params["downtime-limit"] = 1
            if self.src_bin.major_minor >= (8, 2):
                params["avail-switchover-bandwidth"] = 1000
        await self._must(self.src, "migrate-set-parameters", params)
        self.rec.meta["src_parameters"] = params
        await self._must(self.src, "cont")
        self.port = free_port()
        await self._must(self.dst, "migrate-incoming", {"uri": f"tcp:127.0.0.1:{self.port}"})
        self.proxy = FaultProxy(self.port, parse_rp=True)
        t0 = self.rec.t0

        def log_frame(kind: str) -> Callable[[dict[str, Any]], None]:
            def cb(entry: dict[str, Any]) -> None:
                self.fault(kind, frame=frame_label((entry["kind"], entry["value"])))
            return cb

        for step in plan.steps:
            for f in step.in_flight:
                if not any(r.kind == f[0] and r.value == f[1] for r in self.proxy.rules):
                    self.proxy.add_rule(FrameRule(f[0], "hold", f[1], callback=log_frame("hold-rp")))
        # A timed step right after the source read a frame is done the moment the proxy forwards
        # that frame (the source's migration thread acts on PONG 0x42 within a millisecond).
        for i, step in enumerate(plan.steps):
            if step.timed and i > 0 and plan.steps[i - 1].consumed:
                f = plan.steps[i - 1].consumed[-1]
                self.proxy.add_rule(FrameRule(f[0], "pass", f[1], callback=functools.partial(self._armed, step)))
        if plan.drop_from is not None:
            f = plan.drop_from
            self.proxy.add_rule(FrameRule(f[0], "drop-from", f[1], callback=log_frame("drop-dst-to-src")))
        self.proxy.hold_main = plan.hold_main
        await self.proxy.start()
        self.rec.meta["proxy"] = True
        self.rec.meta["proxy_t0"] = t0
        await self._must(self.src, "migrate", {"uri": f"tcp:127.0.0.1:{self.proxy.port}"})

    # ---- waits

    def _label(self, ln: Line) -> str | None:
        if ln.get("event") == "MIGRATION":
            return f"MIGRATION {ln.get('data', {}).get('status')}"
        if ln.get("event") in ("STOP", "RESUME"):
            return str(ln["event"])
        if "exit" in ln:
            return "exited"
        return None

    async def _until(self, cond: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.002)
        return True

    def _seen_frame(self, f: Frame, fates: tuple[str, ...] | None = None) -> bool:
        assert self.proxy is not None
        return any(e["kind"] == f[0] and (f[1] is None or e["value"] == f[1])
                   and (fates is None or e["fate"] in fates) for e in self.proxy.rp_log)

    def _status(self, side: str) -> str:
        st = self.rec.migration_statuses(side)
        return st[-1] if st else "none"

    async def start_postcopy(self) -> bool:
        assert self.plan is not None
        if await self.wait_mig("src", "active") is None:
            return False
        if self.plan.guest == "idle":
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                ok, info = await self.src.qmp.execute("query-migrate", record=False)
                if ok and isinstance(info, dict) and info.get("ram", {}).get("remaining", 1 << 40) <= MiB:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)
        else:
            await asyncio.sleep(1.0)
        ok, _ = await self.src.qmp.execute("migrate-start-postcopy")
        return ok

    async def run_plan(self) -> None:
        plan = self.plan
        assert plan is not None and self.proxy is not None
        cursor = {"src": 0, "dst": 0}
        timeout = 25.0
        for step in plan.steps:
            if self.shim is not None and plan.shim_release_before == step.n:
                self.shim.let_go()
            if step.kind == "setup":
                continue
            if step.kind == "start-postcopy":
                self.spawn(self.start_postcopy())
                continue
            if step.timed and step.n in self.done:
                pass  # done by a proxy callback (_armed)
            elif step.timed:
                if not await self._pre(step, timeout):
                    return
                await asyncio.sleep(step.after_s)
                self.done.add(step.n)
                self._act(step)
            if step.timed:
                for f in step.release:
                    self.fault("release-rp", frame=frame_label(f))
                    self.proxy.release()
            for f in step.sent:
                if not await self._until(functools.partial(self._seen_frame, f), timeout):
                    self.divergence = f"step {step.n} ({step.text}): the destination never sent {frame_label(f)}"
                    return
            for f in step.consumed:
                if not await self._until(functools.partial(self._seen_frame, f, ("forwarded", "released")),
                                         timeout):
                    self.divergence = f"step {step.n} ({step.text}): {frame_label(f)} never reached the source"
                    return
            # One step's observations may arrive in any order (QEMU emits STOP before ``device``).
            start = dict(cursor)
            for side, label in step.effects:
                if (side, label) == ("dst", "exited") and self.shim is not None:
                    self.shim.let_go()  # QEMU exits from its main loop: the blocked thread must go on
                def match(ln: Line, side: str = side, label: str = label) -> bool:
                    return ln.get("side") == side and self._label(ln) == label and not ln.get("teardown")
                try:
                    await self.rec.wait_line(match, timeout, since=start[side])
                except TimeoutError:
                    self.divergence = (f"step {step.n} ({step.text}): expected {side} {label}; {side} "
                                       f"showed {' -> '.join(self.rec.migration_statuses(side)) or 'nothing'}")
                    return
                idx = next(i for i in range(start[side], len(self.rec.lines)) if match(self.rec.lines[i]))
                cursor[side] = max(cursor[side], idx + 1)

    def _ready(self, step: RStep) -> bool:
        """The real QEMUs are where the model was before ``step``."""
        for side, status in step.pre.items():
            real = self._status(side)
            if real == status:
                continue
            # With the main stream held the destination has read nothing, but one that reports
            # ``active`` as soon as it accepts the connection (7.2) is past ``setup`` all the same.
            held = self.plan is not None and self.plan.hold_main and side == "dst"
            if held and status == "setup" and real == "active":
                continue
            # Once the model's connection is gone, a destination that has read nothing can only
            # fail on the close (``main_closed``), a step independent of the source's: the real
            # one may take it before this step; conform checks the order that happened.
            if held and step.link_down and status in ("setup", "active") and real == "failed":
                continue
            return False
        if any(not self._seen_frame(f) for f in step.in_flight):
            return False
        return self.shim is None or self.shim.fired or not self._shim_due(step)

    def _armed(self, step: RStep, _entry: dict[str, Any]) -> None:
        if step.n not in self.done and self._ready(step):
            self.done.add(step.n)
            self._act(step)

    async def _pre(self, step: RStep, timeout: float) -> bool:
        """Wait until the real QEMUs are where the model was before ``step``."""
        if await self._until(functools.partial(self._ready, step), timeout):
            return True
        want = ", ".join(f"{s} {st}" for s, st in step.pre.items())
        have = ", ".join(f"{s} {self._status(s)}" for s in step.pre)
        self.divergence = f"step {step.n} ({step.text}): never reached the model's state before it ({want}; " \
                          f"real: {have})"
        return False

    def _shim_due(self, step: RStep) -> bool:
        """The model's destination wrote the shim's frame before ``step``."""
        plan = self.plan
        return plan is not None and plan.shim_after is not None and any(
            s.n < step.n and plan.shim_after in s.sent for s in plan.steps)

    def _act(self, step: RStep) -> None:
        assert self.proxy is not None
        if step.kind == "kill":
            self.kill(step.side)
        elif step.kind == "reset":
            self.fault("reset", dropped_bytes=self.proxy.dropped_bytes)
            self.proxy.reset()
        elif step.kind == "qmp":
            vm = self.vm(step.side)
            if step.command == "migrate-pause" and step.side == "dst":
                self.fault("migrate-pause-dst")
            self.spawn(vm.qmp.execute(step.command))

    async def observe(self) -> None:
        """Let the run go on until both sides end, or nothing changed for ``hang_s`` seconds."""
        assert self.plan is not None
        if self.shim is not None and self.vm("dst").alive:
            # the model has nothing more for the blocked thread: let it go, so QEMU can carry on
            await asyncio.sleep(1.0)
            self.shim.let_go()
        deadline = time.monotonic() + max(60.0, 4 * self.hang_s)
        while time.monotonic() < deadline:
            lines = [ln for ln in self.rec.lines if ln.get("event") in ("MIGRATION", "STOP", "RESUME")
                     or "exit" in ln]
            last = float(lines[-1]["t"]) if lines else 0.0
            both_end = all(not self.vm(s).alive or self._status(s) in (SRC_TERMINAL if s == "src" else
                                                                         DST_TERMINAL) for s in ("src", "dst"))
            if both_end and self.rec.now() - last >= 1.0:
                break
            if self.rec.now() - last >= self.hang_s:
                break
            await asyncio.sleep(0.05)
        self.t_end = self.rec.now()

    async def teardown(self) -> None:
        if self.shim is not None:
            self.shim.let_go()
        if self.proxy is not None:
            self.proxy.release()
        await super().teardown()


def find_binary(version: str) -> QemuBinary:
    for path in BINARIES.get(version, ()):
        if not path:
            continue
        try:
            b = probe_binary(path)
        except BinaryError:
            continue
        if b.short == version:
            return b
    raise NotMappable(f"no QEMU {version} binary here (looked at: "
                      f"{', '.join(p for p in BINARIES.get(version, ()) if p) or 'nothing'})")


@dataclass
class ReplayResult:
    result: str  # reproduced | not reproduced
    observed: bool
    why: str
    divergence: str | None
    conform: str
    accepted: bool
    trace: Path
    wall_s: float


def run_plan(plan: Plan, out: Path, *, name: str = "replay", hang_s: float = 8.0,
             run_root: Path = DEFAULT_RUN_DIR, timeout: float = 120.0) -> ReplayResult:
    """Run ``plan`` on real QEMU, write the trace to ``out``, conform it and judge it."""
    src, dst = find_binary(plan.src_version), find_binary(plan.dst_version)
    run_root.mkdir(parents=True, exist_ok=True)
    shim: Shim | None = None
    tag = f"{os.getpid()}-{time.monotonic_ns() % 10**8}"
    if plan.shim_after is not None:
        try:
            lib = build(run_root)
        except ShimError as e:
            raise NotMappable(str(e)) from None
        shim = Shim(lib, rp_frame(*plan.shim_after), "block", run_root / f"shim-{tag}.fired",
                    run_root / f"shim-{tag}.release")
    rom = optionrom.write(run_root) if plan.guest == "idle" else None
    idle = plan.guest == "idle"
    scenario = Scenario(
        name, f"replay of {plan.config} / {plan.property}", _drive,
        src_args=("-chardev", "null,id=c0", "-device", "isa-serial,chardev=c0") if plan.devload else (),
        max_bandwidth=512 * 1024 if idle else (16 * MiB if plan.postcopy else 64 * MiB),
        max_postcopy_bandwidth=0 if idle else 8 * MiB, proxy=True, shared_disk=plan.shared_disk,
    )
    holder: dict[str, Any] = {}

    def make_session(scenario: Scenario, src: QemuBinary, dst: QemuBinary, run_dir: Path, blob: Path,
                     rec: Recorder) -> ReplaySession:
        s = ReplaySession(scenario, src, dst, run_dir, blob, rec, plan=plan, shim=shim, rom=rom, hang_s=hang_s)
        holder["s"] = s
        return s

    try:
        result = asyncio.run(run_scenario(scenario, src, dst, timeout=timeout, run_root=run_root,
                                          session_factory=make_session))
    finally:
        kill_leftovers()
        if shim is not None:
            for p in (shim.notify, shim.release):
                p.unlink(missing_ok=True)
    session: ReplaySession = holder["s"]
    rec = result.recorder
    proxy_log = session.proxy.rp_log if session.proxy is not None else []
    t0 = rec.t0
    frames = [{"t": round(e["t"] - t0, 6), "frame": frame_label((e["kind"], e["value"])), "fate": e["fate"]}
              for e in proxy_log]
    outcome = Outcome(rec.lines, hang_s, proxy_log, session.t_end or rec.now())
    observed, why = JUDGES[plan.property](outcome)
    if not result.ok:
        observed, why = False, f"the run failed: {result.message}"
    rec.meta["scenario"] = name
    rec.meta["replays"] = {"config": plan.config, "property": plan.property, "steps": plan.model_steps}
    rec.meta["observed_violation"] = observed
    rec.meta["judgement"] = why
    rec.meta["replay"] = {
        "guest": plan.guest, "device_load_failure": plan.devload,
        "held_frames": sorted({frame_label(f) for s in plan.steps for f in s.in_flight}),
        "shim_after": frame_label(plan.shim_after) if plan.shim_after else None,
        "hold_main_stream": plan.hold_main, "divergence": session.divergence,
        "drop_from": frame_label(plan.drop_from) if plan.drop_from else None,
        "observed_for_s": round(outcome.quiet_for(), 3), "notes": plan.notes,
        "rp_frames": frames,
    }
    if plan.hold_main and session.proxy is not None:
        rec.meta["replay"]["main_bytes_lost"] = session.proxy.dropped_main_bytes
    rec.write(out)
    accepted, conform_text = conform_trace(out, plan.config)
    reproduced = observed and accepted and session.divergence is None
    return ReplayResult("reproduced" if reproduced else "not reproduced", observed, why, session.divergence,
                        conform_text, accepted, out, result.wall_s)


async def _drive(s: Session) -> None:
    assert isinstance(s, ReplaySession)
    await s.run_plan()
    if s.divergence:
        s.rec.add({"side": "harness", "note": f"divergence: {s.divergence}"})
    await s.observe()


def conform_trace(path: Path, config: str) -> tuple[bool, str]:
    """``migmodel conform --config CONFIG PATH``: (accepted, its output line)."""
    from checker.cli import main as migmodel

    buf_out, buf_err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(buf_out), contextlib.redirect_stderr(buf_err):
        code = migmodel(["conform", "--config", config, str(path)])
    text = (buf_out.getvalue() + buf_err.getvalue()).strip()
    return code == 0, text


# ---------------------------------------------------------------------------------------------
# Finding the counterexample


def counterexample_lines(config: str, prop: str) -> list[str]:
    """The shortest counterexample of ``prop`` on ``config``, as script lines."""
    from checker.analysis import verdict_to_json
    from checker.cli import load_suite
    from checker.verify import UsageError, run_config, select

    suite = load_suite()
    try:
        configs, props = select(suite, [config], [prop])
    except UsageError as e:
        raise ReplayUsage(str(e)) from None
    r = run_config(suite, config, configs[config], props)
    for v in r.verdicts:
        if v.property.name == prop:
            d = verdict_to_json(r.model, v)
            steps = d.get("counterexample")
            if not steps:
                raise ReplayUsage(f"{prop} has no counterexample on {config} ({d['note']})")
            return [f"{s['actor']}: {s['action']}" for s in steps[1:]]
    raise ReplayUsage(f"{prop} was not judged on {config}")


def read_counterexample(path: str, config: str | None, prop: str | None) -> tuple[str, str, list[str]]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ReplayUsage(f"cannot read {path}: {e}") from None
    first = text.lstrip().split("\n", 1)[0]
    if first.startswith('{"meta"'):  # a replay trace: run its counterexample again
        try:
            rep = json.loads(first)["meta"]["replays"]
            return str(rep["config"]), str(rep["property"]), [str(x) for x in rep["steps"]]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ReplayUsage(f"{path}: a trace, but not a replay (no meta.replays)") from None
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ReplayUsage(f"{path}: invalid JSON: {e.msg} (line {e.lineno})") from None
        found = []
        for cname, c in (data.get("configs") or {}).items() if isinstance(data, dict) else []:
            for pname, p in (c.get("properties") or {}).items() if isinstance(c, dict) else []:
                if isinstance(p, dict) and p.get("counterexample") and (config in (None, cname)) \
                        and (prop in (None, pname)):
                    found.append((cname, pname, p["counterexample"]))
        if len(found) != 1:
            raise ReplayUsage(f"{path}: {len(found)} counterexamples match; pick one with --config and --property"
                              if found else f"{path}: no counterexample (of verify --json) matches")
        cname, pname, steps = found[0]
        try:
            return cname, pname, [f"{s['actor']}: {s['action']}" for s in steps[1:]]
        except (KeyError, TypeError):
            raise ReplayUsage(f"{path}: counterexample steps need 'actor' and 'action'") from None
    if config is None or prop is None:
        raise ReplayUsage("a script counterexample needs --config and --property")
    from checker.simulate import read_script
    from checker.verify import UsageError

    try:
        return config, prop, read_script(path)
    except UsageError as e:
        raise ReplayUsage(str(e)) from None


# ---------------------------------------------------------------------------------------------
# CLI


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ReplayUsage(message)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="NAME", help="configuration of the counterexample")
    p.add_argument("--property", metavar="NAME", help="the violated property")
    p.add_argument("--counterexample", metavar="FILE",
                   help="verify --json output, a simulate script, or a replay trace (run it again)")
    p.add_argument("--window", choices=sorted(WINDOWS), help="a built-in window the model cannot yet produce")
    p.add_argument("--out", type=Path, metavar="FILE",
                   help="trace to write (default: replay-<config>-<property>.jsonl)")
    p.add_argument("--hang-s", type=float, default=8.0, metavar="SECONDS",
                   help="seconds without change that count as stuck")
    p.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR, metavar="DIR",
                   help="where the QEMUs' sockets and files go (default: the harness's run directory)")
    p.add_argument("--plan", action="store_true", help="print the mapping and exit, without running QEMU")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")


def register(sub: Any, name: str) -> None:
    from checker.cli_base import add_command

    p = add_command(
        sub, name, help="replay a counterexample on real QEMU (reproduced / not / not mappable)",
        description="Turn a counterexample into a real run: each model step becomes a QMP command, a fault "
                    "(fault proxy, LD_PRELOAD shim, SIGKILL) or a wait for what the step shows; record the trace, "
                    "check it with conform and judge the property on the recorded outcome.",
        examples=["migmodel replay --config qemu-11.1 --property no-split-brain --out r.jsonl",
                  "migmodel replay --config qemu-11.1 --property no-stuck-state --plan",
                  "migmodel replay --counterexample tests/fixtures/traces/replayed/pause-before-run.qemu-11.1.jsonl"],
        exits={EXIT_REPRODUCED: "reproduced: the property was violated on real QEMU",
               EXIT_NOT_REPRODUCED: "not reproduced (the divergence is printed)",
               EXIT_NOT_MAPPABLE: "not mappable: a step has no harness action (the step and why)"})
    add_arguments(p)
    p.set_defaults(func=lambda args: _main(args))


def main(argv: list[str]) -> int:
    p = _Parser(prog="migmodel replay")
    add_arguments(p)
    try:
        args = p.parse_args(argv)
    except ReplayUsage as e:
        print(f"replay: {e}", file=sys.stderr)
        return EXIT_USAGE
    return _main(args)


def window_of_trace(path: str) -> str | None:
    """The built-in window a replay trace was recorded from, if it was one."""
    try:
        with open(path, encoding="utf-8") as f:
            first = f.readline()
        name = json.loads(first)["meta"]["scenario"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return None
    return name if isinstance(name, str) and name in WINDOWS else None


def plan_of_trace(path: str) -> Plan:
    """The plan that recorded a replay trace (``tests/fixtures/traces/replayed``), to run it again."""
    window = window_of_trace(path)
    if window is not None:
        return WINDOWS[window]()
    config, prop, lines = read_counterexample(path, None, None)
    return plan_from_steps(config, prop, lines)


def make_plan(args: argparse.Namespace) -> tuple[Plan, str]:
    if args.window:
        if args.counterexample or args.config or args.property:
            raise ReplayUsage("--window takes no --config, --property or --counterexample")
        return WINDOWS[args.window](), args.window
    if args.counterexample:
        window = window_of_trace(args.counterexample)
        if window is not None:
            return WINDOWS[window](), window
        config, prop, lines = read_counterexample(args.counterexample, args.config, args.property)
    elif args.config and args.property:
        config, prop, lines = args.config, args.property, counterexample_lines(args.config, args.property)
    else:
        raise ReplayUsage("give --config and --property, --counterexample FILE, or --window NAME")
    return plan_from_steps(config, prop, lines), f"replay-{prop}"


def describe_plan(plan: Plan) -> list[str]:
    out = [f"{plan.config} / {plan.property}: {plan.src_version} -> {plan.dst_version}, guest {plan.guest}"
           f"{', device-load failure' if plan.devload else ''}{', postcopy' if plan.postcopy else ', precopy'}"]
    if plan.shim_after:
        out.append(f"  shim: block the destination's writer after {frame_label(plan.shim_after)}")
    if plan.hold_main:
        out.append("  proxy: hold the main stream (the destination has read nothing)")
    if plan.drop_from:
        out.append(f"  proxy: drop every destination->source byte from {frame_label(plan.drop_from)} on")
    for s in plan.steps:
        extra = []
        if s.pre:
            extra.append("when " + ", ".join(f"{k} {v}" for k, v in s.pre.items()))
        if s.in_flight:
            extra.append("holding " + ", ".join(frame_label(f) for f in s.in_flight))
        if s.effects:
            extra.append("shows " + ", ".join(f"{k} {v}" for k, v in s.effects))
        if s.sent:
            extra.append("sends " + ", ".join(frame_label(f) for f in s.sent))
        out.append(f"  {s.n:2d} {s.kind:14s} {s.text}" + (f"  [{'; '.join(extra)}]" if extra else ""))
    return out


def _main(args: argparse.Namespace) -> int:
    try:
        plan, name = make_plan(args)
    except ReplayUsage as e:
        print(f"replay: {e}", file=sys.stderr)
        return EXIT_USAGE
    except NotMappable as e:
        print(f"not mappable: {e}")
        return EXIT_NOT_MAPPABLE
    if args.plan:
        print("\n".join(describe_plan(plan)))
        return EXIT_REPRODUCED
    out = args.out or Path(f"replay-{plan.config}-{plan.property}.jsonl")
    from harness.record import install_signal_handlers

    install_signal_handlers()  # SIGTERM / SIGHUP: both QEMUs are killed, exit 130
    try:
        res = run_plan(plan, out, name=name, hang_s=args.hang_s, run_root=args.run_dir)
    except NotMappable as e:
        print(f"not mappable: {e}")
        return EXIT_NOT_MAPPABLE
    except KeyboardInterrupt:
        print("replay: interrupted; QEMU processes killed", file=sys.stderr)
        return EXIT_INTERRUPTED
    except HarnessError as e:
        print(f"replay: {e}", file=sys.stderr)
        return EXIT_NOT_REPRODUCED
    if args.json:
        print(json.dumps({"result": res.result, "observed_violation": res.observed, "judgement": res.why,
                          "divergence": res.divergence, "conform": res.conform, "accepted": res.accepted,
                          "trace": str(res.trace), "wall_s": res.wall_s}))
    else:
        print(f"{res.result}: {plan.config} / {plan.property} ({res.wall_s:.1f} s) -> {res.trace}")
        print(f"  real QEMU: {'violated' if res.observed else 'not violated'}: {res.why}")
        if res.divergence:
            print(f"  divergence: {res.divergence}")
        print(f"  conform: {res.conform}")
    return EXIT_REPRODUCED if res.result == "reproduced" else EXIT_NOT_REPRODUCED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


__all__ = ["JUDGES", "WINDOWS", "Plan", "RStep", "main", "plan_from_steps", "register", "run_plan"]
