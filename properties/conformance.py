"""Conformance of recorded QEMU traces (``harness/TRACE_FORMAT.md``) to the model.

The QEMU half of ``migmodel conform`` (the generic search is ``checker/conform.py``):

* :func:`config_for` reads a trace's ``meta`` into a model :class:`~model.config.Config`: the two
  versions, the capabilities (neither postcopy-ram nor dirty-bitmaps: the precopy-only model),
  ``shared_disk``, ``exit_on_error``,
  ``autostart``, with a generous fault budget (:data:`FAULTS`: a reset, either kill, a device-load
  or storage failure, each once, two in all; the harness's partitions end in a reset or a kill)
  and ``ram_may_drain``, so that the
  model of the trace allows whatever the recording could have met.
* :func:`observe_for` is what a model step shows: the QMP events of ``model/events.py``
  (``MIGRATION <status>``, ``STOP``, ``RESUME``), the QMP command of an operator step
  (``model/management.py``): ``<command>`` if QEMU accepted it (``migrate resume=true`` for a
  resumed migration), ``refused:<command>`` if it answered with an error; ``exited`` when a
  process ends; and, when the recording logs its faults, ``fault <kind>`` on side ``harness``.
* :func:`read` turns a trace file into those labels, strictly: any malformed line is
  :class:`BadTrace` (exit 2, one line), never an exception from deeper down.

What "accepted" means (the README says it for users): one run of the model, from the initial
state, explains every observation of the recording up to its teardown marker, each side in file
order, the sides ordered by ``t`` where they differ by more than the tolerance; the run's hidden
steps are internal ones, the faults the recording does not log, and, for a recording that does not
log commands, the operator's commands. A recording with a teardown marker must end where the
model has settled (:func:`_settled`); one without (cut short) only claims its prefix is possible.

The observations, line by line (before the teardown marker; lines after it are caused by the
harness's ``quit`` and are not read):

* ``MIGRATION`` (``data.status``), ``STOP``, ``RESUME`` events: observed (``MIGRATION`` only when the
  ``events`` capability is on; a side whose ``migrate-set-capabilities`` turns it on after
  something already happened there, such as a ``-incoming`` on the command line, observes that
  command, and its MIGRATION events before it are not expected: :class:`EventsOff`). ``status``
  must be one of the side's QEMU version's ``MigrationStatus`` values, else the trace is rejected
  at that line. Other QEMU events (``properties/qapi_names.py``) are ignored and counted; a name no
  QEMU sends is a rejection.
* commands the model has (:data:`COMMANDS`, read from ``model/management.py``): observed, accepted
  or refused, when the recording logs commands (``meta.observed``, see :func:`observed_kinds`). A
  command's effect happened between sending it and its reply: its span is ``(t_sent, t)``, so the
  events that arrived meanwhile may be matched before or after it. One whose reply never came
  (``HarnessError``) may or may not have taken effect: optional.
* ``query-migrate`` / ``query-status`` returns: observations of the side's state (probes):
  ``status`` must be the model's migration status of that side (a ``query-migrate`` without
  ``status``, which QEMU answers while the status is ``none``, must find ``none``), ``status`` of
  ``query-status`` its run state (:data:`RUN_STATES`), at some moment between sending and reply.
* other commands (``migrate-set-*``, ``yank`` while the model has no row for it, ...): ignored and
  counted. If one changed the migration, the model must explain its effect by other steps
  (a fault the recording does not log, say), or the trace is rejected where the effect shows: the
  output lists the ignored commands so the reader can tell.
* a process ``exit``: observed (``exited``); events of that side after it are a rejection.
* fault lines (``kill-dst``, ``kill-src``, ``reset``): observed when the recording logs faults, as the
  model's ``dst-crash``, ``src-crash``, ``reset``; the others (``drop-dst-to-src``, which only
  starts a partition, ``migrate-pause-dst``, whose command line follows) are counted. The model's
  ``device-load-failure`` and ``disk-failure`` are set-up differences no line logs: always hidden.
* Before the migration, the harness starts the source guest (``cont``, ``RESUME``): the model of a
  recording may start from a source that waits for ``cont`` (``-S``, runstate ``prelaunch``).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from checker.conform import Case, Consistent, Observation, consistent_states
from model.config import Config, ConfigError, Faults, Version
from model.destination import ROWS as DESTINATION_ROWS
from model.events import events
from model.faults import SLOT
from model.management import ROWS as MANAGEMENT_ROWS
from model.status import RunState
from model.system import Action, MigrationModel
from model.world import World
from properties.qapi_names import EVENTS as QEMU_EVENTS
from properties.qapi_names import MIGRATION_STATUSES, RUN_STATES

SIDES = ("src", "dst", "harness")
QEMU_SIDES = ("src", "dst")
DEFAULT_TOLERANCE = 0.001
"""Seconds: two lines of different sides are ordered only when their ``t`` differ by more (the
harness stamps each line on arrival, to about 1 ms: harness/TRACE_FORMAT.md)."""

FAULTS = Faults.only(total=2, reset=1, dst_crash=1, src_crash=1, device_load_failure=1, disk_failure=1)
"""Conformance fault budget: a recording may have met any fault (a kill, a reset, a device its
destination lacks); two in one run covers every scenario of the harness (h: a lost PONG then a
reset is one ``reset``). ``disk-failure`` only with a shared disk: without one the harness's
QEMUs have no disk, and nothing can refuse to activate (the model's disk failure would let a
guest stay paused for no reason)."""

EXITED = "exited"
"""The process ended (killed, or QEMU exited): the harness sees it, whatever the exit code."""
RESUME_LABEL = "migrate resume=true"


def command_of(action_name: str) -> str:
    """The QMP command of a management row: ``"cont: refused (lock)"`` -> ``"cont"``."""
    return action_name.split(":", 1)[0].split()[0]


def _commands() -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {"src": set(), "dst": set()}
    for row in MANAGEMENT_ROWS:
        if row.side in out:
            out[row.side].add(command_of(row.name))
    return {s: frozenset(v) for s, v in out.items()}


COMMANDS = _commands()
"""The QMP commands of the model's operator, per side, read from ``model/management.py``: a
recorded one is an observation, accepted or refused. (``migrate`` with ``resume: true`` is
``migrate resume=true``.)"""

FAULT_LINES = {"kill-dst": "dst-crash", "kill-src": "src-crash", "reset": "reset"}
"""Harness fault lines that are one of the model's faults (``model/faults.py``)."""
LOGGED_FAULTS = frozenset(FAULT_LINES.values())
MODEL_EVENTS = frozenset({"MIGRATION", "STOP", "RESUME"})
CAPABILITIES = {"postcopy-ram": "postcopy_ram", "return-path": "return_path",
                "dirty-bitmaps": "dirty_bitmaps", "pause-before-switchover": "pause_before_switchover"}
