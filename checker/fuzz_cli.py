"""``migmodel fuzz``: Hypothesis stateful search of one configuration's interleavings.

Exit codes: 0 nothing found, 1 a counterexample was found, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from checker.cli_base import EXIT_OK, UsageError, add_command, at_least, columns, load_suite
from checker.kinds import falsifiable

EXIT_FOUND = 1


def cmd_fuzz(args: argparse.Namespace) -> int:
    from checker.explore import explore
    from checker.fuzz import coverage, fuzz, replay_script, result_to_json
    from checker.render import ending_lines, paragraph, timeline_lines

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
    print()
    for line in paragraph("", f"== {result.violated.name} violated ({len(steps) - 1} steps{found_in}): "
                          f"{result.reason}", width=columns()):
        print(line)
    for line in paragraph("claim: ", result.violated.claim, width=columns(), indent="   "):
        print(line)
    for line in timeline_lines(model, steps, width=columns() - 3):
        print("   " + line)
    for line in ending_lines(model, steps[-1].state, suite.explain_state, width=columns() - 3):
        print("   " + line)
    print(f"\nreplay with: migmodel simulate --config {args.config} --script FILE, FILE holding:")
    for line in replay_script(model, steps):
        print(line)
    return EXIT_FOUND


def register(sub: Any, name: str) -> None:
    p = add_command(sub, name, help="search interleavings with Hypothesis (stateful testing)",
                    description="Walk one configuration at random with Hypothesis, judging every property "
                    "(except `sometimes` ones) at each state; a violation is shortened and printed with a "
                    "script that `migmodel simulate --script` replays. The same seed gives the same run.",
                    examples=["migmodel fuzz --config qemu-11.1",
                              "migmodel fuzz --config qemu-11.1-to-7.2 --property source-resumable-before-pong "
                              "--seed 3 --json"],
                    exits={EXIT_OK: "no counterexample found (not a proof: see `migmodel verify`)",
                           EXIT_FOUND: "a counterexample was found"})
    p.add_argument("--config", required=True, metavar="NAME", help="the configuration (see `migmodel configs`)")
    p.add_argument("--property", action="append", metavar="NAME", help="a property (repeatable; default: all)")
    p.add_argument("--max-examples", type=at_least(1), default=300, metavar="N", help="Hypothesis runs (default 300)")
    p.add_argument("--steps", type=at_least(1), default=60, metavar="N", help="steps per run (default 60)")
    p.add_argument("--seed", type=int, default=0, help="the seed: the same seed gives the same runs (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_fuzz)
