"""``migmodel advise``: what an operator may safely do now, from what has been observed so far.

Two inputs:

* a trace prefix in the harness format (``harness/TRACE_FORMAT.md``): a file, or ``-`` for a
  stream on standard input that may still be growing (``--each`` prints one advice per
  observation as the lines arrive);
* ``--live``: both QEMUs' QMP monitors, read-only. It sends ``qmp_capabilities`` and ``query-*``
  commands only (:data:`READ_ONLY`; anything else raises before a byte is written), and bases
  its advice on the current ``query-migrate`` / ``query-status`` answers of both sides: every
  reachable model state that shows them is consistent (the history before the connection is
  unknown, so answers that depend on it come out ``unknown``).

Exit codes: 0 advice given; 1 no model state is consistent with the observations (they are
impossible for the model: check the trace with ``migmodel conform``); 2 bad input (unreadable or
malformed trace, unknown configuration, a monitor that cannot be reached, a trace with nothing to
advise on); 3 the search passed ``--max-states``; 130 interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from checker.advise import Advice, AdviceError, AdviceLimit, Consistent, advise, from_case
from checker.cli_base import EXIT_LIMIT, EXIT_OK, UsageError, add_command, at_least
from checker.conform import Case
from model.config import NAMED, Config
from model.system import MigrationModel
from properties.advice import ADVISOR
from properties.conformance import BadTrace, NothingToCheck, Prelaunch, config_for, load_case, read, unwrap

EXIT_IMPOSSIBLE = 1

READ_ONLY = frozenset({"qmp_capabilities", "query-migrate", "query-status", "query-version",
                       "query-migrate-capabilities", "query-name"})
"""The only QMP commands ``--live`` sends: none of them changes a QEMU's state."""

