"""``migmodel fuzz``: Hypothesis stateful search of one configuration's interleavings.

Exit codes: 0 nothing found, 1 a counterexample was found, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from checker.kinds import falsifiable
from checker.verify import UsageError

EXIT_OK, EXIT_FOUND = 0, 1


def cmd_fuzz(args: argparse.Namespace) -> int:
    from checker.cli import load_suite
    from checker.explore import explore
    from checker.fuzz import coverage, fuzz, replay_script, result_to_json
    from checker.render import timeline_lines

    for flag, value, least in (("--max-examples", args.max_examples, 1), ("--steps", args.steps, 1)):
        if value < least:
            raise UsageError(f"{flag} must be >= {least}, not {value}")
    suite = load_suite()
    configs = suite.configs()
    if args.config not in configs:
        raise UsageError(f"unknown configuration {args.config!r} (known: {', '.join(configs)})")
    known = {p.name: p for p in suite.properties()}
    for name in args.property or []:
        if name not in known:
            raise UsageError(f"unknown property {name!r} (known: {', '.join(known)})")
    props = [known[n] for n in args.property] if args.property else list(known.values())
    props = [p for p in props if falsifiable(p.kind)]
    if not props:
        raise UsageError("nothing to falsify: every property named is a `sometimes` property")
    model = suite.build(configs[args.config])
    result = fuzz(model, props, max_examples=args.max_examples, steps=args.steps, seed=args.seed)
    cov = coverage(explore(model), result)
    if args.json:
        out: dict[str, Any] = result_to_json(model, args.config, result, cov)
        print(json.dumps(out, indent=2))
        return EXIT_FOUND if result.found else EXIT_OK
    print(f"{args.config}: {result.examples:,} examples ({result.walks:,} walks), {result.steps:,} steps "
          f"in {result.seconds:.2f}s ({result.steps_per_second:,.0f} steps/s), seed {args.seed}")
    print(f"coverage: {cov.states:,} of {cov.states_total:,} states, {cov.edges:,} of {cov.edges_total:,} edges")
    if result.alphabet is not None and not result.alphabet.complete:
        print(f"note: action labels learnt from the first {result.alphabet.states:,} states only")
    if result.inconclusive:
        print(f"note: {result.inconclusive:,} reachability searches hit their bound (counted as no violation)")
    if result.counterexample is None or result.violated is None:
        print(f"no counterexample found for {len(props)} propert{'y' if len(props) == 1 else 'ies'}")
        return EXIT_OK
    steps = result.counterexample
    found_in = ""
    if result.seconds_to_find is not None:
        found_in = (f", first failing run (#{result.examples_to_find}, {result.found_length} steps) "
                    f"after {result.seconds_to_find:.2f}s")
    print(f"\n== {result.violated.name} violated ({len(steps) - 1} steps{found_in}): {result.reason}")
    print(f"   claim: {result.violated.claim}")
    for line in timeline_lines(model, steps):
        print("   " + line)
    print(f"\nreplay with: migmodel simulate --config {args.config} --script FILE, FILE holding:")
    for line in replay_script(model, steps):
        print(line)
    return EXIT_FOUND


def register(sub: Any, name: str) -> None:
    p = sub.add_parser(name, help="search interleavings with Hypothesis (stateful testing)")
    p.add_argument("--config", required=True)
    p.add_argument("--property", action="append", help="a property (repeatable; default: all)")
    p.add_argument("--max-examples", type=int, default=300, help="Hypothesis runs (default 300)")
    p.add_argument("--steps", type=int, default=60, help="steps per run (default 60)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_fuzz)