RUNSTATE_OF = {RunState.RUNNING: "running", RunState.FINISH_MIGRATE: "finish-migrate",
               RunState.POSTMIGRATE: "postmigrate", RunState.INMIGRATE: "inmigrate", RunState.PAUSED: "paused"}
"""``query-status`` ``status`` of each model run state."""
KINDS = ("events", "commands", "faults", "exits")
MAX_BYTES = 512 * 1024 * 1024


_DECODER = json.JSONDecoder()


class BadTrace(ValueError):
    """A trace that cannot be checked: unreadable, not the trace format, or an unknown setup."""


class NothingToCheck(BadTrace):
    """A well-formed trace without a single observation: accepting it would mean nothing."""


# ---------------------------------------------------------------------------------------------
# meta -> Config

_VERSION = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?")


def model_version(text: object) -> str:
    """The model version standing for a real QEMU version string such as ``"11.1.3"``.

    ``10.0.x`` is the model's ``10.0`` only before the stable fix 725a9e5f78 (10.0.5, 10.1.1): the
    model's 10.0 has the ``postcopy_start`` error-path bug; 10.0.5 and later 10.0.x, and 10.1.1 and
    later 10.1.x, are the model's ``10.0.5``, which has the fix (``model/config.py``).
    """
    m = _VERSION.match(text) if isinstance(text, str) else None
    if m is None:
        raise BadTrace(f"unreadable QEMU version {text!r} in meta")
    major, minor, micro = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if ((major, minor) == (10, 0) and micro < 5) or (major, minor, micro) == (10, 1, 0):
        return "10.0"
    if (major, minor) in ((10, 0), (10, 1)):
        return "10.0.5"
    if (major, minor) in ((7, 2), (10, 2), (11, 1)):
        return f"{major}.{minor}"
    raise BadTrace(f"QEMU version {text!r} has no model (modelled: 7.2.x, 10.0.x, 10.1.x, 10.2.x, 11.1.x)")


