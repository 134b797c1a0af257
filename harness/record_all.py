"""Record the whole scenario catalogue for one source/destination pairing into a directory.

Usage::

    python -m harness.record_all --src-qemu PATH --dst-qemu PATH --out-dir DIR
        [--scenario NAME ...] [--timeout S] [--retries N] [--stall-s S]

Each trace goes to ``DIR/<src>-to-<dst>/<scenario>.jsonl`` (e.g. ``11.1-to-7.2``). Scenarios that
do not apply to the pairing (a3 needs a source with postcopy-device, d3 a destination with
``exit-on-error``) are skipped. A run that timed out, or whose wall time exceeds ``--stall-s``
(a host stall: real-qemu.md saw the source's QMP go silent for 110 s once), is re-run up to
``--retries`` times; the last attempt is kept either way and reported.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from harness.record import install_signal_handlers, record_one
from harness.scenarios import CATALOGUE, DEFAULT_RUN_DIR, BinaryError, QemuBinary, probe_binary


@dataclass
class Outcome:
    scenario: str
    status: str  # "ok", "skipped", "failed"
    wall_s: float
    attempts: int
    detail: str = ""


def pairing_name(src: QemuBinary, dst: QemuBinary) -> str:
    return f"{src.short}-to-{dst.short}"


def record_pairing(
    src: QemuBinary,
    dst: QemuBinary,
    out_dir: Path,
    *,
    scenarios: list[str] | None = None,
    timeout: float = 60.0,
    retries: int = 2,
    stall_s: float = 20.0,
    run_dir: Path = DEFAULT_RUN_DIR,
    log: bool = True,
) -> list[Outcome]:
    """Record ``scenarios`` (default: the whole catalogue) for one pairing."""
    target = out_dir / pairing_name(src, dst)
    outcomes: list[Outcome] = []
    for name in scenarios or list(CATALOGUE):
        sc = CATALOGUE[name]
        reason = sc.applicable(src, dst)
        if reason:
            outcomes.append(Outcome(name, "skipped", 0.0, 0, reason))
            if log:
                print(f"  {name:42s} skipped ({reason})", flush=True)
            continue
        attempt = 0
        while True:
            attempt += 1
            result = record_one(name, src, dst, target / f"{name}.jsonl", timeout, run_dir)
            stalled = result.wall_s > stall_s
            if result.ok and not stalled:
                outcome = Outcome(name, "ok", result.wall_s, attempt)
                break
            detail = result.message or f"wall time {result.wall_s:.1f} s > {stall_s} s (stall?)"
            if attempt > retries:
                outcome = Outcome(name, "failed", result.wall_s, attempt, detail)
                break
            if log:
                print(f"  {name:42s} attempt {attempt}: {detail}; retrying", flush=True)
        outcomes.append(outcome)
        if log:
            src_seq = " ".join(result.recorder.migration_statuses("src"))
            dst_seq = " ".join(result.recorder.migration_statuses("dst"))
            print(f"  {name:42s} {outcome.status} {outcome.wall_s:5.1f} s  src: {src_seq} | dst: {dst_seq}",
                  flush=True)
    return outcomes


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="record_all", description=__doc__.splitlines()[0])
    p.add_argument("--src-qemu", required=True)
    p.add_argument("--dst-qemu", required=True)
    p.add_argument("--out-dir", required=True, type=Path)
    p.add_argument("--scenario", action="append", dest="scenarios", choices=list(CATALOGUE))
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--retries", type=int, default=2)
    p.add_argument("--stall-s", type=float, default=20.0)
    p.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR)
    args = p.parse_args(argv)
    try:
        src = probe_binary(args.src_qemu)
        dst = probe_binary(args.dst_qemu)
    except BinaryError as exc:
        print(f"record_all: {exc}", file=sys.stderr)
        return 2
    install_signal_handlers()
    print(f"pairing {pairing_name(src, dst)} ({src.version} -> {dst.version})", flush=True)
    t0 = time.monotonic()
    try:
        outcomes = record_pairing(
            src, dst, args.out_dir, scenarios=args.scenarios, timeout=args.timeout,
            retries=args.retries, stall_s=args.stall_s, run_dir=args.run_dir,
        )
    except KeyboardInterrupt:
        print("record_all: interrupted; QEMU processes killed", file=sys.stderr)
        return 130
    failed = [o for o in outcomes if o.status == "failed"]
    n_ok = sum(o.status == "ok" for o in outcomes)
    n_skipped = sum(o.status == "skipped" for o in outcomes)
    print(f"pairing {pairing_name(src, dst)}: {n_ok} ok, {len(failed)} failed, {n_skipped} skipped "
          f"in {time.monotonic() - t0:.1f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
