"""Conformance of recorded QEMU traces (``harness/TRACE_FORMAT.md``) to the model.

The QEMU half of ``migmodel conform`` (the generic search is ``checker/conform.py``):

* :func:`config_for` reads a trace's ``meta`` into a model :class:`~model.config.Config`: the two
  versions, the capabilities, ``shared_disk``, ``exit_on_error``, ``autostart``, with a generous
  fault budget (:data:`FAULTS`: a reset, either kill, a device-load or storage failure, each once,
  two in all; the harness's partitions end in a reset or a kill) and ``ram_may_drain`` so that the
  model of the trace allows whatever the recording could have met.
* :func:`observe` is what a model step shows: the QMP events of ``model/events.py``
  (``MIGRATION <status>``, ``STOP``, ``RESUME``), the QMP command of an operator step
  (``model/management.py``): ``<command>`` if QEMU accepted it (``migrate resume=true`` for a
  resumed migration), ``refused:<command>`` if it answered with an error (a refusal row), and
  ``exited`` when a process ends (a crash fault, or QEMU's ``exit()``).
* :func:`recorded` is what the recording shows, in the same labels, with when each was made
  (``Case.spans``) and which ones are optional (:func:`observations`: just the labels).

What a recording shows, and what it leaves out:

* Only the lines before the teardown marker (what the harness's ``quit`` causes is not the
  scenario's doing), and only from the moment the first migration command (``migrate-incoming``
  or ``migrate``) was sent: before that the harness sets capabilities and starts the source guest
  (``cont``, whose ``RESUME`` the model's initial state already has behind it).
* A process that ends (killed, or exits) is an observation, ``exited``, whatever its exit code;
  nothing of that side after it counts.
* The commands the model has (:data:`COMMANDS`) are observations, accepted or refused: a matching
  run issues exactly the recorded ones, each side in order with its events. The harness's other
  commands (``migrate-set-*``, ``query-*``, the teardown ``quit``) are not. A command's effect
  happened somewhere between sending it and reading its reply, and its line is written when the
  reply came: its span is ``(t_sent, t)``, so the events that arrived meanwhile (those of the
  same model step, or of the steps it set off: ``MIGRATION setup`` then ``active`` before the
  reply of ``migrate``) may be matched before or after it; an event that arrived before it was
  sent, or after its reply, may not; nor can the command's own model step show an event that
  arrived before it was sent (``Case.leading``). Events are points (``t``, on arrival).
* A modelled command that got a ``HarnessError`` (no reply came: the process was killed, or it
  timed out) may or may not have been executed: its ``<command>`` observation is optional. A
  refusal of it is not expected (QEMU would have replied).
* The harness's fault lines (``kill-dst``, ``reset``...) are not used: the model's fault injector
  may inject any fault anywhere within the budget, and the events decide.
* The recording ends where the model has settled (:func:`_settled`), not anywhere.
* Events other than MIGRATION, STOP and RESUME are ignored; without the ``events`` capability
  QEMU sends no MIGRATION events, and the model's are then not observed either.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from checker.conform import Case, Observation
from harness.traces import Trace, TraceError, load
from model.config import Config, ConfigError, Faults, Version
from model.events import events
from model.system import Action, MigrationModel
from model.world import World

SIDES = ("src", "dst")

FAULTS = Faults.only(total=2, reset=1, dst_crash=1, src_crash=1, device_load_failure=1, disk_failure=1)
"""Conformance fault budget: a recording may have met any fault (a kill, a reset, a device its
destination lacks); two in one run covers every scenario of the harness (h: a lost PONG then a
reset is one ``reset``). ``disk-failure`` only with a shared disk: without one the harness's
QEMUs have no disk, and nothing can refuse to activate (the model's disk failure would let a
guest stay paused for no reason)."""

EXITED = "exited"
"""The process ended (killed, or QEMU exited): the harness sees it, whatever the exit code."""
START_COMMANDS = frozenset({"migrate-incoming", "migrate"})
COMMANDS = {
    "src": frozenset({"migrate", "migrate-start-postcopy", "migrate_cancel", "migrate-pause", "migrate-continue",
                      "cont"}),
    "dst": frozenset({"migrate-incoming", "migrate-pause", "migrate-recover", "cont", "quit"}),
}
"""The QMP commands of the model's operator (``model/management.py``), per side: a recorded one is
an observation, accepted or refused. (``migrate`` with ``resume: true`` is ``migrate
resume=true``.)"""
RESUME_LABEL = "migrate resume=true"
EVENTS = frozenset({"MIGRATION", "STOP", "RESUME"})
CAPABILITIES = {"postcopy-ram": "postcopy_ram", "return-path": "return_path",
                "dirty-bitmaps": "dirty_bitmaps", "pause-before-switchover": "pause_before_switchover"}


class BadTrace(ValueError):
    """A trace that cannot be checked: unreadable, not the trace format, or an unknown setup."""


# ---------------------------------------------------------------------------------------------
# meta -> Config

_VERSION = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?")


def model_version(text: object) -> str:
    """The model version standing for a real QEMU version string such as ``"11.1.3"``.

    ``10.0.x`` is the model's ``10.0`` only before the stable fix 725a9e5f78 (10.0.5, 10.1.1): the
    model's 10.0 has the ``postcopy_start`` error-path bug, which later releases do not.
    """
    m = _VERSION.match(text) if isinstance(text, str) else None
    if m is None:
        raise BadTrace(f"unreadable QEMU version {text!r} in meta")
    major, minor, micro = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if ((major, minor) == (10, 0) and micro < 5) or (major, minor, micro) == (10, 1, 0):
        return "10.0"
    if (major, minor) in ((7, 2), (10, 2), (11, 1)):
        return f"{major}.{minor}"
    raise BadTrace(f"QEMU version {text!r} has no model (modelled: 7.2.x, 10.0.0-10.0.4 and 10.1.0, "
                   "10.2.x, 11.1.x)")


def config_for(meta: dict[str, Any], name: str = "trace") -> Config:
    """The model configuration of a recording, from its ``meta``."""
    for key in ("src_version", "dst_version"):
        if key not in meta:
            raise BadTrace(f"meta has no {key!r}")
    caps = meta.get("capabilities", [])
    if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
        raise BadTrace(f"meta capabilities must be a list of names, not {caps!r}")
    flags: dict[str, bool] = {v: (k in caps) for k, v in CAPABILITIES.items()}
    for key, default in (("shared_disk", False), ("exit_on_error", True), ("autostart", True)):
        value = meta.get(key, default)
        if not isinstance(value, bool):
            raise BadTrace(f"meta {key} must be true or false, not {value!r}")
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
# what a model step shows


def command_of(action_name: str) -> str:
    """The QMP command of a management row: ``"cont: refused (lock)"`` -> ``"cont"``."""
    return action_name.split(":", 1)[0].split()[0]


def command_label(action_name: str) -> str:
    """The observation of an accepted management row: its command, ``migrate resume=true`` for
    the resuming ``migrate`` rows (``"migrate resume=true (7.2): connect failed"``: QEMU 7.2
    accepts the command, the connection fails later)."""
    cmd = command_of(action_name)
    return RESUME_LABEL if cmd == "migrate" and "resume=true" in action_name else cmd


def observe_for(config: Config, migration_events: bool = True) -> Any:
    """``observe(before, action, after)`` for ``config``'s model."""

    def observe(before: World, action: Action, after: World) -> list[Observation]:
        out: list[Observation] = []
        for e in events(config, before, action, after):
            if e.event == "MIGRATION":
                if migration_events:
                    out.append((e.side, f"MIGRATION {e.status}"))
            else:
                out.append((e.side, e.event))
        if action.refused:
            out.append((action.actor.split("/", 1)[0], f"refused:{command_of(action.name)}"))
        elif action.actor.endswith("/qmp"):
            out.append((action.actor.split("/", 1)[0], command_label(action.name)))
        if before.s_alive and not after.s_alive:
            out.append(("src", EXITED))
        if before.d_alive and not after.d_alive:
            out.append(("dst", EXITED))
        return out

    return observe