def config_for(meta: dict[str, Any], name: str = "trace") -> Config:
    """The model configuration of a recording, from its ``meta``."""
    for key in ("src_version", "dst_version"):
        if key not in meta:
            raise BadTrace(f"meta has no {key!r}")
    caps = meta.get("capabilities", [])
    if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
        raise BadTrace(f"meta capabilities must be a list of names, not {caps!r:.80}")
    flags: dict[str, bool] = {v: (k in caps) for k, v in CAPABILITIES.items()}
    for key, default in (("shared_disk", False), ("exit_on_error", True), ("autostart", True)):
        value = meta.get(key, default)
        if not isinstance(value, bool):
            raise BadTrace(f"meta {key} must be true or false, not {value!r:.80}")
        flags[key] = value
    src, dst = model_version(meta["src_version"]), model_version(meta["dst_version"])
    try:
        faults = FAULTS if flags["shared_disk"] else FAULTS.with_limit("disk-failure", 0)
        return Config(name=name, src=Version(src), dst=Version(dst), faults=faults, ram_may_drain=True,
                      description=f"recorded {meta['src_version']} -> {meta['dst_version']}",
                      **flags)
    except ConfigError as e:
        raise BadTrace(f"no model for this recording: {e}") from None


# ---------------------------------------------------------------------------------------------
# the model of a recording: the QEMU model, plus a source that may wait for `cont`


class Prelaunch(NamedTuple):
    """Before the source guest starts (``-S``, runstate ``prelaunch``): only ``cont`` on the
    source leads on, to the model's initial state (``system/cpus.c:qmp_cont``)."""

    world: World


CONT = Action("src/qmp", "cont: start the guest")
PEEK_FAILS = next(r.name for r in DESTINATION_ROWS if r.qemu.endswith(":migration_channel_process_incoming"))
"""The destination row that sees a connection close before its first bytes (model/destination.py)."""
EVENTS_ON = "migrate-set-capabilities events"
"""The observation of a ``migrate-set-capabilities`` that turns the ``events`` capability on late
(after something already happened on that side, see :class:`EventsOff`)."""


class EventsOff(NamedTuple):
    """A model state while the ``events`` capability is still off on the sides in ``off``: QEMU's
    ``migrate_set_state`` emits no MIGRATION event there (``migrate_events()`` is false), so the
    status changes of those sides are hidden until the recorded ``migrate-set-capabilities``
    turns it on. QEMU's migration-test starts its destinations with ``-incoming URI`` on the
    command line (``setup`` at once) and sets ``events`` only afterwards. Once every side has it
    on, the state is the plain model state again."""

    inner: Any
    off: frozenset[str]


def _events_on(side: str) -> Action:
    return Action(f"{side}/qmp", EVENTS_ON)


class RecordingModel:
    """``MigrationModel`` of the recording's configuration, starting either from its initial
    state or from :class:`Prelaunch` (a harness recording starts its source with ``-S``).

    With ``logged_faults``, each fault a recording logs (:data:`LOGGED_FAULTS`) also has an
    unlogged twin, ``<fault> (not logged)``: a logged fault line must be matched by that fault at
    its time, but the model may still take the fault without a line (a process that crashes by
    itself, a connection the destination closes because it cannot load what it reads: the RAM
    size mismatch of scenario d4 is such a case for the model).

    With ``held_main`` (a replay whose proxy holds the whole main stream, ``meta.replay.
    hold_main_stream``), a destination that has read nothing does not see the source's close
    until the proxy resets the connections: the proxy holds the close with the bytes."""

    def __init__(self, config: Config, logged_faults: bool = False, events_late: frozenset[str] = frozenset(),
                 held_main: bool = False) -> None:
        self.inner = MigrationModel(config)
        self.config = config
        self.logged_faults = logged_faults
        self.events_late = events_late
        self.held_main = held_main
        self._reset_slot = SLOT["reset"]
        self._resets = self.inner.init_states()[0].budget[self._reset_slot]

    def init_states(self) -> list[Any]:
        w0 = self.inner.init_states()[0]
        if self.events_late:
            return [EventsOff(Prelaunch(w0), self.events_late), EventsOff(w0, self.events_late)]
        return [Prelaunch(w0), w0]

    def successors(self, state: Any) -> list[tuple[Any, Any]]:
        if isinstance(state, EventsOff):
            out = [(a, EventsOff(t, state.off)) for a, t in self._successors(state.inner)]
            for side in sorted(state.off):
                rest = state.off - {side}
                out.append((_events_on(side), EventsOff(state.inner, rest) if rest else state.inner))
            return out
        return self._successors(state)

    def _successors(self, state: Any) -> list[tuple[Any, Any]]:
        if isinstance(state, Prelaunch):
            return [(CONT, state.world)]
        out = self.inner.successors(state)
        if self.held_main and state.budget[self._reset_slot] >= self._resets:
            # The replay's proxy holds the whole main stream, the source's orderly close included
            # (harness/proxy.py: "the EOF waits behind the held bytes"): a destination that read
            # nothing sees the close only when the proxy resets both connections (a `reset`).
            out = [(a, t) for a, t in out if a.name != PEEK_FAILS]
        if self.logged_faults:
            out = out + [(a._replace(name=f"{a.name} (not logged)"), t) for a, t in out
                         if a.actor == "fault" and a.name in LOGGED_FAULTS]
        return out

    def is_final(self, state: Any) -> bool:
        state = unwrap(state)
        return not isinstance(state, Prelaunch) and self.inner.is_final(state)

    def describe_action(self, action: Any) -> dict[str, Any]:
        return self.inner.describe_action(action)

    def describe_state(self, state: Any) -> dict[str, Any]:
        if isinstance(state, EventsOff):
            return {**self.describe_state(state.inner), "events_off": sorted(state.off)}
        if isinstance(state, Prelaunch):
            return {**self.inner.describe_state(state.world), "src_runstate": "prelaunch"}
        return self.inner.describe_state(state)


