"""Replay the shortest counterexample of every violated cell that can be replayed here.

Usage::

    python -m harness.replay_all --out-dir tests/fixtures/traces/replayed [--gaps-dir DIR]
                                 [--divergences-dir DIR] [--config NAME ...] [--hang-s 8]

For each (configuration, property) that ``migmodel verify`` finds violated with a counterexample,
and that :func:`properties.replayed.why_not_replayable` does not rule out, it runs
``migmodel replay`` once (again once more if a step's state never showed, the machine being
shared) and writes the trace as ``OUT/<config>.<property>.jsonl`` when ``conform`` accepts it
and every step showed (whether or not the violation showed: both are findings); into
``--divergences-dir`` when ``conform`` accepts it but a step's state never showed (the window was
missed: the verdict says nothing about the finding; docs/replay-gaps.md); else into
``--gaps-dir`` (a model gap to look at). One line per cell on stdout; exit 0.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from harness.replay import NotMappable, ReplayUsage, counterexample_lines, plan_from_steps, run_plan


def violated_cells(configs: list[str] | None) -> list[tuple[str, str]]:
    from checker.cli import load_suite
    from checker.verify import run_config, select

    suite = load_suite()
    chosen, props = select(suite, configs, None)
    out = []
    for name, config in chosen.items():
        r = run_config(suite, name, config, props)
        out += [(name, v.property.name) for v in r.verdicts if not v.holds and v.counterexample is not None]
    return out


def main(argv: list[str]) -> int:
    from harness.record import install_signal_handlers
    from model.config import NAMED
    from properties.replayed import why_not_replayable

    install_signal_handlers()  # SIGTERM / SIGHUP become KeyboardInterrupt: every QEMU is killed
    p = argparse.ArgumentParser(prog="python -m harness.replay_all")
    p.add_argument("--out-dir", type=Path, required=True)
    p.add_argument("--gaps-dir", type=Path)
    p.add_argument("--divergences-dir", type=Path)
    p.add_argument("--config", action="append")
    p.add_argument("--hang-s", type=float, default=8.0)
    p.add_argument("--skip-existing", action="store_true", help="skip cells already in --out-dir")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for config, prop in violated_cells(args.config):
            if args.skip_existing and (args.out_dir / f"{config}.{prop}.jsonl").exists():
                continue
            reason = why_not_replayable(NAMED[config], prop)
            if reason:
                print(f"{config} / {prop}: not replayed: {reason}", flush=True)
                continue
            try:
                plan = plan_from_steps(config, prop, counterexample_lines(config, prop))
                trace = Path(tmp) / f"{config}.{prop}.jsonl"
                res = run_plan(plan, trace, name=f"replay-{prop}", hang_s=args.hang_s)
                if res.divergence is not None:
                    res = run_plan(plan, trace, name=f"replay-{prop}", hang_s=args.hang_s)
            except (NotMappable, ReplayUsage) as e:
                print(f"{config} / {prop}: not mappable: {e}", flush=True)
                continue
            if res.accepted and res.divergence is None:
                where = args.out_dir
            elif res.accepted:
                where = args.divergences_dir
            else:
                where = args.gaps_dir
            if where is not None:
                where.mkdir(parents=True, exist_ok=True)
                shutil.copy(trace, where / trace.name)
            print(f"{config} / {prop}: {res.result}; real QEMU {'violated' if res.observed else 'not violated'}"
                  f" ({res.why}); divergence {res.divergence}; {res.conform.splitlines()[0] if res.conform else ''}"
                  f" -> {where}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
