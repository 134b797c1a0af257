"""``migmodel``: the command line.

The CLI is generic like the rest of ``checker/``: it loads the model suite through the
``migmodel.suites`` entry point (the QEMU one is ``properties.suite:qemu_suite``) and never imports
``model``. Subcommands here: ``configs``, ``properties``, ``simulate``, ``verify``; in their own
modules (``_extensions``): ``fuzz``, ``graph``, ``report``, ``conform``, ``mutants``, ``whatif``; and those a
model plugin registers in the ``migmodel.commands`` entry point group (``record``, ...). What they
share (exit codes, ``UsageError``, ``write_atomic``, ``load_suite``) is ``checker.cli_base``, which
they import instead of this module.

Exit codes: 0 success (for ``verify``: every property holds, or with ``--check-manifest`` every
verdict and count matches the manifest); 1 a property is violated / a check failed; 2 bad input
(unknown name, unreadable file, bad arguments), one line ``migmodel COMMAND: error: ...`` on
stderr; 3 the state limit was reached; 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import sys
from types import FrameType


def _interrupted_at_start(_signum: int, _frame: FrameType | None) -> None:
    sys.stderr.write("migmodel: interrupted\n")
    os._exit(130)


# Started as the `migmodel` program: Ctrl-C while the modules load is one line and exit 130, not a
# traceback from whichever import it hit. ``main`` restores Python's handler once it can catch it.
if os.path.basename(sys.argv[0]) == "migmodel":
    signal.signal(signal.SIGINT, _interrupted_at_start)

import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from importlib.metadata import PackageNotFoundError, entry_points, version  # noqa: E402
from typing import Any  # noqa: E402

from checker.cli_base import (  # noqa: E402  (re-exported: older code imports them from here)
    EXIT_INTERRUPTED,
    EXIT_LIMIT,
    EXIT_OK,
    EXIT_USAGE,
    EXIT_VIOLATED,
    Parser,
    UsageError,
    add_command,
    at_least,
    columns,
    load_suite,
    one_line,
    write_atomic,
)

__all__ = ("EXIT_INTERRUPTED", "EXIT_LIMIT", "EXIT_OK", "EXIT_USAGE", "EXIT_VIOLATED", "UsageError",
           "build_parser", "load_suite", "main", "one_line", "write_atomic")

_Parser = Parser  # the name older code used


def _want_progress(args: argparse.Namespace) -> bool:
    """A progress bar on a terminal, when ``rich`` is installed (the ``[dev]`` extra; optional)."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty() and importlib.util.find_spec("rich") is not None


# ---------------------------------------------------------------------------------------------
# configs, properties


def cmd_configs(args: argparse.Namespace) -> int:
    from checker.render import table_lines

    suite = load_suite()
    configs = suite.configs()
    if args.json:
        print(json.dumps({n: suite.describe_config(c) for n, c in configs.items()}, indent=2))
        return EXIT_OK
    for line in table_lines(["name", "meaning"], [[n, suite.describe_config(c)] for n, c in configs.items()],
                            width=columns(), max_lines=50):
        print(line)
    return EXIT_OK


def cmd_properties(args: argparse.Namespace) -> int:
    from checker.render import table_lines

    suite = load_suite()
    props = list(suite.properties())
    if args.json:
        print(json.dumps([{"name": p.name, "kind": p.kind.value, "claim": p.claim, "partner": p.partner,
                           "reference": p.reference or None} for p in props], indent=2))
        return EXIT_OK
    for line in table_lines(["name", "kind", "claim"], [[p.name, p.kind.value, p.claim] for p in props],
                            width=columns(), max_lines=50):
        print(line)
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# verify


def _plural(count: int, word: str, many: str = "") -> str:
    return f"{count:,} " + (word if count == 1 else many or word + "s")