# ---------------------------------------------------------------------------------------------
# what a model step shows


def command_label(action_name: str) -> str:
    """The observation of an accepted management row: its command, ``migrate resume=true`` for
    the resuming ``migrate`` rows (``"migrate resume=true (7.2): connect failed"``: QEMU 7.2
    accepts the command, the connection fails later)."""
    cmd = command_of(action_name)
    return RESUME_LABEL if cmd == "migrate" and "resume=true" in action_name else cmd


@dataclass(frozen=True)
class Observed:
    """What a recording logs: MIGRATION events (the ``events`` capability), the operator's
    commands, the faults it injected."""

    migration_events: bool = True
    commands: bool = True
    faults: bool = True
    exits: bool = True


def observe_for(config: Config, what: Observed = Observed()) -> Any:
    """``observe(before, action, after)`` for ``config``'s recording model."""

    def observe(before: Any, action: Action, after: Any) -> list[Observation]:
        if isinstance(before, EventsOff):
            if action.name == EVENTS_ON and action.actor.endswith("/qmp"):
                return [(action.actor.split("/", 1)[0], EVENTS_ON)] if what.commands else []
            off = before.off
            return [(side, label) for side, label in observe(before.inner, action, unwrap(after))
                    if not (side in off and str(label).startswith("MIGRATION "))]
        out: list[Observation] = []
        if isinstance(before, Prelaunch):
            out.append(("src", "RESUME"))
            if what.commands:
                out.append(("src", "cont"))
            return out
        for e in events(config, before, action, after):
            if e.event == "MIGRATION":
                if what.migration_events:
                    out.append((e.side, f"MIGRATION {e.status}"))
            else:
                out.append((e.side, e.event))
        side = action.actor.split("/", 1)[0]
        if what.commands and action.actor.endswith("/qmp"):
            out.append((side, f"refused:{command_of(action.name)}" if action.refused else command_label(action.name)))
        if what.faults and action.actor == "fault" and action.name in LOGGED_FAULTS:
            out.append(("harness", f"fault {action.name}"))
        if what.exits and before.s_alive and not after.s_alive:
            out.append(("src", EXITED))
        if what.exits and before.d_alive and not after.d_alive:
            out.append(("dst", EXITED))
        return out

    return observe


def unwrap(state: Any) -> Any:
    """The model state (or :class:`Prelaunch`) inside an :class:`EventsOff`."""
    return state.inner if isinstance(state, EventsOff) else state


def holds(state: Any, side: str, label: Hashable) -> bool:
    """Does ``state`` show what a ``query-*`` return says (``Case.holds``)?"""
    state = unwrap(state)
    kind, _, value = str(label).partition(" ")
    if isinstance(state, Prelaunch):
        return (side == "src" and kind == "query-status" and value == "prelaunch") or (
            kind == "query-status" and side == "dst" and value == "inmigrate")
    w: World = state
    if not (w.s_alive if side == "src" else w.d_alive):
        return False
    if kind == "query-migrate":
        status = w.s_status if side == "src" else w.d_status
        return bool(status.value == value)
    run = w.s_run if side == "src" else w.d_run
    return RUNSTATE_OF.get(run) == value


