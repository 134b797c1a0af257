"""Time for ``fuzz`` to find each known violation of source-resumable-before-pong, and how close
its shrunk counterexample is to the breadth-first shortest one.

    .venv/bin/python benchmarks/bench_fuzz.py [SEEDS] [MAX_EXAMPLES] [STEPS] [JOBS]

One row per configuration where ``migmodel verify`` finds the property violated: seeds that found
it, the BFS length, the shrunk lengths, and the time to the first failing run (before shrinking)
and in all (with shrinking). Seeds run in ``JOBS`` worker processes (default 2).
"""

from __future__ import annotations

import sys
from multiprocessing import Pool

from checker.analysis import check
from checker.cli import load_suite
from checker.explore import explore
from checker.fuzz import fuzz

PROP = "source-resumable-before-pong"


def _one(job: tuple[str, int, int, int]) -> tuple[str, int, int | None, float | None, float]:
    name, seed, examples, steps = job
    suite = load_suite()
    prop = {p.name: p for p in suite.properties()}[PROP]
    r = fuzz(suite.build(suite.configs()[name]), [prop], max_examples=examples, steps=steps, seed=seed)
    length = len(r.counterexample) - 1 if r.counterexample else None
    return name, seed, length, r.seconds_to_find, r.seconds


def main() -> None:
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    examples = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 40
    jobs = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    suite = load_suite()
    prop = {p.name: p for p in suite.properties()}[PROP]
    bfs: dict[str, int] = {}
    for name, config in suite.configs().items():
        verdict = check(explore(suite.build(config)), [prop])[0]
        if not verdict.holds:
            bfs[name] = len(verdict.counterexample or []) - 1
    with Pool(jobs) as pool:
        rows = pool.map(_one, [(n, s, examples, steps) for n in bfs for s in range(seeds)], chunksize=1)
    print(f"{seeds} seeds, max_examples {examples}, steps {steps}")
    print(f"{'configuration':30} {'found':>6} {'bfs':>4} {'shrunk lengths':>34} "
          f"{'find s (median/max)':>20} {'total s (max)':>13}")
    for name, shortest in bfs.items():
        mine = [r for r in rows if r[0] == name]
        lengths = [r[2] for r in mine if r[2] is not None]
        finds = sorted(r[3] for r in mine if r[3] is not None)
        median = f"{finds[len(finds) // 2]:.1f}/{finds[-1]:.1f}" if finds else "-"
        print(f"{name:30} {len(lengths):>3}/{seeds:<2} {shortest:>4} {','.join(map(str, lengths)):>34} "
              f"{median:>20} {max(r[4] for r in mine):>13.1f}", flush=True)


if __name__ == "__main__":
    main()