def verify_summary(runs: Sequence[Any], seconds: float, manifest: str | None = None) -> str:
    """The last line of ``migmodel verify``: what was checked and what was found (with a manifest:
    whether everything matches it; ``manifest`` is that outcome)."""
    from checker.kinds import meaning

    counts: dict[str, int] = {}
    for r in runs:
        for v in r.verdicts:
            held, failed = meaning(v.property.kind).words
            word = (held if v.holds else failed).lower()
            counts[word] = counts.get(word, 0) + 1
    props = len(runs[0].verdicts) if runs else 0
    found = manifest or ", ".join(f"{n:,} {w}" for w, n in counts.items()) or "nothing judged"
    states = sum(r.exploration.state_count for r in runs)
    return (f"verify: {_plural(len(runs), 'configuration')} x {_plural(props, 'property', 'properties')}, "
            f"{_plural(states, 'state')} in {seconds:.1f}s: {found}")


def cmd_verify(args: argparse.Namespace) -> int:
    from checker import verify as V
    from checker.kinds import falsifiable
    from checker.render import print_matrix

    started = time.perf_counter()
    suite = load_suite()
    configs, props = V.select(suite, args.config, args.property)
    # A bad manifest is reported before minutes of exploration, not after.
    expected = V.load_manifest(args.check_manifest) if args.check_manifest else None
    results: dict[str, dict[str, Any]] = {}
    runs = []
    progress = None
    bar: Any = None
    if _want_progress(args):
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
    try:
        if bar is None:  # no progress to show: configurations in parallel (checker/verify.py)
            # The graphs' fingerprints only appear in the JSON: skipped otherwise (checker/verify.py).
            for r in V.run_configs(suite, configs, props, max_states=args.max_states, fingerprints=args.json):
                runs.append(r)
                results[r.name] = V.result_to_json(r, fingerprint=args.json)
            configs = {}
        for name, cfg in configs.items():
            if bar is not None:
                task = bar.add_task(f"exploring {name}", total=None)

                def progress(states: int, edges: int, depth: int, _t: Any = task) -> None:
                    bar.update(_t, description=f"{states:,} states, {edges:,} edges, depth {depth}")
            r = V.run_config(suite, name, cfg, props, max_states=args.max_states, progress=progress)
            runs.append(r)
            results[name] = V.result_to_json(r, fingerprint=args.json)
    finally:
        if bar is not None:
            bar.stop()
    if args.write_manifest:
        try:
            write_atomic(args.write_manifest,
                         json.dumps(V.manifest_of(results), indent=2, sort_keys=True) + "\n")
        except (OSError, ValueError) as e:
            raise UsageError(f"cannot write manifest {args.write_manifest!r}: "
                             f"{getattr(e, 'strerror', None) or e}") from None
    if args.json:
        print(json.dumps({"configs": results}, indent=2))
    elif not args.quiet:
        print_matrix(runs, props, show_counterexamples=not args.no_counterexamples, width=columns(),
                     explain_state=suite.explain_state)
        print()
    manifest = None
    if expected is not None:
        problems = V.diff_manifest(expected, V.manifest_of(results))
        for p in problems:
            print(f"manifest: {p}", file=sys.stderr)
        manifest = (f"the manifest differs in {_plural(len(problems), 'place')}" if problems
                    else f"every verdict and count matches {args.check_manifest}")
        code = EXIT_VIOLATED if problems else EXIT_OK
    else:
        code = EXIT_OK
        if any(not v.holds for r in runs for v in r.verdicts if falsifiable(v.property.kind)):
            code = EXIT_VIOLATED
    summary = verify_summary(runs, time.perf_counter() - started, manifest)
    if not args.json:
        print(summary)
    return code


# ---------------------------------------------------------------------------------------------
# simulate