def probe_key(state: Any) -> Hashable:
    """What :func:`holds` reads of a state (``Case.probe_key``): states with equal keys answer
    every ``query-migrate`` / ``query-status`` alike."""
    state = unwrap(state)
    if isinstance(state, Prelaunch):
        return "prelaunch"
    w: World = state
    return (w.s_alive, w.s_status, w.s_run, w.d_alive, w.d_status, w.d_run)


# ---------------------------------------------------------------------------------------------
# reading a recording


@dataclass
class Recording:
    """A trace file read for conformance."""

    path: str
    meta: dict[str, Any]
    observations: list[Observation] = field(default_factory=list)
    spans: list[tuple[float, float]] = field(default_factory=list)
    optional: set[int] = field(default_factory=set)
    leading: set[int] = field(default_factory=set)
    probes: set[int] = field(default_factory=set)
    where: list[str] = field(default_factory=list)
    ignored_events: Counter[str] = field(default_factory=Counter)
    ignored_commands: Counter[str] = field(default_factory=Counter)
    ignored_faults: Counter[str] = field(default_factory=Counter)
    impossible: tuple[int, str] | None = None
    """(observation index, why): a line no QEMU can send; the trace is rejected there."""
    teardown: bool = False
    observed: Observed = Observed()
    events_late: set[str] = field(default_factory=set)
    """Sides whose ``events`` capability was turned on after something happened there (from the
    command line that turned it on, or ``meta.events_late`` for a recording without commands)."""
    events_on_seen: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


def _parse_lines(path: str) -> tuple[list[tuple[int, Any]], str]:
    """(line number, JSON value) of every non-blank line; ``BadTrace`` for anything unreadable."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except IsADirectoryError:
        raise BadTrace(f"cannot read {path}: it is a directory") from None
    except OSError as e:
        raise BadTrace(f"cannot read {path}: {e.strerror or e}") from None
    if len(data) > MAX_BYTES:
        raise BadTrace(f"{path}: larger than {MAX_BYTES // 2**20} MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadTrace(f"{path}: not UTF-8 text (byte {e.start})") from None
    out: list[tuple[int, Any]] = []
    decode = _DECODER.raw_decode
    for n, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            value, end = decode(line)
        except RecursionError:
            raise BadTrace(f"{path}:{n}: JSON nested too deeply") from None
        except ValueError as e:
            raise BadTrace(f"{path}:{n}: not JSON ({str(e)[:80]})") from None
        if end != len(line):
            raise BadTrace(f"{path}:{n}: not JSON (extra data after the value)")
        out.append((n, value))
    if not out:
        raise BadTrace(f"{path}: empty trace")
    return out, text


def _num(value: object) -> float | None:
    """A finite JSON number, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        x = float(value)
    except OverflowError:
        return None
    return x if math.isfinite(x) else None


def observed_kinds(meta: dict[str, Any], lines: Sequence[tuple[int, Any]], where: str) -> Observed:
    """What the recording logs. ``meta.observed`` (a list of ``events``, ``commands``, ``faults``,
    ``exits``) says it; without it, a harness recording (``meta.scenario``) logs everything,
    another trace its commands if it has a command line, process exits if it has an exit line,
    and never its faults."""
    caps = meta.get("capabilities", ["events"])
    migration_events = "events" in caps if isinstance(caps, list) else True
    kinds = meta.get("observed")
    if kinds is not None:
        if not isinstance(kinds, list) or not all(isinstance(k, str) and k in KINDS for k in kinds):
            raise BadTrace(f"{where}: meta observed must be a list of {', '.join(KINDS)}")
        return Observed(migration_events and "events" in kinds, "commands" in kinds, "faults" in kinds,
                        "exits" in kinds)
    if "scenario" in meta:
        return Observed(migration_events, True, True, True)
    has_commands = any(isinstance(obj, dict) and "command" in obj for _, obj in lines)
    has_exits = any(isinstance(obj, dict) and "exit" in obj for _, obj in lines)
    return Observed(migration_events, has_commands, False, has_exits)


