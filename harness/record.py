"""``migmodel record``: record one scenario against two real QEMU binaries.

Usage::

    record --scenario NAME --src-qemu PATH --dst-qemu PATH --out FILE [--timeout S] [--run-dir DIR]

Exit codes: 0 trace written; 1 the run failed or timed out (a trace is still written when the
scenario started, with a ``{"side": "harness", "error": ...}`` line); 2 usage error (unknown
scenario, missing or broken binary); 3 the scenario does not apply to this pairing (e.g. a3
with a 7.2 source); 130 interrupted.

``PATH`` is a QEMU binary, e.g. ``qemu-system-x86_64`` (7.2 from the host),
``harness/qemu-11.1`` (11.1 from the chroot that ``harness/setup-qemu.sh`` builds) or
``harness/qemu-10.2`` (10.2.2 built from source by ``harness/setup-qemu.sh --with-10.2``).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from types import FrameType

from harness.record_cmd import add_arguments

try:
    from harness.scenarios import (
        CATALOGUE,
        DEFAULT_RUN_DIR,
        BinaryError,
        QemuBinary,
        RunResult,
        Scenario,
        kill_leftovers,
        probe_binary,
        run_scenario,
    )
except ImportError as _exc:  # qemu.qmp missing: report it in main() as a usage error
    _IMPORT_ERROR: ImportError | None = _exc
else:
    _IMPORT_ERROR = None

PROG = "migmodel record"


class _Usage(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _Usage(message)


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    p = _Parser(prog=prog, description="Record a real QEMU migration scenario as a JSON Lines trace.")
    add_arguments(p)
    return p


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def list_scenarios() -> int:
    """Print the scenarios, one per line; 2 if the harness cannot load."""
    if _IMPORT_ERROR is not None:
        _error(f"cannot load the harness ({_IMPORT_ERROR}); pip install qemu.qmp")
        return 2
    for name, sc in CATALOGUE.items():
        print(f"{name:40s} {sc.summary}")
    return 0


def _sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def install_signal_handlers() -> None:
    """SIGINT, SIGTERM and SIGHUP all raise KeyboardInterrupt, so that every QEMU started is
    quit or killed (SIGINT explicitly too: a shell starts background jobs with it ignored)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _sigterm)


def record_one(
    scenario: str, src: QemuBinary, dst: QemuBinary, out: Path, timeout: float, run_dir: Path
) -> RunResult:
    """Run one scenario and write its trace to ``out`` atomically."""
    try:
        result = asyncio.run(run_scenario(CATALOGUE[scenario], src, dst, timeout=timeout, run_root=run_dir))
    finally:
        kill_leftovers()
    result.recorder.write(out)
    return result


def record_repeatedly(prog: str, description: str, scenario: Scenario, argv: list[str]) -> int:
    """The command line of a one-off experiment outside the catalogue (``harness/recover_window.py``,
    ``harness/cancel_before_connect.py``): ``--src-qemu --dst-qemu --out-dir [--runs] [--timeout]
    [--run-dir]``; each run's trace goes to ``OUT/<src>-to-<dst>/<scenario>.run<i>.jsonl`` with a
    one-line summary. Exit 0 every run recorded, 1 a run failed or timed out (its trace is still
    written), 2 a missing binary, 130 interrupted."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--src-qemu", required=True)
    p.add_argument("--dst-qemu", required=True)
    p.add_argument("--out-dir", type=Path, required=True)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR)
    args = p.parse_args(argv)
    name = prog.split()[-1].rsplit(".", 1)[-1]
    try:
        src, dst = probe_binary(args.src_qemu), probe_binary(args.dst_qemu)
    except BinaryError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 2
    install_signal_handlers()
    out_dir = args.out_dir / f"{src.short}-to-{dst.short}"
    out_dir.mkdir(parents=True, exist_ok=True)
    rc = 0
    try:
        for i in range(1, args.runs + 1):
            try:
                result = asyncio.run(run_scenario(scenario, src, dst, timeout=args.timeout, run_root=args.run_dir))
            finally:
                kill_leftovers()
            out = out_dir / f"{scenario.name}.run{i}.jsonl"
            result.recorder.write(out)
            tr = result.recorder
            summary = {side: tr.migration_statuses(side) for side in ("src", "dst")}
            exits = {str(ln["side"]): ln["exit"] for ln in tr.lines if "exit" in ln and not ln.get("teardown")}
            print(f"run {i}: ok={result.ok} {result.wall_s:.1f} s src={summary['src']} "
                  f"dst={summary['dst']} exits={exits} -> {out}")
            if not result.ok:
                rc = 1
    except KeyboardInterrupt:
        print(f"{name}: interrupted; QEMU processes killed", file=sys.stderr)
        return 130
    return rc


def main(argv: list[str]) -> int:
    """``record --scenario NAME --src-qemu PATH --dst-qemu PATH --out FILE [--timeout S]``."""
    if argv and argv[0] == "list":
        return list_scenarios()
    try:
        args = build_parser().parse_args(argv)
    except _Usage as exc:
        _error(str(exc))
        return 2
    return run(args)


def run(args: argparse.Namespace) -> int:
    """Record the scenario ``args`` name (parsed by ``harness.record_cmd.add_arguments``)."""
    if _IMPORT_ERROR is not None:
        _error(f"cannot load the harness ({_IMPORT_ERROR}); pip install qemu.qmp")
        return 2
    if args.scenario not in CATALOGUE:
        _error(f"unknown scenario {args.scenario!r} (known: {', '.join(CATALOGUE)})")
        return 2
    try:
        src = probe_binary(args.src_qemu)
        dst = probe_binary(args.dst_qemu)
    except BinaryError as exc:
        _error(str(exc))
        return 2
    reason = CATALOGUE[args.scenario].applicable(src, dst)
    if reason:
        _error(f"not applicable: {reason}")
        return 3
    install_signal_handlers()
    try:
        result = record_one(args.scenario, src, dst, args.out, args.timeout, args.run_dir)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; QEMU processes killed", file=sys.stderr)
        return 130
    if not result.ok:
        _error(f"{args.scenario}: {result.message} (trace written to {args.out})")
        return 1
    print(f"{args.scenario}: {src.version} -> {dst.version}: {result.wall_s:.1f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
