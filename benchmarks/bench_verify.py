"""Benchmark: the default verification matrix, distinct states/s, and growth with the fault budget.

Not a test: it prints numbers. Run ``python benchmarks/bench_verify.py`` (add ``--budgets 1 2 3``).
The search is measured alone (``explore``) and with the judging of every property (``check``).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from checker.analysis import check
from checker.explore import explore
from model import config as C
from model.system import MigrationModel
from properties.qemu import PROPERTIES


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budgets", type=int, nargs="*", default=[1, 2, 3])
    ap.add_argument("--config", default="qemu-11.1")
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
              f"search {ex.state_count / t_explore:9,.0f} states/s   total {dt:6.2f}s")
    wall = time.perf_counter() - t0
    print(f"  whole matrix: {total:,} states in {wall:.2f}s ({total / wall:,.0f} states/s overall)")

    print(f"\ngrowth with the fault budget ({args.config}, every fault kind allowed up to the total):")
    base = C.NAMED[args.config]
    for b in args.budgets:
        faults = C.Faults(link_cut=b, dst_crash=b, src_crash=b, device_load_failure=1, disk_failure=b, total=b)
        cfg = dataclasses.replace(base, name=f"{base.name}-budget-{b}", faults=faults)
        t = time.perf_counter()
        ex = explore(MigrationModel(cfg))
        dt = time.perf_counter() - t
        t2 = time.perf_counter()
        check(ex, PROPERTIES)
        dc = time.perf_counter() - t2
        print(f"  total budget {b}: {ex.state_count:9,d} states {ex.edge_count:10,d} edges depth {ex.max_depth:3d} "
              f"search {dt:6.2f}s = {ex.state_count / dt:9,.0f} distinct states/s; check {dc:5.2f}s")
    big = C.Faults(link_cut=2, dst_crash=2, src_crash=2, device_load_failure=1, disk_failure=2, total=4)
    explorer_floor(dataclasses.replace(base, name=f"{base.name}-budget-4", faults=big))


def explorer_floor(config: C.Config) -> None:
    """How fast the generic explorer is on this model's states when successors cost nothing
    (precomputed): the ceiling any faster successor function could reach."""
    model = MigrationModel(config)
    t = time.perf_counter()
    ex = explore(model)
    real = ex.state_count / (time.perf_counter() - t)
    table = {w: model.successors(w) for w in ex.states}

    class Precomputed:
        def init_states(self) -> list[object]:
            return model.init_states()

        def successors(self, w: object) -> object:
            return table[w]

        def is_final(self, w: object) -> bool:
            return False

    t = time.perf_counter()
    ex2 = explore(Precomputed())  # type: ignore[arg-type]
    floor = ex2.state_count / (time.perf_counter() - t)
    print(f"\nexplorer alone on {config.name} ({ex.state_count:,} states, {ex.edge_count / ex.state_count:.1f} "
          f"edges/state): {real:,.0f} states/s with the model, {floor:,.0f} states/s with successors precomputed")


if __name__ == "__main__":
    main()