def read(path: str) -> Recording:
    """Read a trace for conformance. Raises :class:`BadTrace` (one line) for anything malformed."""
    lines, _ = _parse_lines(path)
    n0, first = lines[0]
    if not isinstance(first, dict) or set(first) != {"meta"} or not isinstance(first["meta"], dict):
        raise BadTrace(f"{path}:{n0}: first line must be {{\"meta\": {{...}}}}")
    meta: dict[str, Any] = first["meta"]
    rec = Recording(path, meta)
    versions = {s: model_version(meta.get(f"{s}_version")) for s in QEMU_SIDES}
    body: list[tuple[int, dict[str, Any]]] = []
    for n, obj in lines[1:]:
        if not isinstance(obj, dict) or obj.get("side") not in SIDES:
            raise BadTrace(f"{path}:{n}: every line must be a JSON object with side src, dst or harness")
        if obj.get("side") == "harness" and obj.get("teardown") is True:
            rec.teardown = True
            break
        body.append((n, obj))
    rec.observed = what = observed_kinds(meta, lines[1:], path)
    late = meta.get("events_late", [])
    if not isinstance(late, list) or not all(s in QEMU_SIDES for s in late):
        raise BadTrace(f"{path}: meta events_late must be a list of src, dst")
    if what.migration_events:
        rec.events_late.update(late)

    def add(n: int, side: str, label: str, span: tuple[float, float], *, optional: bool = False,
            leading: bool = False, probe: bool = False) -> int:
        g = len(rec.observations)
        rec.observations.append((side, label))
        rec.spans.append(span)
        rec.where.append(f"line {n}")
        if optional:
            rec.optional.add(g)
        if leading:
            rec.leading.add(g)
        if probe:
            rec.probes.add(g)
        return g

    def when(n: int, obj: dict[str, Any]) -> float:
        t = _num(obj.get("t"))
        if t is None:
            raise BadTrace(f"{path}:{n}: `t` must be a finite number, not {obj.get('t')!r:.40}")
        return t

    for n, obj in body:
        side = obj["side"]
        if side == "harness":
            fault = obj.get("fault")
            if fault is None:
                continue
            if not isinstance(fault, str):
                raise BadTrace(f"{path}:{n}: `fault` must be a string")
            kind = FAULT_LINES.get(fault)
            if kind is None or not what.faults:
                rec.ignored_faults[fault] += 1
                continue
            t = when(n, obj)
            # A kill takes effect between the SIGKILL (this line) and the killed side's exit line:
            # events it sent just before dying may still arrive after this line.
            victim = {"dst-crash": "dst", "src-crash": "src"}.get(kind)
            end = next((_num(o.get("t")) for m, o in body if m > n and victim is not None
                        and o.get("side") == victim and "exit" in o), None)
            add(n, "harness", f"fault {kind}", (t, end if end is not None and end >= t else t))
            continue
        keys = [k for k in ("event", "command", "exit") if k in obj]
        if len(keys) > 1:
            raise BadTrace(f"{path}:{n}: a line is one event, command or exit, not {' and '.join(keys)}")
        if not keys:
            continue
        key = keys[0]
        if key == "exit":
            code = obj["exit"]
            if isinstance(code, bool) or not isinstance(code, int):
                raise BadTrace(f"{path}:{n}: `exit` must be an integer")
            t = when(n, obj)
            if not what.exits:
                raise BadTrace(f"{path}:{n}: an exit line, but meta observed leaves exits out")
            add(n, side, EXITED, (-math.inf, t))  # it exited some time before the harness saw it
        elif key == "event":
            _event(rec, n, side, obj, versions[side], add, when)
        else:
            _command(rec, n, side, obj, add, when)
    if not rec.observations:
        raise NothingToCheck(
            f"nothing to check: {path} has no MIGRATION, STOP or RESUME event, no modelled command or "
            "query, fault or process exit before its teardown marker")
    if not what.commands:
        rec.notes.append("the recording logs no commands: the operator's commands are hidden steps")
    if not what.faults:
        rec.notes.append("the recording logs no faults: the model's faults are hidden steps")
    if not what.exits:
        rec.notes.append("the recording logs no process exits: a process may have ended unseen")
    if not what.migration_events:
        rec.notes.append("no `events` capability: no MIGRATION events; checked from the other lines and queries")
    if not rec.teardown:
        rec.notes.append("no teardown marker: only the recorded prefix is checked (the model need not have settled)")
    for g in sorted(rec.optional):
        rec.notes.append(f"{rec.where[g]}: {rec.observations[g][0]} {rec.observations[g][1]} got no reply: "
                         "the model may or may not execute it")
    return rec


