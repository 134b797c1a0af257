"""Merge what ``harness/qtest_wrapper.py`` recorded of one ``migration-test`` test into one trace.

Input: a directory holding, per QEMU instance, ``<side>-<pid>.json`` (the wrapper's record:
arguments, start, end, signals forwarded, exit status) and ``<side>-<pid>.log`` (QEMU's trace
events ``handle_qmp_command``, ``monitor_qmp_respond`` and ``migrate_set_state``, each line
``<ISO-8601 UTC time> <event> <arguments>``, from ``-msg timestamp=on``). Output: one trace in the
format of ``harness/TRACE_FORMAT.md``:

* every QMP event QEMU sent (from ``monitor_qmp_respond``), with QEMU's ``timestamp``, except
  ``MIGRATION_PASS`` (counted in ``meta.dropped_events``);
* every QMP command the test sent, with its return or error (a request from
  ``handle_qmp_command`` is paired with the next non-event response of the same monitor: QMP
  answers in-band commands in order). ``t_sent`` is when QEMU dispatched it. ``query-*`` commands
  (the test polls ``query-migrate`` every few milliseconds) are left out and counted in
  ``meta.dropped_commands``;
* a destination started with ``-incoming URI`` gets a ``migrate-incoming`` command line with
  ``"from_command_line": true`` at its start: QEMU executes that option as ``qmp_migrate_incoming``
  (``system/vl.c:qmp_x_exit_preconfig``), with ``exit-on-error`` true;
* a process that ended before the teardown is an ``exit`` line;
* ``meta.events_late`` lists the sides whose status changed (QEMU's ``migrate_set_state``) while
  their ``events`` capability was still off: ``conform`` expects no MIGRATION event there before
  the capability is turned on;
* the teardown marker goes where the test first signalled a QEMU (``qtest_quit`` sends SIGTERM),
  or at the last line if it never did.

``t`` is seconds since the first instance started (one clock: both QEMUs log UTC wall time).
Commands and events the wrapper could not see (before QEMU's trace log was open) are missing;
what the trace lacks is said in ``meta.lacks``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from harness import TRACE_FORMAT_VERSION

Line = dict[str, Any]

_LOG = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) (\w+) (.*)$")
_MON = re.compile(r"^mon (0x[0-9a-f]+|\(nil\)) (req|resp): (.*)$")


class QtestTraceError(ValueError):
    """The recorded instances cannot be merged into one trace (missing, or not one per side)."""


@dataclass
class Instance:
    """One QEMU started by the test, as the wrapper recorded it."""

    side: str
    argv: list[str]
    start: float
    end: float
    exit: int
    signals: list[float]
    log: list[tuple[float, str, str]] = field(default_factory=list)

    def option(self, name: str) -> str | None:
        for i, arg in enumerate(self.argv[:-1]):
            if arg == name:
                return self.argv[i + 1]
        return None


def _when(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def parse_log(text: str) -> list[tuple[float, str, str]]:
    """``(time, event, arguments)`` of each trace line; other lines (QEMU's messages) are skipped."""
    out = []
    for raw in text.splitlines():
        m = _LOG.match(raw)
        if m:
            out.append((_when(m.group(1)), m.group(2), m.group(3)))
    return out


def load_instances(directory: Path) -> dict[str, Instance]:
    """The source and the destination the wrapper recorded in ``directory`` (exactly one each)."""
    found: dict[str, list[Instance]] = {"src": [], "dst": []}
    for path in sorted(directory.glob("*.json")):
        try:
            rec = json.loads(path.read_text())
            side = rec["side"]
            inst = Instance(side=side, argv=[str(a) for a in rec["argv"]], start=float(rec["start"]),
                            end=float(rec["end"]), exit=int(rec["exit"]),
                            signals=[float(s["t"]) for s in rec["signals"]])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise QtestTraceError(f"{path}: not a wrapper record ({exc})") from None
        if side not in found:
            raise QtestTraceError(f"{path}: unknown side {side!r}")
        log = Path(str(rec.get("log", path.with_suffix(".log"))))
        if not log.is_absolute() or not log.exists():
            log = path.with_suffix(".log")
        inst.log = parse_log(log.read_text(errors="replace")) if log.exists() else []
        found[side].append(inst)
    for side, insts in found.items():
        if len(insts) != 1:
            raise QtestTraceError(f"{directory}: {len(insts)} {side} instance(s) recorded; a trace has exactly one "
                                  "source and one destination")
    return {side: insts[0] for side, insts in found.items()}


def _capabilities(commands: list[Line]) -> list[str]:
    caps: dict[str, bool] = {}
    for c in commands:
        if c.get("command") == "migrate-set-capabilities" and "return" in c:
            for cap in c.get("arguments", {}).get("capabilities", []):
                caps[str(cap["capability"])] = bool(cap["state"])
    return sorted(k for k, v in caps.items() if v)


def convert(directory: Path, test: str, version: str, *, ok: bool = True, wall_s: float | None = None) -> list[Line]:
    """The merged trace (meta line first) of the instances recorded in ``directory``."""
    insts = load_instances(directory)
    t0 = min(i.start for i in insts.values())
    rows: list[Line] = []
    dropped_events: dict[str, int] = {}
    dropped_commands: dict[str, int] = {}
    states: dict[str, list[str]] = {}
    side_commands: dict[str, list[Line]] = {}
    for side, inst in insts.items():
        pending: dict[str, list[tuple[float, dict[str, Any]]]] = {}
        states[side] = []
        side_commands[side] = []
        incoming = inst.option("-incoming")
        if side == "dst" and incoming is not None and incoming != "defer":
            rows.append({"side": side, "command": "migrate-incoming", "arguments": {"uri": incoming},
                         "from_command_line": True, "t_sent": round(inst.start - t0, 6), "return": {},
                         "t": round(inst.start - t0, 6)})
        for when, event, args in inst.log:
            t = round(when - t0, 6)
            if event == "migrate_set_state":
                states[side].append(args.removeprefix("new state "))
                continue
            m = _MON.match(args)
            if m is None:
                continue
            mon, kind, text = m.groups()
            try:
                msg = json.loads(text)
            except json.JSONDecodeError:
                continue
            if kind == "req":
                pending.setdefault(mon, []).append((t, msg))
                continue
            if "event" in msg:
                if msg["event"] == "MIGRATION_PASS":
                    dropped_events["MIGRATION_PASS"] = dropped_events.get("MIGRATION_PASS", 0) + 1
                    continue
                line: Line = {"side": side, "event": msg["event"]}
                if "data" in msg:
                    line["data"] = msg["data"]
                line["timestamp"] = msg.get("timestamp")
                line["t"] = t
                rows.append(line)
                continue
            if "return" not in msg and "error" not in msg:
                continue  # the greeting
            queue = pending.get(mon)
            if not queue:
                continue  # a reply to a request sent before the log was open
            # QMP answers in-band requests in order; an out-of-band one (exec-oob, with an id)
            # may overtake them, so a reply with an id goes to the request with that id
            k = next((i for i, (_, r) in enumerate(queue) if "id" in msg and r.get("id") == msg["id"]), 0)
            t_sent, req = queue.pop(k)
            name = str(req.get("execute") or req.get("exec-oob") or "?")
            line = {"side": side, "command": name}
            if req.get("arguments"):
                line["arguments"] = req["arguments"]
            line["t_sent"] = t_sent
            if "error" in msg:
                line["error"] = {"class": msg["error"].get("class", "?"), "desc": msg["error"].get("desc", "")}
            else:
                line["return"] = msg["return"]
            line["t"] = t
            side_commands[side].append(line)
            if name.startswith("query-"):
                dropped_commands[name] = dropped_commands.get(name, 0) + 1
                continue
            rows.append(line)
    signals = [s for i in insts.values() for s in i.signals]
    teardown = min(signals) - t0 if signals else None
    for side, inst in insts.items():
        ended = inst.end - t0
        if teardown is None or ended < teardown:
            rows.append({"side": side, "exit": inst.exit, "stderr_tail": [], "t": round(ended, 6)})
    rows.sort(key=lambda r: r["t"])
    if teardown is None:
        teardown = rows[-1]["t"] if rows else 0.0
    body = [r for r in rows if r["t"] < teardown]
    tail = [{**r, "teardown": True} for r in rows if r["t"] >= teardown]
    marker = {"side": "harness", "teardown": True, "t": round(teardown, 6)}
    caps = {s: _capabilities(side_commands[s]) for s in insts}
    src, dst = insts["src"], insts["dst"]
    incoming_args: dict[str, Any] = next((c.get("arguments", {}) for c in side_commands["dst"]
                          if c["command"] == "migrate-incoming"), {})
    lacks = []
    events_late = []
    for side in ("src", "dst"):
        if "events" not in caps[side]:
            lacks.append(f"{side}: no MIGRATION events (the test did not set the events capability on this side); "
                         "meta.trace_states has its statuses from QEMU's migrate_set_state trace event")
        sent = [str(r["data"]["status"]) for r in rows if r["side"] == side and r.get("event") == "MIGRATION"
                and isinstance(r.get("data"), dict)]
        unsent = list(states[side])
        for status in sent:  # what migrate_set_state logged but no MIGRATION event showed
            if status in unsent:
                unsent.remove(status)
        if unsent and "events" in caps[side]:
            events_late.append(side)
            lacks.append(f"{side}: no MIGRATION event for status(es) {', '.join(unsent)} (QEMU logged them with "
                         "migrate_set_state while the events capability was still off, e.g. -incoming on the "
                         "command line before the test set it)")
    lacks.append("final query-status / query-migrate of the harness (the test's own query-* commands are dropped)")
    lacks.append("stderr (the test discards it)")
    meta: dict[str, Any] = {
        "format": TRACE_FORMAT_VERSION,
        "scenario": test,
        "qtest": test,
        "summary": f"QEMU's tests/qtest/migration-test {test}, recorded through harness/qtest_wrapper.py",
        "src_version": version,
        "dst_version": version,
        "capabilities": sorted(set(caps["src"]) & set(caps["dst"])),
        "src_capabilities": caps["src"],
        "dst_capabilities": caps["dst"],
        "shared_disk": False,
        "exit_on_error": bool(incoming_args.get("exit-on-error", True)),
        "autostart": "-S" not in dst.argv,
        "accel": "tcg",
        "machine": (src.option("-machine") or "?").split(",")[0],
        "src_args": src.argv,
        "dst_args": dst.argv,
        "recorded_at": datetime.fromtimestamp(t0).astimezone().strftime("%Y-%m-%dT%H:%M:%S%z"),
        "wall_s": round(wall_s if wall_s is not None else max(src.end, dst.end) - t0, 3),
        "ok": ok,
        "trace_states": states,
        **({"events_late": events_late} if events_late else {}),
        "dropped_events": dropped_events,
        "dropped_commands": dropped_commands,
        "lacks": lacks,
    }
    return [{"meta": meta}, *body, marker, *tail]


def write(lines: list[Line], out: Path) -> None:
    """Write the trace atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text("".join(json.dumps(line) + "\n" for line in lines))
    tmp.replace(out)
