"""Time for ``fuzz`` to find each known violation, and how close its shrunk counterexample is to the
breadth-first shortest one.

    .venv/bin/python benchmarks/bench_fuzz.py [SEEDS] [MAX_EXAMPLES] [STEPS] [JOBS] [PROPERTY|all] [CONFIG,...]

A *cell* is a (configuration, property) pair; PROPERTY defaults to source-resumable-before-pong (the
headline claim), ``all`` takes every property the fuzz can falsify; CONFIG (comma-separated)
defaults to every named configuration. One row per cell where ``migmodel verify`` finds the property
violated: seeds that found it, the BFS length, the shrunk lengths, the time to the first failing run
(before shrinking; median/max over the seeds that found it) in CPU seconds of the worker
(``FuzzResult.cpu_seconds_to_find``, which other jobs on a loaded machine do not inflate) and in
wall seconds, the runs (Hypothesis examples) up to and including it (median/max),
``FuzzResult.steps_per_second`` (actions taken over the whole call's wall time, alphabet search and
shrinking included; mean over the seeds), and the longest call's wall time. Then one row per cell
where the property holds: seeds that (wrongly) found something. The last column says whether the bar
is met: found in every seed, every shrunk length equal to the BFS length, median CPU time to find <=
5 s (and nothing found where the property holds); a miss names what failed. The last line counts the
cells that meet it. Seeds run in ``JOBS`` worker processes (default 2). Defaults: 10 seeds, 300
examples, 60 steps (``migmodel fuzz``'s defaults).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from multiprocessing import Pool

from checker.analysis import check
from checker.cli import load_suite
from checker.explore import explore
from checker.fuzz import fuzz
from checker.kinds import falsifiable

PROP = "source-resumable-before-pong"
FIND_SECONDS = 5.0

Row = tuple[str, str, int, int | None, float | None, float, int | None, float, float | None]


def _one(job: tuple[str, str, int, int, int]) -> Row:
    name, prop_name, seed, examples, steps = job
    suite = load_suite()
    prop = {p.name: p for p in suite.properties()}[prop_name]
    r = fuzz(suite.build(suite.configs()[name]), [prop], max_examples=examples, steps=steps, seed=seed)
    length = len(r.counterexample) - 1 if r.counterexample else None
    return (name, prop_name, seed, length, r.seconds_to_find, r.seconds, r.examples_to_find, r.steps_per_second,
            r.cpu_seconds_to_find)


def main() -> None:
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    examples = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 60
    jobs = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    which = sys.argv[5] if len(sys.argv) > 5 else PROP
    suite = load_suite()
    props = [p for p in suite.properties() if falsifiable(p.kind) and (which == "all" or p.name == which)]
    if not props:
        sys.exit(f"bench_fuzz: no falsifiable property {which!r}")
    names = sys.argv[6].split(",") if len(sys.argv) > 6 else list(suite.configs())
    bfs: dict[tuple[str, str], int | None] = {}
    for name in names:
        judged = check(explore(suite.build(suite.configs()[name])), props)
        for prop, verdict in zip(props, judged, strict=True):
            bfs[name, prop.name] = None if verdict.holds else len(verdict.counterexample or []) - 1
    load = _load()
    started = time.perf_counter()
    with Pool(jobs) as pool:
        rows = pool.map(_one, [(n, p, s, examples, steps) for (n, p) in bfs for s in range(seeds)], chunksize=1)
    wall = time.perf_counter() - started
    print(f"{seeds} seeds, max_examples {examples}, steps {steps}, {jobs} workers, {len(bfs)} cells, "
          f"{wall:.0f} s wall, load average (1/5/15 min) before {load}, after {_load()}")
    print(f"{'configuration':34} {'property':34} {'found':>6} {'bfs':>4} {'shrunk lengths':>30} "
          f"{'cpu s to find':>13} {'wall s to find':>14} {'runs to find':>12} {'steps/s':>8} {'total s':>8}  bar")
    met = 0
    for (name, prop_name), shortest in bfs.items():
        mine = [r for r in rows if r[0] == name and r[1] == prop_name]
        lengths = [r[3] for r in mine if r[3] is not None]
        walls = sorted(r[4] for r in mine if r[4] is not None)
        finds = sorted(r[8] for r in mine if r[8] is not None)
        runs = sorted(r[6] for r in mine if r[6] is not None)
        speed = statistics.mean(r[7] for r in mine)
        total = max(r[5] for r in mine)
        head = f"{name:34} {prop_name:34} {len(lengths):>3}/{seeds:<2}"
        if shortest is None:
            ok = not lengths
            met += ok
            mark = "met (holds)" if ok else "MISSED (found a violation that does not exist)"
            print(f"{head} {'-':>4} {'-':>30} {'-':>13} {'-':>14} {'-':>12} {speed:>8.0f} {total:>8.1f}  {mark}",
                  flush=True)
            continue
        find = f"{statistics.median(finds):.2f}/{finds[-1]:.2f}" if finds else "-"
        wall_find = f"{statistics.median(walls):.2f}/{walls[-1]:.2f}" if walls else "-"
        run = f"{runs[len(runs) // 2]}/{runs[-1]}" if runs else "-"
        misses = []
        if len(lengths) < seeds:
            misses.append("found")
        if not all(n == shortest for n in lengths):
            misses.append("length")
        if not finds or statistics.median(finds) > FIND_SECONDS:
            misses.append("time")
        met += not misses
        mark = "met" if not misses else "MISSED " + ", ".join(misses)
        print(f"{head} {shortest:>4} {','.join(map(str, lengths)):>30} {find:>13} {wall_find:>14} {run:>12} "
              f"{speed:>8.0f} {total:>8.1f}  {mark}", flush=True)
    print(f"bar met in {met} of {len(bfs)} cells")


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
