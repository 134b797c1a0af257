"""Benchmark: the default verification matrix, distinct states/s, and growth with the fault budget.

Not a test: it prints numbers. ``python benchmarks/bench_verify.py [--budgets 2 4 8 16] [--configs ...]
[--repeat 3]``. The search is timed alone (``explore``: the compact search, ``checker/compact.py``)
and, for comparison, the plain search through ``Model.successors`` (``explore(compact=False)``).
Each search runs ``--repeat`` times; the best time is reported (as ``timeit`` does: the others
measure the machine's other work), and the first run's time too.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from checker.analysis import check
from checker.explore import Exploration, explore
from model import config as C
from model.system import MigrationModel
from properties.qemu import PROPERTIES


def timed(model: MigrationModel, repeat: int, compact: bool = True) -> tuple[Exploration, float, float]:
    """(exploration, first run's seconds, best run's seconds)."""
    times = []
    ex = None
    for _ in range(repeat):
        t = time.perf_counter()
        ex = explore(model, compact=compact)
        times.append(time.perf_counter() - t)
    assert ex is not None
    return ex, times[0], min(times)


def budget(base: C.Config, b: int) -> C.Config:
    """Every fault kind allowed up to ``b`` times, ``b`` faults in all."""
    faults = C.Faults(link_cut=b, dst_crash=b, src_crash=b, device_load_failure=b, disk_failure=b, total=b)
    return dataclasses.replace(base, name=f"{base.name}-budget-{b}", faults=faults)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budgets", type=int, nargs="*", default=[2, 4, 8, 16])
    ap.add_argument("--configs", nargs="*", default=["qemu-7.2", "qemu-11.1"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--plain-up-to", type=int, default=8, help="also time the plain search up to this budget")
    args = ap.parse_args()

    print("default matrix (explore + check every property):")
    t0 = time.perf_counter()
    total = 0
    for name, cfg in C.NAMED.items():
        t = time.perf_counter()
        ex = explore(MigrationModel(cfg))
        t_explore = time.perf_counter() - t
        check(ex, PROPERTIES)
        dt = time.perf_counter() - t
        total += ex.state_count
        print(f"  {name:34s} {ex.state_count:8,d} states {ex.edge_count:9,d} edges "
              f"search {t_explore:5.2f}s   total {dt:6.2f}s")
    wall = time.perf_counter() - t0
    print(f"  whole matrix: {total:,} states in {wall:.2f}s")

    print(f"\ngrowth with the fault budget (best of {args.repeat} runs; first run in brackets):")
    print(f"  {'configuration':28s} {'states':>9s} {'edges':>10s} {'depth':>5s} "
          f"{'compact search':>26s} {'misses/state':>12s} {'plain search':>14s}")
    for name in args.configs:
        for b in args.budgets:
            model = MigrationModel(budget(C.NAMED[name], b))
            ex, first, best = timed(model, args.repeat)
            plain = ""
            if b <= args.plain_up_to:
                px, _, pbest = timed(model, 1, compact=False)
                assert px.fingerprint() == ex.fingerprint()
                plain = f"{px.state_count / pbest:9,.0f}/s"
            print(f"  {model.config.name:28s} {ex.state_count:9,d} {ex.edge_count:10,d} {ex.max_depth:5d} "
                  f"{ex.state_count / best:9,.0f}/s [{ex.state_count / first:9,.0f}/s] "
                  f"{ex.memo_misses / ex.state_count:12.3f} {plain:>14s}", flush=True)
            t = time.perf_counter()
            check(ex, PROPERTIES)
            print(f"  {'':28s} checking all {len(PROPERTIES)} properties: {time.perf_counter() - t:.2f}s")


if __name__ == "__main__":
    main()