# ---------------------------------------------------------------------------------------------
# what a recording shows


def _label(line: dict[str, Any], where: str) -> tuple[str, bool] | None:
    """A line's observation and whether it is optional, or None if it shows nothing."""
    if "event" in line:
        name = line["event"]
        if name not in EVENTS:
            return None
        if name == "MIGRATION":
            data = line.get("data")
            if not isinstance(data, dict) or not isinstance(data.get("status"), str):
                raise BadTrace(f"{where}: MIGRATION event without data.status")
            return f"MIGRATION {data['status']}", False
        return str(name), False
    if "command" in line:
        cmd = line["command"]
        err = line.get("error")
        no_reply = isinstance(err, dict) and err.get("class") == "HarnessError"
        if err is not None and not no_reply:
            return f"refused:{cmd}", False
        if cmd not in COMMANDS.get(line.get("side", ""), ()):
            return None
        args = line.get("arguments")
        resume = cmd == "migrate" and isinstance(args, dict) and args.get("resume") is True
        return (RESUME_LABEL if resume else str(cmd)), no_reply
    return None


def _time(value: object, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def observations(trace: Trace) -> tuple[list[Observation], list[str]]:
    """The recording's observations in recorded order, and notes on what was left out."""
    obs, _, _, notes = recorded(trace)
    return obs, notes


def recorded(trace: Trace) -> tuple[list[Observation], list[tuple[float, float]], frozenset[int], list[str]]:
    """The recording's observations in recorded order (by the time each line was written), when
    each was made (``(t_sent, t)`` for a command, ``(t, t)`` otherwise: ``Case.spans``), which
    ones are optional, and notes on what was left out."""
    body = trace.body()
    start = None
    for line in body:
        if line.get("command") in START_COMMANDS and line.get("side") in SIDES:
            t = line.get("t_sent", line.get("t"))
            if isinstance(t, (int, float)) and (start is None or t < start):
                start = float(t)
    rows: list[tuple[float, float, str, str, bool]] = []
    notes: list[str] = []
    gone: set[str] = set()
    skipped = {s: 0 for s in SIDES}
    no_reply: list[str] = []
    last = 0.0
    for n, line in enumerate(body, start=2):
        t = last = _time(line.get("t"), last)
        side = line.get("side")
        if side not in SIDES:
            continue
        # a command counts from the moment it was sent: the `cont` that starts the source's guest
        # was sent (and answered) before the first migration command
        sent = _time(line.get("t_sent"), t) if "command" in line else t
        if start is None or sent < start:
            continue
        if side in gone:
            if _label(line, f"{trace.path}:{n}") is not None:
                skipped[side] += 1
            continue
        if "exit" in line:
            gone.add(side)
            rows.append((t, t, side, EXITED, False))
            continue
        got = _label(line, f"{trace.path}:{n}")
        if got is not None:
            label, optional = got
            rows.append((min(sent, t), t, side, label, optional))
            if optional:
                no_reply.append(f"{side} {label}")
    # the order the lines were written in (their `t`): a command's line comes when its reply did
    rows.sort(key=lambda r: r[1])
    if start is None:
        notes.append("no migrate-incoming or migrate command: nothing observed")
    for side, k in skipped.items():
        if k:
            notes.append(f"{k} {side} observation(s) after the {side} process ended were ignored")
    for what in no_reply:
        notes.append(f"{what} got no reply: the model may or may not execute it")
    return ([(r[2], r[3]) for r in rows], [(r[0], r[1]) for r in rows],
            frozenset(g for g, r in enumerate(rows) if r[4]), notes)


def leading(obs: Sequence[Observation]) -> frozenset[int]:
    """The command observations (``Case.leading``): a command's model step shows nothing that
    arrived before the command was sent."""
    return frozenset(g for g, (side, label) in enumerate(obs) if _is_command(side, str(label)))


def _is_command(side: str, label: str) -> bool:
    name = label.removeprefix("refused:")
    return name == RESUME_LABEL or name in COMMANDS.get(side, ()) or label.startswith("refused:")


# ---------------------------------------------------------------------------------------------
# the suite hook


def load_case(path: str, config: Config | None = None) -> Case:
    """``Suite.conformance``: the trace at ``path`` as a conformance case.

    ``config``: check against this configuration instead of the one ``meta`` describes (its own
    fault budget applies). Raises :class:`BadTrace` for anything that is not a checkable trace.
    """
    try:
        trace = load(path)
    except TraceError as e:
        raise BadTrace(str(e)) from None
    except UnicodeDecodeError as e:
        raise BadTrace(f"{path}: not UTF-8 text ({e.reason})") from None
    except OSError as e:
        raise BadTrace(f"cannot read {path}: {e.strerror or e}") from None
    meta = trace.meta
    if config is None:
        config = config_for(meta, name=f"recorded-{meta.get('src_version')}-to-{meta.get('dst_version')}")
    caps = meta.get("capabilities", ["events"])
    migration_events = "events" in caps if isinstance(caps, list) else True
    obs, spans, optional, notes = recorded(trace)
    model, observe, cache = _model(config, migration_events)
    return Case(
        title=_title(trace),
        model=model,
        observe=observe,
        observations=obs,
        sides=SIDES,
        config=config.summary(),
        notes=tuple(notes),
        cache=cache,
        can_stop=_settled(model),
        spans=spans,
        optional=optional,
        leading=leading(obs),
    )


def _settled(model: MigrationModel) -> Any:
    """Where a recording may end: the model has settled, no QEMU thread has a step left to take
    (only QMP commands and faults are enabled). The harness sends its final queries at least a
    second after the scenario's last action, so a bottom half or thread that still had work (a
    destination ``RESUME`` after ``completed``, say) has done it by then."""

    def can_stop(w: World) -> bool:
        return all(a.actor.endswith("/qmp") or a.actor == "fault" or nxt == w for a, nxt in model.successors(w))

    return can_stop


_MODELS: dict[tuple[Config, bool], tuple[MigrationModel, Any, dict[Any, Any]]] = {}
_MAX_MODELS = 16


def _model(config: Config, migration_events: bool) -> tuple[MigrationModel, Any, dict[Any, Any]]:
    """One model, observation function and successor memo per configuration: traces of one
    pairing share the states they explore. (The configuration's name is part of the key, so
    traces name their configuration after the versions, not the file.)"""
    key = (config, migration_events)
    got = _MODELS.get(key)
    if got is None:
        if len(_MODELS) >= _MAX_MODELS:
            _MODELS.clear()
        got = (MigrationModel(config), observe_for(config, migration_events), {})
        _MODELS[key] = got
    return got


def _title(trace: Trace) -> str:
    p = Path(trace.path)
    scenario = trace.meta.get("scenario", p.stem)
    return f"{p.parent.name}/{p.name}" if p.parent.name else str(scenario)


def describe(obs: Sequence[Observation]) -> str:
    return ", ".join(f"{s} {label}" for s, label in obs)
