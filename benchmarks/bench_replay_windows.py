"""How often each replayed window is hit on real QEMU: N runs of every replay, counted.

Usage: ``.venv/bin/python benchmarks/bench_replay_windows.py [--runs 10] [--only NAME ...]``
(root, QEMU 7.2 and 11.1 installed by ``harness/setup-qemu.sh``; 10.2 if built).

For each run it counts: the window hit (every step's state and effect showed, no divergence), the
violation observed on the recording, and the trace accepted by ``migmodel conform --config``.
Prints one line per replay and a JSON summary at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from harness.replay import WINDOWS, NotMappable, Plan, counterexample_lines, plan_from_steps, run_plan

#: The replays kept as fixtures (tests/fixtures/traces/replayed): name -> how to make the plan.
REPLAYS: dict[str, tuple[str, str] | str] = {
    "cancel-waiting-for-shut": ("qemu-11.1", "no-split-brain"),
    "pong-then-dst-dies": ("qemu-11.1-busy-guest", "no-vm-loss"),
    "pause-before-run": ("qemu-11.1", "fault-free-runs-finish"),
    "devload-nothing-pending": ("qemu-11.1", "no-stuck-state"),
    "partition-then-reset": "partition-then-reset",
    "partition-then-dst-kill": "partition-then-dst-kill",
    "pong-wait-10.2": "pong-wait-10.2",
}


def plan_for(name: str) -> Plan:
    spec = REPLAYS[name]
    if isinstance(spec, str):
        return WINDOWS[spec]()
    config, prop = spec
    return plan_from_steps(config, prop, counterexample_lines(config, prop))


def main(argv: list[str]) -> int:
    from harness.record import install_signal_handlers

    install_signal_handlers()  # SIGTERM / SIGHUP become KeyboardInterrupt: every QEMU is killed
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--only", nargs="*", default=None)
    args = p.parse_args(argv)
    summary: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or list(REPLAYS):
            try:
                plan = plan_for(name)
                hit = observed = accepted = 0
                walls: list[float] = []
                for i in range(args.runs):
                    res = run_plan(plan, Path(tmp) / f"{name}-{i}.jsonl", name=f"bench-{name}")
                    hit += res.divergence is None
                    observed += res.observed
                    accepted += res.accepted
                    walls.append(res.wall_s)
            except NotMappable as e:
                print(f"{name}: not mappable: {e}", flush=True)
                summary[name] = {"not_mappable": str(e)}
                continue
            row = {"runs": args.runs, "window_hit": hit, "violation_observed": observed,
                   "conform_accepted": accepted, "median_wall_s": round(statistics.median(walls), 2)}
            summary[name] = row
            print(f"{name}: {row}", flush=True)
    print(json.dumps({"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "replays": summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