def _event(rec: Recording, n: int, side: str, obj: dict[str, Any], version: str, add: Any, when: Any) -> None:
    name = obj["event"]
    if not isinstance(name, str):
        raise BadTrace(f"{rec.path}:{n}: `event` must be a string")
    if name not in MODEL_EVENTS:
        if name in QEMU_EVENTS:
            rec.ignored_events[name] += 1
            return
        g = add(n, side, f"event {name[:60]}", (when(n, obj),) * 2)
        rec.impossible = rec.impossible or (g, f"{name[:60]!r} is no QEMU event")
        return
    t = when(n, obj)
    if name != "MIGRATION":
        add(n, side, name, (t, t))
        return
    data = obj.get("data")
    status = data.get("status") if isinstance(data, dict) else None
    if not isinstance(status, str):
        raise BadTrace(f"{rec.path}:{n}: MIGRATION event without a string data.status")
    if not rec.observed.migration_events:
        raise BadTrace(f"{rec.path}:{n}: a MIGRATION event, but the `events` capability is off in meta")
    g = add(n, side, f"MIGRATION {status[:60]}", (t, t))
    if status not in MIGRATION_STATUSES[version]:
        rec.impossible = rec.impossible or (g, f"QEMU {version} has no migration status {status[:60]!r}")


def _command(rec: Recording, n: int, side: str, obj: dict[str, Any], add: Any, when: Any) -> None:
    cmd = obj["command"]
    if not isinstance(cmd, str):
        raise BadTrace(f"{rec.path}:{n}: `command` must be a string")
    args = obj.get("arguments", {})
    if not isinstance(args, dict):
        raise BadTrace(f"{rec.path}:{n}: `arguments` must be an object")
    err = obj.get("error")
    if err is not None and (not isinstance(err, dict) or not isinstance(err.get("class"), str)):
        raise BadTrace(f"{rec.path}:{n}: `error` must be an object with a string `class`")
    no_reply = err is not None and err["class"] == "HarnessError"
    if err is None and "return" not in obj:
        raise BadTrace(f"{rec.path}:{n}: a command line needs `return` or `error`")
    modelled = cmd in COMMANDS[side]
    query = cmd in ("query-migrate", "query-status") and err is None
    if (cmd == "migrate-set-capabilities" and err is None and rec.observed.commands
            and rec.observed.migration_events and side not in rec.events_on_seen
            and (side in rec.events_late or any(s == side for s, _ in rec.observations))
            and _turns_events_on(args)):
        # `events` turned on late: an observation, and the side's MIGRATION events before it are
        # not expected (EventsOff)
        t = when(n, obj)
        sent = _num(obj.get("t_sent"))
        rec.events_late.add(side)
        rec.events_on_seen.add(side)
        add(n, side, EVENTS_ON, (sent if sent is not None and sent <= t else t, t), leading=True)
        return
    if not (modelled and rec.observed.commands) and not query:
        rec.ignored_commands[cmd[:60] + (" (refused)" if err is not None and not no_reply else "")] += 1
        return
    t = when(n, obj)
    sent = t
    if "t_sent" in obj:
        ts = _num(obj["t_sent"])
        if ts is None or ts > t:
            raise BadTrace(f"{rec.path}:{n}: `t_sent` must be a finite number not after `t`")
        sent = ts
    if query:
        ret = obj["return"]
        if not isinstance(ret, dict):
            raise BadTrace(f"{rec.path}:{n}: the return of {cmd} must be an object")
        value = ret.get("status")
        if value is None and cmd == "query-migrate":
            # fill_source_migration_info / fill_destination_migration_info leave `status` out
            # while the status is none (a 7.2 destination that listens: Version.incoming_setup)
            value = "none"
        if not isinstance(value, str):
            raise BadTrace(f"{rec.path}:{n}: the return of {cmd} has no string `status`")
        g = add(n, side, f"{cmd} {value[:60]}", (sent, t), leading=True, probe=True)
        if cmd == "query-status" and value not in RUN_STATES:
            rec.impossible = rec.impossible or (g, f"{value[:60]!r} is no QEMU run state")
        return
    resume = cmd == "migrate" and args.get("resume") is True
    label = RESUME_LABEL if resume else cmd
    if err is not None and not no_reply:
        label = f"refused:{cmd}"
    add(n, side, label, (sent, t), optional=no_reply, leading=True)


def _turns_events_on(args: dict[str, Any]) -> bool:
    caps = args.get("capabilities")
    return isinstance(caps, list) and any(isinstance(c, dict) and c.get("capability") == "events"
                                          and c.get("state") is True for c in caps)


# ---------------------------------------------------------------------------------------------
# the suite hook


