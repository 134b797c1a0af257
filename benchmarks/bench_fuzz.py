"""Time for ``fuzz`` to find each known violation of source-resumable-before-pong, and steps/s.

    .venv/bin/python benchmarks/bench_fuzz.py [SEEDS]
"""

from __future__ import annotations

import sys

from checker.analysis import check
from checker.cli import load_suite
from checker.explore import explore
from checker.fuzz import fuzz

PROP = "source-resumable-before-pong"


def main() -> None:
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    suite = load_suite()
    prop = {p.name: p for p in suite.properties()}[PROP]
    print(f"{'configuration':34} {'bfs':>4} {'found':>6} {'mean s':>7} {'max s':>6} {'lengths':>16} {'steps/s':>8}")
    for name, config in suite.configs().items():
        model = suite.build(config)
        verdict = check(explore(model), [prop])[0]
        if verdict.holds:
            continue
        times, lengths, rates, found = [], [], [], 0
        for seed in range(seeds):
            r = fuzz(model, [prop], max_examples=300, steps=30, seed=seed)
            times.append(r.seconds)
            rates.append(r.steps_per_second)
            if r.counterexample:
                found += 1
                lengths.append(len(r.counterexample) - 1)
        bfs = len(verdict.counterexample or []) - 1
        print(f"{name:34} {bfs:>4} {found:>3}/{seeds:<2} {sum(times) / len(times):>7.2f} {max(times):>6.2f} "
              f"{','.join(map(str, lengths)):>16} {sum(rates) / len(rates):>8.0f}", flush=True)


if __name__ == "__main__":
    main()
