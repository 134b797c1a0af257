#!/usr/bin/env python3
"""``QTEST_QEMU_BINARY`` wrapper: record each QEMU that QEMU's ``migration-test`` starts.

``migration-test`` starts its QEMUs as ``sh -c "exec $QTEST_QEMU_BINARY ARGS"`` and names them
``-name source,...`` and ``-name target,...``. For such an instance, when ``MIGMODEL_QTEST_DIR``
is set, this wrapper adds QEMU's own tracing to the command line::

    -msg timestamp=on -D DIR/<side>-<pid>.log
    -trace enable=migrate_set_state -trace enable=handle_qmp_command -trace enable=monitor_qmp_respond

(every QMP request and every QMP response or event as QEMU handled it, with a UTC timestamp from
the same clock on both sides), runs QEMU as its child, forwards every signal it gets to it, and
writes ``DIR/<side>-<pid>.json`` with the arguments, start and end times, the signals forwarded
(the test's ``qtest_quit`` sends SIGTERM: the start of the teardown) and the exit status. It then
ends with the child's status (exit code, or the same signal), so the test sees what it would have
seen without the wrapper. Any other invocation (``-machine help``, ``--version`` probes) and every
invocation without ``MIGMODEL_QTEST_DIR`` runs the real QEMU directly (``exec``).

``MIGMODEL_QTEST_QEMU`` is the real QEMU (default: ``harness/qemu-10.2`` next to this file).
``harness/qtest_trace.py`` merges the two sides into one trace. Standard library only: the test
runs it with the system Python.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

TRACE_EVENTS = ("migrate_set_state", "handle_qmp_command", "monitor_qmp_respond")
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
SIDES = {"source": "src", "target": "dst"}


def side_of(argv: list[str]) -> str | None:
    """``src`` for ``-name source[,...]``, ``dst`` for ``-name target[,...]``, else None."""
    for i, arg in enumerate(argv[:-1]):
        if arg in ("-name", "--name"):
            name = argv[i + 1].split(",")[0]
            if name.startswith("guest="):
                name = name[len("guest="):]
            return SIDES.get(name)
    return None


def traced_args(log: Path) -> list[str]:
    """The options that make QEMU log the trace events the converter reads."""
    args = ["-msg", "timestamp=on", "-D", str(log)]
    for event in TRACE_EVENTS:
        args += ["-trace", f"enable={event}"]
    return args


def _die_with_parent() -> None:
    """The child gets SIGKILL if the wrapper dies (e.g. is SIGKILLed itself): no orphan QEMU."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    real = os.environ.get("MIGMODEL_QTEST_QEMU") or str(here / "qemu-10.2")
    out_dir = os.environ.get("MIGMODEL_QTEST_DIR")
    side = side_of(argv)
    if not out_dir or side is None:
        os.execv(real, [real, *argv])
    prefix = Path(out_dir) / f"{side}-{os.getpid()}"
    record: dict[str, object] = {"side": side, "pid": os.getpid(), "qemu": real, "argv": argv,
                                 "log": str(prefix) + ".log", "start": time.time(), "signals": []}
    signals: list[dict[str, float | int]] = []
    record["signals"] = signals
    child = subprocess.Popen([real, *argv, *traced_args(Path(str(prefix) + ".log"))],
                             preexec_fn=_die_with_parent)

    def forward(signum: int, _frame: FrameType | None) -> None:
        signals.append({"signal": signum, "t": time.time()})
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    for sig in FORWARDED:
        signal.signal(sig, forward)
    while True:
        try:
            rc = child.wait()
            break
        except InterruptedError:  # pragma: no cover (PEP 475 retries)
            continue
    record["end"] = time.time()
    record["exit"] = rc
    tmp = Path(str(prefix) + ".json.tmp")
    tmp.write_text(json.dumps(record) + "\n")
    os.replace(tmp, Path(str(prefix) + ".json"))
    if rc < 0:
        signal.signal(-rc, signal.SIG_DFL)
        os.kill(os.getpid(), -rc)
        return 128 - rc
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
