"""``migmodel conform TRACE... [--config NAME]``: are recorded traces behaviours of the model?

For each trace, the suite's ``conformance`` hook gives the model of the trace's configuration and
what the recording shows (``checker/conform.py`` explains the search). Prints ``accepted`` or the
first divergence per trace.

Exit codes: 0 every trace accepted, 1 some trace rejected (or the search limit was reached before
a match), 2 bad input (unreadable file, a malformed line, a version the model does not cover, a
trace with nothing to check: "accepted" would mean nothing).

``--json``: per trace ``accepted``, ``matched`` (observations per side the run explained),
``hidden_steps`` (steps of the run nobody observed), ``ignored_events`` / ``ignored_commands``
(real QEMU names the model does not check), ``divergence`` (where no run could follow).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from typing import Any

from checker.cli_base import EXIT_OK, UsageError, add_command, at_least, load_suite

EXIT_REJECTED = 1


def cmd_conform(args: argparse.Namespace) -> int:
    from checker.conform import conform, format_observation, format_result

    suite = load_suite()
    if suite.conformance is None:
        raise UsageError(f"model suite {suite.name!r} has no conformance hook")
    config: Any = None
    if args.config is not None:
        configs = suite.configs()
        if args.config not in configs:
            raise UsageError(f"unknown configuration {args.config!r} (known: {', '.join(configs)})")
        config = configs[args.config]
    # Every trace is read before any is searched: bad input is reported first, and alone.
    tolerance = args.tolerance
    if not math.isfinite(tolerance) or tolerance < 0:
        raise UsageError(f"--tolerance must be a finite number of seconds >= 0, not {args.tolerance}")
    cases = []
    for path in args.traces:
        try:
            cases.append(suite.conformance(path, config, tolerance=tolerance))
        except (ValueError, RecursionError) as e:
            raise UsageError(str(e) if isinstance(e, ValueError) else f"{path}: nested too deeply") from None
    if args.no_settle:
        cases = [dataclasses.replace(c, can_stop=None) for c in cases]
    rejected = 0
    out: list[dict[str, Any]] = []
    for case in cases:
        result = conform(case, max_states=args.max_states)
        rejected += not result.accepted
        if args.json:
            d = result.divergence
            out.append({
                "trace": case.title, "config": case.config, "accepted": result.accepted,
                "matched": result.matched if result.accepted else None,
                "observations": {s: sum(1 for o in case.observations if o[0] == s) for s in case.sides},
                "hidden_steps": result.hidden_steps if result.accepted else None,
                **case.info,
                "states": result.states, "limit_reached": result.limit_reached, "notes": list(case.notes),
                "divergence": None if d is None else {
                    "side": d.side, "index": d.index, "where": d.where, "expected": d.expected,
                    "reason": d.reason, "consumed": d.consumed,
                    "allowed": [[list(o) for o in step] for step in d.allowed],
                    "others": [list(o) for o in d.others]},
            })
        else:
            print(format_result(case, result))
            ignored = case.info.get("ignored_events") or {}
            if ignored:
                print("  ignored QEMU events: " + ", ".join(f"{k} {v}" for k, v in ignored.items()))
            ignored = case.info.get("ignored_commands") or {}
            if ignored:
                print("  commands the model does not check: " + ", ".join(f"{k} {v}" for k, v in ignored.items()))
            if args.verbose:
                print(f"  model: {case.config}")
                for note in case.notes:
                    print(f"  note: {note}")
                if result.accepted:
                    print("  a matching run:")
                    for before, action, after in result.run:
                        what = case.model.describe_action(action)
                        shown = ", ".join(format_observation(o) for o in case.observe(before, action, after))
                        refused = f" (refused: {what['refused']})" if what.get("refused") else ""
                        print(f"    {what.get('actor', '?')}: {what.get('action', action)}{refused}"
                              + (f"  => {shown}" if shown else ""))
            sys.stdout.flush()
    if args.json:
        print(json.dumps({"traces": out, "accepted": len(cases) - rejected, "rejected": rejected}, indent=2))
    elif len(cases) > 1:
        print(f"{len(cases) - rejected} of {len(cases)} traces accepted")
    return EXIT_REJECTED if rejected else EXIT_OK


def register(sub: Any, name: str) -> None:
    p = add_command(sub, name, help="check recorded traces against the model",
                    description="Is each recorded trace a behaviour of the model? Prints `accepted` or the "
                    "first divergence per trace, and what the model could do there instead.",
                    examples=["migmodel conform tests/fixtures/traces/*.jsonl",
                              "migmodel conform TRACE --config qemu-11.1 --verbose"],
                    exits={EXIT_OK: "every trace accepted",
                           EXIT_REJECTED: "some trace rejected (or the search bound was reached before a match)"})
    p.add_argument("traces", nargs="+", metavar="TRACE", help="a recorded trace, in the format the model suite reads")
    p.add_argument("--config", metavar="NAME",
                   help="check against this named configuration instead of the trace's own")
    p.add_argument("--max-states", type=at_least(1), default=2_000_000, metavar="N",
                   help="search bound per trace (default 2,000,000)")
    p.add_argument("--tolerance", type=float, default=0.001, metavar="SECONDS",
                   help="lines of different sides are ordered by `t` only when further apart (default 0.001)")
    p.add_argument("--no-settle", action="store_true",
                   help="accept where the recording ends even if the model would still take internal steps")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--verbose", action="store_true", help="the model, notes, and the matching run")
    p.set_defaults(func=cmd_conform)