def cmd_simulate(args: argparse.Namespace) -> int:
    from checker.simulate import read_script, run_random, run_script

    suite = load_suite()
    configs = suite.configs()
    if args.config not in configs:
        raise UsageError(f"unknown configuration {args.config!r} (known: {', '.join(configs)})")
    model = suite.build(configs[args.config])
    if args.script:
        steps = run_script(model, read_script(args.script))
    else:
        steps = run_random(model, seed=args.seed, max_steps=args.steps)
    from checker.render import print_timeline

    if args.json:
        from checker.analysis import steps_to_json

        print(json.dumps(steps_to_json(model, steps), indent=2))
    else:
        print_timeline(model, steps, title=f"{args.config}" + (f" (seed {args.seed})" if not args.script else ""),
                       width=columns())
    return EXIT_OK


# ---------------------------------------------------------------------------------------------


def _version() -> str:
    try:
        return version("qemu-migration-model")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="migmodel", description="Model QEMU live migration and check its claims: explore every "
               "interleaving of the model, judge each property, fuzz, draw graphs, write reports.",
               epilog="`migmodel COMMAND --help` describes a command, with an example and its exit codes.")
    p.add_argument("--version", action="version", version=f"migmodel {_version()}",
                   help="print the version and exit")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")

    c = add_command(sub, "configs", help="list the named configurations",
                    description="List the named configurations of the model, each with what it means.",
                    examples=["migmodel configs", "migmodel configs --json"],
                    exits={EXIT_OK: "listed"})
    c.add_argument("--json", action="store_true", help="print one JSON object: name -> meaning")
    c.set_defaults(func=cmd_configs)

    c = add_command(sub, "properties", help="list the properties (name, kind, claim)",
                    description="List the properties the checker judges: name, kind (always, sometimes, "
                    "always-possible, eventually, deadlock-free) and the claim in one sentence.",
                    examples=["migmodel properties", "migmodel properties --json"],
                    exits={EXIT_OK: "listed"})
    c.add_argument("--json", action="store_true",
                   help="print a JSON list of {name, kind, claim, partner, reference}")
    c.set_defaults(func=cmd_properties)

    s = add_command(sub, "simulate", help="print one run as a timeline",
                    description="Print one run of a configuration as a timeline: a random run (seeded, "
                    "reproducible) or the actions of a script, one 'actor: action' per line.",
                    examples=["migmodel simulate --config qemu-11.1 --seed 3",
                              "migmodel simulate --config qemu-11.1 --script run.txt"],
                    exits={EXIT_OK: "the run was printed"})
    s.add_argument("--config", required=True, metavar="NAME", help="the configuration (see `migmodel configs`)")
    s.add_argument("--seed", type=int, default=0, help="seed of the random run (default 0)")
    s.add_argument("--steps", type=at_least(0), default=200, help="at most this many steps (default 200)")
    s.add_argument("--script", metavar="FILE", help="replay the actions in FILE (one 'actor: action' per line)")
    s.add_argument("--json", action="store_true", help="print the steps as JSON")
    s.set_defaults(func=cmd_simulate)

    v = add_command(sub, "verify", help="check every property on every configuration",
                    description="Explore every reachable state of each configuration, judge every property, "
                    "print the verdict matrix, the counterexamples and one summary line.",
                    examples=["migmodel verify", "migmodel verify --config qemu-11.1 --property no-split-brain",
                              "migmodel verify --quiet --check-manifest tests/manifest.json"],
                    exits={EXIT_OK: "every property holds (with --check-manifest: everything matches)",
                           EXIT_VIOLATED: "a property is violated (with --check-manifest: a difference)",
                           EXIT_LIMIT: "the state limit (--max-states) was reached; nothing was written"})
    v.add_argument("--config", action="append", metavar="NAME", help="a configuration (repeatable; default: all)")
    v.add_argument("--property", action="append", metavar="NAME", help="a property (repeatable; default: all)")
    v.add_argument("--json", action="store_true", help="print one JSON object instead of the matrix")
    v.add_argument("--max-states", type=at_least(1), default=5_000_000, metavar="N",
                   help="stop with exit code 3 beyond N states per configuration (default 5,000,000)")
    v.add_argument("--check-manifest", metavar="FILE", help="exit 1 unless verdicts and counts match FILE")
    v.add_argument("--write-manifest", metavar="FILE", help="pin the verdicts and counts in FILE")
    v.add_argument("--no-counterexamples", action="store_true", help="print the matrix without counterexamples")
    v.add_argument("--quiet", action="store_true", help="no progress bar and no matrix: the summary line only")
    v.set_defaults(func=cmd_verify)

    for name, register in _extensions():
        register(sub, name)
    _COMMANDS.update(sub.choices)
    return p


