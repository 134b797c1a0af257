"""Benchmark: the default verification matrix as ``migmodel verify`` runs it, and its growth with
the fault budget.

Not a test: it prints numbers. ``python benchmarks/bench_verify.py [--budgets 1 2 3] [--configs ...]
[--repeat 5] [--jobs N]``. The matrix runs through ``checker.verify.run_configs`` (configurations in
parallel worker processes, one per core) as ``migmodel verify --quiet`` runs it, ``--repeat``
times; the minimum and the median wall time are reported, with the CPU seconds of all processes
and the load average before and after (the machine may be shared: the minimum is the best
estimate of the tool's own cost, the median of what a user waits). The growth table gives, per
configuration and per fault budget (``b`` faults per run, any mix of the default kinds), the
states and the CPU seconds of the search and every property in one process.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import statistics
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


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the worker processes)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budgets", type=int, nargs="*", default=[1, 2, 3])
    ap.add_argument("--configs", nargs="*", default=list(C.NAMED), help="for the growth table")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=None, help="worker processes for the matrix (default: cores)")
    args = ap.parse_args()

    suite = load_suite()
    configs, props = V.select(suite, None, None)
    jobs = V.jobs_wanted(len(configs)) if args.jobs is None else args.jobs
    print(f"default matrix, as `migmodel verify --quiet` runs it ({jobs} worker processes, {os.cpu_count()} cores; "
          f"{args.repeat} runs):")
    walls, cpus = [], []
    load_before = os.getloadavg()[0]
    for _ in range(args.repeat):
        t = time.perf_counter()
        c = _cpu()
        results = list(V.run_configs(suite, configs, props, jobs=args.jobs, fingerprints=False))
        V.manifest_of({r.name: V.result_to_json(r, fingerprint=False) for r in results})
        walls.append(time.perf_counter() - t)
        cpus.append(_cpu() - c)
    states = sum(r.exploration.state_count for r in results)
    print(f"  {len(results)} configurations, {states:,} states, {len(props)} properties: wall min {min(walls):.2f}s, "
          f"median {statistics.median(walls):.2f}s (runs: {', '.join(f'{w:.1f}' for w in walls)}); "
          f"CPU min {min(cpus):.2f}s, median {statistics.median(cpus):.2f}s; "
          f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")

    print("\ngrowth with the fault budget (one process; search + every property, CPU seconds):")
    print(f"  {'configuration':34s} " + " ".join(f"{'budget ' + str(b):>26s}" for b in args.budgets))
    totals: dict[int, tuple[int, float]] = {}
    for name in args.configs:
        cells = []
        for b in args.budgets:
            model = MigrationModel(budget(C.NAMED[name], b))
            t = time.process_time()
            ex = explore(model)
            check(ex, PROPERTIES)
            cells.append(f"{ex.state_count:9,d} states {time.process_time() - t:6.2f}s")
            totals[b] = (totals.get(b, (0, 0.0))[0] + ex.state_count,
                         totals.get(b, (0, 0.0))[1] + time.process_time() - t)
        print(f"  {name:34s} " + " ".join(f"{c:>26s}" for c in cells), flush=True)
    print(f"  {'all':34s} " + " ".join(f"{totals[b][0]:9,d} states {totals[b][1]:6.2f}s" for b in args.budgets))
    print(f"  load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
