"""QMP connections and the trace recorder.

QMP is spoken with the ``qemu.qmp`` library (``QMPClient``, asyncio). Events are taken at the
moment the library's reader task receives them: :class:`_TapListener` overrides
``EventListener.accept``, which the reader calls synchronously for each incoming event, so the
recorder sees (and its hooks act on) an event within well under a millisecond of its arrival,
without any queue in between.

The :class:`Recorder` keeps the trace in memory, lets the scenario code wait for events
(``wait_event``), runs one-shot hooks on events (used for fault injection that must land within
about 1 ms of a given MIGRATION event) and writes the JSON Lines file atomically at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qemu.qmp import EventListener, ExecuteError, QMPClient

logging.getLogger("qemu.qmp").setLevel(logging.CRITICAL)

Line = dict[str, Any]
EventPredicate = Callable[[Line], bool]

#: Events that are not written to the trace (one per dirty-bitmap sync; pure noise for the model).
DROPPED_EVENTS = frozenset({"MIGRATION_PASS"})


@dataclass
class _Hook:
    predicate: EventPredicate
    action: Callable[[Line], None]
    fired: bool = False


@dataclass
class _Waiter:
    predicate: EventPredicate
    future: asyncio.Future[Line]


@dataclass
class Recorder:
    """In-memory trace of one scenario run.

    Every line carries ``t``: seconds since the recorder was created (``time.monotonic``), taken
    when the line was added, i.e. on arrival at the harness for events.
    """

    meta: dict[str, Any]
    lines: list[Line] = field(default_factory=list)
    t0: float = field(default_factory=time.monotonic)
    teardown: bool = False
    dropped: dict[str, int] = field(default_factory=dict)
    _hooks: list[_Hook] = field(default_factory=list)
    _waiters: list[_Waiter] = field(default_factory=list)

    def now(self) -> float:
        return round(time.monotonic() - self.t0, 6)

    def add(self, line: Line) -> Line:
        line = {**line, "t": self.now()}
        if self.teardown:
            line["teardown"] = True
        self.lines.append(line)
        if "event" in line and not self.teardown:
            for hook in self._hooks:
                if not hook.fired and hook.predicate(line):
                    hook.fired = True
                    hook.action(line)
        for w in list(self._waiters):
            if w.future.done():
                self._waiters.remove(w)
            elif w.predicate(line):
                w.future.set_result(line)
                self._waiters.remove(w)
        return line

    def event(self, side: str, msg: dict[str, Any]) -> None:
        """Record a QMP event exactly as received, plus ``side``."""
        name = str(msg.get("event"))
        if name in DROPPED_EVENTS:
            self.dropped[name] = self.dropped.get(name, 0) + 1
            return
        line: Line = {"side": side}
        line.update(msg)
        self.add(line)

    def on_event(self, predicate: EventPredicate, action: Callable[[Line], None]) -> None:
        """Run ``action`` synchronously, once, on the first event line matching ``predicate``."""
        self._hooks.append(_Hook(predicate, action))

    async def wait_line(self, predicate: EventPredicate, timeout: float, since: int = 0) -> Line:
        """Wait for a trace line (already recorded at index >= since, or future) matching."""
        for line in self.lines[since:]:
            if predicate(line):
                return line
        fut: asyncio.Future[Line] = asyncio.get_running_loop().create_future()
        self._waiters.append(_Waiter(predicate, fut))
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            if not fut.done():
                fut.cancel()

    def migration_statuses(self, side: str) -> list[str]:
        return [
            str(ln["data"]["status"])
            for ln in self.lines
            if ln.get("side") == side and ln.get("event") == "MIGRATION" and not ln.get("teardown")
        ]

    def write(self, path: Path) -> None:
        """Write the trace as JSON Lines, atomically (temporary file in the same dir + rename)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = dict(self.meta)
        if self.dropped:
            meta["dropped_events"] = dict(self.dropped)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(json.dumps({"meta": meta}, sort_keys=False) + "\n")
                for line in self.lines:
                    f.write(json.dumps(line, sort_keys=False) + "\n")
            os.chmod(tmp, 0o644)  # mkstemp makes it 0600; traces are meant to be shared
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


def is_migration(side: str, *statuses: str) -> EventPredicate:
    """Predicate: a MIGRATION event on ``side`` whose status is one of ``statuses``."""
    wanted = set(statuses)

    def pred(line: Line) -> bool:
        return (
            line.get("side") == side
            and line.get("event") == "MIGRATION"
            and line.get("data", {}).get("status") in wanted
        )

    return pred


class _TapListener(EventListener):
    """An EventListener that never queues: it hands each event to the recorder on arrival."""

    def __init__(self, side: str, recorder: Recorder) -> None:
        super().__init__()
        self._side = side
        self._recorder = recorder

    def accept(self, event: Any) -> bool:
        self._recorder.event(self._side, dict(event))
        return False


class QMPError(Exception):
    """A QMP command could not be executed (connection gone or timed out)."""


class QMPConnection:
    """One QMP monitor (source or destination), recording commands and events."""

    def __init__(self, side: str, recorder: Recorder) -> None:
        self.side = side
        self.recorder = recorder
        self.client = QMPClient(f"migmodel-{side}")
        self.client.register_listener(_TapListener(side, recorder))

    async def connect(self, path: Path, timeout: float, alive: Callable[[], bool]) -> None:
        """Connect to QEMU's QMP unix socket, retrying until it is there (or QEMU died)."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if not alive():
                raise QMPError(f"{self.side} QEMU exited before its QMP socket was ready")
            if path.exists():
                try:
                    await asyncio.wait_for(self.client.connect(str(path)), timeout=5)
                    return
                except Exception as exc:
                    last = exc
            await asyncio.sleep(0.02)
        raise QMPError(f"{self.side}: cannot connect to QMP at {path}: {last}")

    async def execute(
        self,
        command: str,
        arguments: dict[str, Any] | None = None,
        *,
        timeout: float = 10.0,
        record: bool = True,
    ) -> tuple[bool, Any]:
        """Run a QMP command. Returns (True, return value) or (False, {"class", "desc"}).

        The command and its outcome are recorded as one trace line (added when the reply
        arrives). A lost connection or a timeout is recorded as an error of class
        ``HarnessError`` and returned as (False, ...), never raised, because scenarios kill QEMU
        processes on purpose.
        """
        line: Line = {"side": self.side, "command": command}
        if arguments:
            line["arguments"] = arguments
        line["t_sent"] = self.recorder.now()
        ok = False
        result: Any
        try:
            ret = await asyncio.wait_for(self.client.execute(command, arguments), timeout)
            ok, result = True, ret
            line["return"] = ret
        except ExecuteError as exc:
            result = {"class": exc.error_class, "desc": str(exc)}
            line["error"] = result
        except TimeoutError:
            result = {"class": "HarnessError", "desc": f"no reply within {timeout} s"}
            line["error"] = result
        except Exception as exc:  # connection lost (process killed) and similar
            result = {"class": "HarnessError", "desc": f"{type(exc).__name__}: {exc}"}
            line["error"] = result
        if record:
            self.recorder.add(line)
        return ok, result

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.disconnect(), timeout=2)
