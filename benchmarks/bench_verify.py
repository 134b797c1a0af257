"""Benchmark: the default verification matrix as ``migmodel verify`` runs it, and its growth with
the fault budget.

Not a test: it prints numbers. ``python benchmarks/bench_verify.py [--budgets 1 2 3] [--configs ...]
[--repeat 3] [--jobs N]``. The matrix runs through ``checker.verify.run_configs`` (configurations in
parallel worker processes, one per core), ``--repeat`` times; the best wall time is reported (as
``timeit`` does: the others measure the machine's other work), and the first run's too. The growth
table gives, per configuration and per fault budget (``b`` faults per run, any mix of the default
kinds), the states and the CPU seconds of the search and every property in one process.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from checker import verify as V
from checker.analysis import check
from checker.cli import load_suite
from checker.explore import explore
from model import config as C
from model.system import MigrationModel
from properties.qemu import PROPERTIES


def budget(base: C.Config, b: int) -> C.Config:
    """``b`` faults per run, any mix of the default kinds (``model/faults.py``)."""
    return dataclasses.replace(base, name=f"{base.name}-budget-{b}", faults=C.Faults(total=b))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budgets", type=int, nargs="*", default=[1, 2, 3])
    ap.add_argument("--configs", nargs="*", default=list(C.NAMED), help="for the growth table")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=None, help="worker processes for the matrix (default: cores)")
    args = ap.parse_args()

    suite = load_suite()
    configs, props = V.select(suite, None, None)
    jobs = V.jobs_wanted(len(configs)) if args.jobs is None else args.jobs
    print(f"default matrix, as `migmodel verify` runs it ({jobs} worker processes; best of {args.repeat}, "
          "first run in brackets):")
    walls = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        results = list(V.run_configs(suite, configs, props, jobs=args.jobs))
        V.manifest_of({r.name: V.result_to_json(r) for r in results})
        walls.append(time.perf_counter() - t)
    states = sum(r.exploration.state_count for r in results)
    print(f"  {len(results)} configurations, {states:,} states, {len(props)} properties: "
          f"{min(walls):.2f}s [{walls[0]:.2f}s]")

    print("\ngrowth with the fault budget (one process; search + every property, CPU seconds):")
    print(f"  {'configuration':34s} " + " ".join(f"{'budget ' + str(b):>26s}" for b in args.budgets))
    for name in args.configs:
        cells = []
        for b in args.budgets:
            model = MigrationModel(budget(C.NAMED[name], b))
            t = time.process_time()
            ex = explore(model)
            check(ex, PROPERTIES)
            cells.append(f"{ex.state_count:9,d} states {time.process_time() - t:6.2f}s")
        print(f"  {name:34s} " + " ".join(f"{c:>26s}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