def load_case(path: str, config: Config | None = None, tolerance: float = DEFAULT_TOLERANCE) -> Case:
    """``Suite.conformance``: the trace at ``path`` as a conformance case.

    ``config``: check against this configuration instead of the one ``meta`` describes (its own
    fault budget applies). Raises :class:`BadTrace` for anything that is not a checkable trace
    (:class:`NothingToCheck` for one without observations).
    """
    rec = read(path)
    meta = rec.meta
    if config is None:
        config = config_for(meta, name=f"recorded-{meta.get('src_version')}-to-{meta.get('dst_version')}")
    else:
        config_for(meta)  # the trace's own versions must still be readable
    replay = meta.get("replay")
    held = isinstance(replay, dict) and replay.get("hold_main_stream") is True
    model, observe, cache = _model(config, rec.observed, frozenset(rec.events_late), held)
    return Case(
        title=_title(path, meta),
        model=model,
        observe=observe,
        observations=rec.observations,
        sides=SIDES,
        config=config.summary(),
        notes=tuple(rec.notes),
        cache=cache,
        can_stop=_settled(model) if rec.teardown else None,
        spans=rec.spans,
        optional=frozenset(rec.optional),
        leading=frozenset(rec.leading),
        tolerance=tolerance,
        probes=frozenset(rec.probes),
        holds=holds,
        probe_key=probe_key,
        where=rec.where,
        impossible=rec.impossible,
        info={"ignored_events": dict(sorted(rec.ignored_events.items())),
              "ignored_commands": dict(sorted(rec.ignored_commands.items())),
              "ignored_faults": dict(sorted(rec.ignored_faults.items())),
              "observed": [k for k, on in zip(KINDS, (True, rec.observed.commands, rec.observed.faults,
                                                      rec.observed.exits), strict=True) if on]
              + ([] if rec.observed.migration_events else ["no-migration-events"])},
    )


def consistent(path: str, config: Config | None = None, tolerance: float = DEFAULT_TOLERANCE,
               max_states: int = 2_000_000) -> Consistent:
    """The model states consistent with the trace (prefix) at ``path``, each with one witness run
    (:func:`checker.conform.consistent_states`): what a live advisor (``migmodel advise``) needs
    to know where the migration may be now.

    What the trace does not log is hidden (``meta.observed``): for a libvirt event log, the
    operator's commands and every fault may have happened unseen. A prefix is read as it is: no
    teardown marker, so the model need not have settled. A command still in flight has no line
    yet (the harness writes it at the reply): its effects may already show, so give the caller's
    pending commands a line with an ``error`` of class ``HarnessError`` (it may or may not have
    taken effect) rather than leaving them out. States are ``model.world.World`` values, or a
    :class:`Prelaunch` before the source guest was started.
    """
    return consistent_states(load_case(path, config, tolerance), max_states)


def _settled(model: RecordingModel) -> Any:
    """Where a recording with a teardown marker may end: the model has settled, no QEMU thread
    has a step left to take (only QMP commands and faults are enabled). The harness sends its
    final queries at least a second after the scenario's last action, so a bottom half or thread
    that still had work (a destination ``RESUME`` after ``completed``, say) has done it by then."""

    def can_stop(w: Any) -> bool:
        return all(a.actor.endswith("/qmp") or a.actor == "fault" or nxt == w for a, nxt in model.successors(w))

    return can_stop


_MODELS: dict[tuple[Config, Observed, frozenset[str], bool], tuple[RecordingModel, Any, dict[Any, Any]]] = {}
_MAX_MODELS = 16


def _model(config: Config, what: Observed, events_late: frozenset[str] = frozenset(),
           held_main: bool = False) -> tuple[RecordingModel, Any, dict[Any, Any]]:
    """One model, observation function and successor memo per configuration: traces of one
    pairing share the states they explore."""
    key = (config, what, events_late, held_main)
    got = _MODELS.get(key)
    if got is None:
        if len(_MODELS) >= _MAX_MODELS:
            _MODELS.clear()
        got = (RecordingModel(config, what.faults, events_late, held_main), observe_for(config, what), {})
        _MODELS[key] = got
    return got


def _title(path: str, meta: dict[str, Any]) -> str:
    p = Path(path)
    return f"{p.parent.name}/{p.name}" if p.parent.name else str(meta.get("scenario", p.stem))


def describe(obs: Sequence[Observation]) -> str:
    return ", ".join(f"{s} {label}" for s, label in obs)
