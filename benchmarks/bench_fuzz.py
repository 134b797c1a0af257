"""Time for ``fuzz`` to find each known violation of source-resumable-before-pong, and how close
its shrunk counterexample is to the breadth-first shortest one.

    .venv/bin/python benchmarks/bench_fuzz.py [SEEDS] [MAX_EXAMPLES] [STEPS] [JOBS]

One row per configuration where ``migmodel verify`` finds the property violated: seeds that found
it, the BFS length, the shrunk lengths, the time to the first failing run (before shrinking;
median/max over the seeds that found it), the runs (Hypothesis examples) up to and including it,
``FuzzResult.steps_per_second`` (actions taken over the whole call's time, alphabet search and
shrinking included; mean over the seeds), and the longest call in all. Then one row per
configuration where the property holds: seeds that (wrongly) found something. The last column says
whether the issue-4 bar is met: found in >= 9 of 10 seeds, every shrunk length <= BFS + 1, every
time to find <= 5 s (and nothing found where the property holds); a miss names what failed. Seeds
run in ``JOBS`` worker processes (default 2). Defaults: 10 seeds, 300 examples, 60 steps
(``migmodel fuzz``'s defaults).
"""

from __future__ import annotations

import statistics
import sys
from multiprocessing import Pool

from checker.analysis import check
from checker.cli import load_suite
from checker.explore import explore
from checker.fuzz import fuzz

PROP = "source-resumable-before-pong"
FIND_SECONDS = 5.0

Row = tuple[str, int, int | None, float | None, float, int | None, float]


def _one(job: tuple[str, int, int, int]) -> Row:
    name, seed, examples, steps = job
    suite = load_suite()
    prop = {p.name: p for p in suite.properties()}[PROP]
    r = fuzz(suite.build(suite.configs()[name]), [prop], max_examples=examples, steps=steps, seed=seed)
    length = len(r.counterexample) - 1 if r.counterexample else None
    return name, seed, length, r.seconds_to_find, r.seconds, r.examples_to_find, r.steps_per_second


def main() -> None:
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    examples = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 60
    jobs = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    suite = load_suite()
    prop = {p.name: p for p in suite.properties()}[PROP]
    bfs: dict[str, int | None] = {}
    for name, config in suite.configs().items():
        verdict = check(explore(suite.build(config)), [prop])[0]
        bfs[name] = None if verdict.holds else len(verdict.counterexample or []) - 1
    with Pool(jobs) as pool:
        rows = pool.map(_one, [(n, s, examples, steps) for n in bfs for s in range(seeds)], chunksize=1)
    need = seeds if seeds < 10 else 9
    print(f"{seeds} seeds, max_examples {examples}, steps {steps}")
    print(f"{'configuration':34} {'found':>6} {'bfs':>4} {'shrunk lengths':>30} {'find s (med/max)':>17} "
          f"{'runs to find (med/max)':>23} {'steps/s':>8} {'total s (max)':>13}  bar")
    for name, shortest in bfs.items():
        mine = [r for r in rows if r[0] == name]
        lengths = [r[2] for r in mine if r[2] is not None]
        finds = sorted(r[3] for r in mine if r[3] is not None)
        runs = sorted(r[5] for r in mine if r[5] is not None)
        speed = statistics.mean(r[6] for r in mine)
        total = max(r[4] for r in mine)
        if shortest is None:
            verdict = "met (holds)" if not lengths else "MISSED (found a violation that does not exist)"
            print(f"{name:34} {len(lengths):>3}/{seeds:<2} {'-':>4} {'-':>30} {'-':>17} {'-':>23} "
                  f"{speed:>8.0f} {total:>13.1f}  {verdict}", flush=True)
            continue
        find = f"{finds[len(finds) // 2]:.2f}/{finds[-1]:.2f}" if finds else "-"
        run = f"{runs[len(runs) // 2]}/{runs[-1]}" if runs else "-"
        misses = []
        if len(lengths) < need:
            misses.append("found")
        if not all(n <= shortest + 1 for n in lengths):
            misses.append("length")
        if not finds or finds[-1] > FIND_SECONDS:
            misses.append("time (max)" if finds and statistics.median(finds) <= FIND_SECONDS else "time")
        verdict = "met" if not misses else "MISSED " + ", ".join(misses)
        print(f"{name:34} {len(lengths):>3}/{seeds:<2} {shortest:>4} {','.join(map(str, lengths)):>30} "
              f"{find:>17} {run:>23} {speed:>8.0f} {total:>13.1f}  {verdict}", flush=True)


if __name__ == "__main__":
    main()