_COMMANDS: set[str] = set()
"""The subcommands ``build_parser`` registered."""


def _extensions() -> list[tuple[str, Callable[[Any, str], None]]]:
    """Subcommands that live in their own modules (each module has ``register(sub, name)``)."""
    out: list[tuple[str, Callable[[Any, str], None]]] = []
    from importlib import import_module

    for name, module in (("fuzz", "checker.fuzz_cli"), ("graph", "checker.graph_cli"),
                         ("report", "checker.report_cli"), ("conform", "checker.conform_cli"),
                         ("mutants", "checker.mutants_cli"), ("whatif", "checker.whatif")):
        out.append((name, import_module(module).register))
    # Subcommands a model plugin brings (QEMU-specific ones such as `record`): the
    # ``migmodel.commands`` entry point group, name -> a ``register(sub, name)`` function.
    known = {n for n, _ in out}
    for ep in sorted(entry_points(group="migmodel.commands"), key=lambda e: e.name):
        if ep.name not in known:
            try:
                out.append((ep.name, ep.load()))
            except ImportError as e:  # an optional extra is not installed (e.g. `[harness]`'s qemu.qmp)
                out.append((ep.name, _unavailable(e)))
    return out


def _unavailable(error: ImportError) -> Callable[[Any, str], None]:
    """A plugin command whose module needs a package this installation lacks: it is listed, and
    running it says what to install (exit 2), instead of breaking every other command."""

    def register(sub: Any, name: str) -> None:
        p = sub.add_parser(name, help=f"(unavailable: needs {error.name or 'a missing package'})",
                           description=f"This command needs {error.name or 'a package'} ({error}).")
        p.add_argument("rest", nargs="*", help="ignored")

        def run(_args: Any) -> int:
            raise UsageError(f"this command needs the package {error.name!r}: install the project with "
                             "its extras, e.g. pip install '.[dev,harness,drift]'")

        p.set_defaults(func=run)

    return register


def _command(argv: Sequence[str]) -> str:
    """The subcommand named in ``argv`` (for error messages raised before parsing ends)."""
    return next((a for a in argv if not a.startswith("-")), "")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = "migmodel"
    try:
        if signal.getsignal(signal.SIGINT) is _interrupted_at_start:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        from checker.explore import StateLimitExceeded

        try:
            parser = build_parser()
            args = parser.parse_args(argv)
            prog = f"migmodel {args.command}"
            code: int = args.func(args)
            return code
        except UsageError as e:
            where = e.prog or prog
            if where == "migmodel" and _command(argv) in _COMMANDS:  # e.g. an unrecognized argument
                where = f"migmodel {_command(argv)}"
            print(f"{where}: error: {one_line(e)}", file=sys.stderr)
            return EXIT_USAGE
        except StateLimitExceeded as e:
            print(f"{prog}: error: {one_line(e)}", file=sys.stderr)
            return EXIT_LIMIT
        except OSError as e:
            if isinstance(e, BrokenPipeError):
                raise
            where = f": {e.filename}" if e.filename else ""
            print(f"{prog}: error: {one_line(e.strerror or e)}{one_line(where)}", file=sys.stderr)
            return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`migmodel verify | head`): no traceback when Python flushes stdout.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