def register(sub: Any, name: str) -> None:
    p = add_command(
        sub, name, help="what an operator may safely do now, from a trace prefix or live QMP",
        description="Compute every model state consistent with what was observed and answer: where is the "
                    "newest guest state, is resuming the source safe, is the pair stuck, what can still happen, "
                    "which operator actions are safe.",
        examples=["migmodel advise run.jsonl",
                  "migmodel advise --each --json run.jsonl",
                  "tail -f run.jsonl | migmodel advise --each -",
                  "migmodel advise --live --src-qmp /run/src.qmp --dst-qmp /run/dst.qmp"],
        exits={EXIT_OK: "advice given",
               EXIT_IMPOSSIBLE: "no model state is consistent with the observations (see `migmodel conform`)",
               EXIT_LIMIT: "the search passed --max-states: no advice"})
    p.add_argument("trace", nargs="?", metavar="TRACE", help="a trace (JSON Lines), or - for standard input")
    p.add_argument("--config", metavar="NAME", help="use this named configuration instead of the trace's meta")
    p.add_argument("--json", action="store_true", help="print JSON (one object, or one line per advice with --each)")
    p.add_argument("--each", action="store_true", help="one advice per observation, in order")
    p.add_argument("--live", action="store_true", help="read both QEMUs' QMP monitors (read-only)")
    p.add_argument("--src-qmp", metavar="SOCK", help="the source's QMP unix socket (with --live)")
    p.add_argument("--dst-qmp", metavar="SOCK", help="the destination's QMP unix socket (with --live)")
    p.add_argument("--max-states", type=at_least(1), default=1_000_000, metavar="N",
                   help="search bound (default 1,000,000)")
    p.add_argument("--settle", type=float, default=SETTLE, metavar="SECONDS",
                   help="how long an event may lag the step that caused it (default 0.005)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = _named(args.config) if args.config else None
    if args.live:
        if args.trace or not (args.src_qmp and args.dst_qmp):
            raise UsageError("--live takes --src-qmp SOCK and --dst-qmp SOCK and no trace")
        return _live(args, config)
    if not args.trace:
        raise UsageError("give a trace file, - for standard input, or --live")
    lines = _read_lines(args.trace)
    code = EXIT_OK
    if args.each:
        if not 0 <= args.settle < 60:
            raise UsageError(f"--settle must be between 0 and 60 seconds, not {args.settle}")
        given = 0
        seen: list[str] = []
        for k, advice_or_error in advice_points(args.trace, _keep(lines, seen), config, args.max_states,
                                                args.settle):
            code = max(code, _emit(args, advice_or_error, k))
            given += 1
            sys.stdout.flush()
        if not given:  # say why, as without --each: an empty trace, nothing modelled observed, ...
            _case(args.trace, seen, config)
            raise NothingYet(f"{'<stdin>' if args.trace == '-' else args.trace}: nothing to advise on")
        return code
    got = _advise_prefix(args.trace, list(lines), config, args.max_states)
    return _emit(args, got, None)


def _named(name: str) -> Config:
    if name not in NAMED:
        raise UsageError(f"unknown configuration {name!r} (known: {', '.join(NAMED)})")
    return NAMED[name]


def _read_lines(source: str) -> Iterator[str]:
    if source == "-":
        return (ln for ln in sys.stdin)
    try:
        with open(source, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise UsageError(f"cannot read {source}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise UsageError(f"{source}: not UTF-8 text ({e.reason})") from None
    return iter(text.splitlines())


def _keep(lines: Iterator[str], seen: list[str]) -> Iterator[str]:
    """``lines``, each also appended to ``seen``."""
    for raw in lines:
        seen.append(raw)
        yield raw


Result = tuple[dict[str, Any], Advice | None, AdviceError | None]
"""(what was observed, the advice, or why there is none)."""


class NothingYet(UsageError):
    """The lines so far hold nothing the model observes (conform's "nothing to check")."""


def _case(source: str, lines: list[str], config: Config | None) -> Case:
    """The conformance case of these lines (a prefix of a recording), read by ``conform``'s own
    reader: they go through a private temporary file, named after the source in messages."""
    name = "stdin" if source == "-" else Path(source).name
    with tempfile.TemporaryDirectory(prefix="migmodel-advise-") as folder:
        path = Path(folder) / name
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        try:
            if config is None:
                meta = read(str(path)).meta  # conform's reader: a malformed trace is one line, exit 2
                config = _with_yank(config_for(meta, name="advise"))
            return load_case(str(path), config)
        except NothingToCheck as e:
            raise NothingYet(str(e).replace(str(path), source if source != "-" else "<stdin>")) from None
        except BadTrace as e:
            raise UsageError(str(e).replace(str(path), source if source != "-" else "<stdin>")) from None


def _with_yank(config: Config) -> Config:
    """The recording's model (``conform``'s), where the operator may also have sent ``yank`` of the
    migration instance unlogged: advice must weigh a yank as one of the ways out, and it must not
    assume none happened."""
    return dataclasses.replace(config, faults=config.faults.with_limit("yank", 1))


def _advise_prefix(source: str, lines: list[str], config: Config | None, max_states: int) -> Result:
    case = _case(source, lines, config)
    observed = {"lines": len(lines),
                "observations": {s: sum(1 for o in case.observations if o[0] == s) for s in case.sides},
                "last": f"{case.observations[-1][0]} {case.observations[-1][1]}" if case.observations else None,
                "config": case.config}
    model = getattr(case.model, "inner", case.model)  # conform's RecordingModel wraps the QEMU model
    try:
        # a complete recording (teardown marker) was at rest when it ended: case.can_stop is set
        found = from_case(case, max_states, settled=case.can_stop is not None)
        return observed, advise(model, ADVISOR, _launched(found), max_states), None
    except AdviceError as e:
        return observed, None, e


def _plain(state: Any) -> Any:
    """A model state of the QEMU model for one of conform's search states."""
    w = unwrap(state)
    return w.world if isinstance(w, Prelaunch) else w


def _launched(found: Consistent) -> Consistent:
    """A source still waiting for ``cont`` (conform's ``Prelaunch``) is advised on as the model's
    initial state it leads to: nothing has happened yet, the guest is the source's alone. A state
    whose ``events`` capability is still off on a side (conform's ``EventsOff``: only which events
    show differs) is advised on as the model state inside it."""
    states: list[Any] = []
    paths: dict[Any, Any] = {}
    for s in found.states:
        w = _plain(s)
        if w not in paths:
            states.append(w)
            paths[w] = [(_plain(a), act, _plain(t)) for a, act, t in found.paths[s]]
    return Consistent(states, paths, found.searched)


PENDING = {"class": "HarnessError", "desc": "no reply yet at this point of the recording"}


def cut(lines: list[str], k: int) -> list[str]:
    """The first ``k`` lines of a recording (meta included), as it stood when line ``k`` was
    written, plus the commands already sent then whose reply came later (a command's line is
    written at its reply): those are kept without their reply, so the model may or may not
    have executed them yet."""
    out = lines[:k]
    try:
        t_cut = json.loads(lines[k - 1]).get("t")
    except (json.JSONDecodeError, AttributeError):
        return out
    if not isinstance(t_cut, (int, float)) or isinstance(t_cut, bool):
        return out
    for raw in lines[k:]:
        try:
            row = json.loads(raw)
        except json.JSONDecodeError:
            continue
        sent = row.get("t_sent") if isinstance(row, dict) else None
        if isinstance(sent, (int, float)) and not isinstance(sent, bool) and "command" in row and sent <= t_cut:
            pending = {key: v for key, v in row.items() if key not in ("return", "error")}
            out.append(json.dumps({**pending, "t": t_cut, "error": PENDING}))
    return out


SETTLE = 0.005
"""Seconds an event may take to arrive after the step that caused it was taken on the other side
(or after the reply of the command that caused it): advice at an observation also takes in the
lines that arrived within this time after it."""


def _t(raw: str) -> float | None:
    try:
        t = json.loads(raw).get("t")
    except (json.JSONDecodeError, AttributeError):
        return None
    return float(t) if isinstance(t, (int, float)) and not isinstance(t, bool) and t == t else None


def advice_points(source: str, lines: Iterator[str], config: Config | None, max_states: int,
                  settle: float = SETTLE) -> Iterator[tuple[int, Result]]:
    """Advice after each observation (an event, a command, an exit), as the recording stood
    ``settle`` seconds after it: the line number of the last line taken in, and the advice.
    Observations within one such window share one advice.

    A file is read whole first, so a command sent before that moment but answered after it counts
    as in flight there (:func:`cut`); on a stream the reply is simply not there yet. A point that
    no run of the model explains is held back until a later one does; if the recording ends
    first, that point is given as impossible."""
    whole = source != "-"
    everything = [raw for raw in lines if raw.strip()] if whole else []
    stream: Iterator[str] = iter(everything) if whole else (raw for raw in lines if raw.strip())
    seen: list[str] = []
    open_until: float | None = None  # the window of the first observation not yet advised
    held: tuple[int, Result] | None = None

    def advise_upto(k: int) -> Iterator[tuple[int, Result]]:
        nonlocal held
        try:
            got = _advise_prefix(source, cut(everything, k) if whole else list(seen[:k]), config, max_states)
        except NothingYet:
            return  # e.g. only the harness's set-up commands so far: nothing to advise on yet
        if got[1] is None:
            held = (k, got)
            return
        held = None
        yield k, got

    for raw in stream:
        t = _t(raw)
        if open_until is not None and (t is None or t > open_until):
            yield from advise_upto(len(seen))
            open_until = None
        seen.append(raw)
        k = len(seen)
        if k > 1 and _is_observation(source, k, raw) and open_until is None:
            open_until = (t if t is not None else float("inf")) + settle
    if open_until is not None:
        yield from advise_upto(len(seen))
    if held is not None:
        yield held


def _is_observation(source: str, k: int, raw: str) -> bool:
    try:
        line = json.loads(raw)
    except json.JSONDecodeError:
        raise UsageError(f"{source}:{k}: not JSON") from None
    return isinstance(line, dict) and line.get("side") in ("src", "dst") and (
        "event" in line or "command" in line or "exit" in line)


def _emit(args: argparse.Namespace, result: Result, line: int | None) -> int:
    """Print one advice; its exit code. JSON: the advise issue's keys (``config``, ``observed``, then
    the answers of :meth:`Advice.to_json`); with ``--each`` the line it was given after is
    ``observed.line``. No advice: ``config``, ``observed`` and ``error`` (exit 1, or 3 at the
    search bound)."""
    observed, advice, why = result
    if line is not None:
        observed = {**observed, "line": line}
    if args.json:
        out: dict[str, Any] = {"config": observed.get("config"), "observed": observed}
        if advice is None:
            out["error"] = str(why)
        else:
            out.update(advice.to_json())
        print(json.dumps(out, sort_keys=False) if args.each else json.dumps(out, indent=2))
    else:
        print(render(observed, advice, None if why is None else str(why), line))
    if advice is not None:
        return EXIT_OK
    return EXIT_LIMIT if isinstance(why, AdviceLimit) else EXIT_IMPOSSIBLE


def render(observed: dict[str, Any], advice: Advice | None, why: str | None, line: int | None) -> str:
    """The advice as a tired operator reads it: the answers first, the evidence after."""
    head = f"after line {line}: " if line is not None else ""
    obs = observed["observations"]
    out = [f"{head}{obs.get('src', 0)} source and {obs.get('dst', 0)} destination observations"
           + (f", last: {observed['last']}" if observed.get("last") else "")]
    if advice is None:
        out.append(f"  NO ADVICE: {why}")
        return "\n".join(out)
    a = advice

    def ans(title: str, x: Any) -> None:
        decide = f"  -> to decide: {x.decide_by}" if x.decide_by else ""
        out.append(f"  {title:<28} {x.answer.upper() if x.answer in ('yes', 'no', 'unknown') else x.answer}"
                   f"  ({x.reason}){decide}")

    ans("newest guest state on:", a.newest_state_on)
    ans("resume the source safely?", a.source_resume_safe)
    if a.source_resume_safe.answer == "yes" and any(s["action"] == "src: cont (refused)" for s in a.safe_actions):
        out.append("      but the source refuses `cont` in this state")
    ans("stuck?", a.stuck)
    for e in a.stuck.evidence:
        if e.startswith("way out: "):
            out.append(f"      {e}")
    out.append(f"  {'can still happen by itself:':<28} {'; '.join(a.possible_outcomes) or 'nothing'}")
    if a.danger:
        out.append(f"  DANGER whatever you do now: {'; '.join(a.danger)}")
    useful = [s for s in a.safe_actions if not s["refused"]]
    if useful:
        out.append("  safe now: " + "; ".join(s["action"] + (" (reaches a good end)" if s["leads_to_good_end"] else "")
                                              for s in useful))
    refused = [s["action"].removesuffix(" (refused)") for s in a.safe_actions if s["refused"]]
    if refused:
        out.append("  refused now (harmless): " + ", ".join(refused))
    for u in a.unsafe_actions:
        out.append(f"  UNSAFE: {u['action']}: {u['harm']}")
        out.extend(f"      {step}" for step in u["path"][:6])
    out.append(f"  ({a.consistent_states} consistent model states)")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# --live


class _Monitor:
    """A QMP monitor spoken to over its unix socket, read-only. A socket that exists but refuses
    the connection, or a monitor that hangs up, is a QEMU process that is gone."""

    def __init__(self, side: str, path: str) -> None:
        import errno
        import os

        self.side = side
        self.sent: list[str] = []
        self.events: list[dict[str, Any]] = []
        self.gone = False
        if not os.path.exists(path):
            raise UsageError(f"no {side} QMP monitor socket at {path}")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        try:
            self.sock.connect(path)
        except OSError as e:
            if e.errno not in (errno.ECONNREFUSED, errno.ENOENT):
                raise UsageError(f"cannot connect to the {side} QMP monitor {path}: "
                                 f"{e.strerror or e}") from None
            self.gone = True
            return
        self.file: TextIO = self.sock.makefile("r", encoding="utf-8")
        self._read()  # greeting
        self.execute("qmp_capabilities")

    def _read(self) -> dict[str, Any]:
        try:
            raw = self.file.readline()
        except OSError:
            raw = ""
        if not raw:
            self.gone = True
            return {}
        try:
            msg = json.loads(raw)
        except json.JSONDecodeError:
            raise UsageError(f"the {self.side} QMP monitor sent something that is not JSON") from None
        return msg if isinstance(msg, dict) else {}

    def execute(self, command: str) -> Any:
        if command not in READ_ONLY:
            raise ValueError(f"advise --live never sends {command!r}")
        if self.gone:
            return None
        self.sent.append(command)
        try:
            self.sock.sendall(json.dumps({"execute": command}).encode() + b"\n")
        except OSError:
            self.gone = True
            return None
        while True:
            msg = self._read()
            if self.gone:
                return None
            if "event" in msg:
                self.events.append(msg)
                continue
            if "error" in msg:
                return None
            return msg.get("return")

    def close(self) -> None:
        if not self.gone:
            self.file.close()
        self.sock.close()


def snapshot_states(config: Config, src: dict[str, Any] | None, dst: dict[str, Any] | None,
                    max_states: int) -> Consistent:
    """Every reachable model state whose statuses and runstates are what the queries answered
    (None: that side's process is gone)."""
    from checker.explore import StateLimitExceeded, explore

    model = _live_model(config)
    try:
        ex = explore(model, max_states=max_states)
    except StateLimitExceeded as e:
        raise AdviceLimit(f"the model has more than {max_states:,} states") from e

    def matches(w: Any) -> bool:
        return _side_matches(src, w.s_alive, w.s_status.value, w.s_run.value) and \
            _side_matches(dst, w.d_alive, w.d_status.value, w.d_run.value)

    states = [s for s in ex.states if matches(s)]
    if not states:
        raise AdviceError("no model state shows these query answers")
    first = ex.path_to(ex.index_of(states[0]))
    paths = {states[0]: [(p.state, n.action, n.state) for p, n in itertools.pairwise(first)
                         if n.action is not None]}
    return Consistent(states, paths, ex.state_count)


_LIVE_MODELS: dict[Config, MigrationModel] = {}


def _live_model(config: Config) -> MigrationModel:
    """One model per configuration, so the advice engine's graph of it is built once."""
    if config not in _LIVE_MODELS:
        _LIVE_MODELS[config] = MigrationModel(config)
    return _LIVE_MODELS[config]


def _side_matches(q: dict[str, Any] | None, alive: bool, status: str, run: str) -> bool:
    if q is None:
        return not alive
    return alive and status == (q.get("status") or "none") and run == q.get("runstate")


def _query(m: _Monitor) -> dict[str, Any] | None:
    mig = m.execute("query-migrate") or {}
    st = m.execute("query-status") or {}
    return None if m.gone else {"status": mig.get("status"), "runstate": st.get("status")}


def _show(q: dict[str, Any] | None) -> str:
    return "gone" if q is None else f"{q['status'] or 'none'}/{q['runstate']}"


def _live(args: argparse.Namespace, config: Config | None) -> int:
    src, dst = _Monitor("src", args.src_qmp), _Monitor("dst", args.dst_qmp)
    try:
        if config is None:
            config = _live_config(src, dst)
        last: tuple[Any, ...] | None = None
        code = EXIT_OK
        while True:
            qs, qd = _query(src), _query(dst)
            key = (_show(qs), _show(qd))
            if key != last:
                last = key
                observed = {"src": qs, "dst": qd, "config": config.summary(),
                            "observations": {"src": 1, "dst": 1},
                            "last": f"src {key[0]}, dst {key[1]}"}
                try:
                    found = snapshot_states(config, qs, qd, args.max_states)
                    result: Result = (observed, advise(_live_model(config), ADVISOR, found, args.max_states), None)
                except AdviceError as e:
                    result = (observed, None, e)
                code = max(code, _emit(args, result, None))
                sys.stdout.flush()
            if not args.each or (src.gone and dst.gone):
                return code
            _wait_event(src, dst)
    finally:
        sent = sorted(set(src.sent) | set(dst.sent))
        print(f"advise: sent only {', '.join(sent) or 'nothing'}", file=sys.stderr)
        src.close()
        dst.close()


def _live_config(src: _Monitor, dst: _Monitor) -> Config:
    """The model configuration of a live pair: versions and the source's capabilities."""
    versions: dict[str, str] = {}
    for m in (src, dst):
        q = (m.execute("query-version") or {}).get("qemu", {})
        if m.gone or not q:
            raise UsageError(f"the {m.side} QEMU is gone: give --config")
        versions[m.side] = f"{q.get('major')}.{q.get('minor')}.{q.get('micro')}"
    caps = [str(c.get("capability")) for c in src.execute("query-migrate-capabilities") or [] if c.get("state")]
    try:
        return config_for({"src_version": versions["src"], "dst_version": versions["dst"],
                           "capabilities": caps}, name="live")
    except BadTrace as e:
        raise UsageError(f"{e}") from None


def _wait_event(*monitors: _Monitor) -> None:
    """Block until some monitor delivers an event or hangs up (then the advice is recomputed)."""
    import select

    while True:
        live = [m for m in monitors if not m.gone]
        if any(m.events for m in live) or len(live) < len(monitors):
            for m in monitors:
                m.events.clear()
            return
        ready, _, _ = select.select([m.sock for m in live], [], [], 1.0)
        for m in live:
            if m.sock in ready:
                msg = m._read()
                if m.gone or "event" in msg:
                    return


__all__ = ["READ_ONLY", "register", "render", "snapshot_states"]
