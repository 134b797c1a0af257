"""``migmodel``: the command line.

The CLI is generic like the rest of ``checker/``: it loads the model suite through the
``migmodel.suites`` entry point (the QEMU one is ``properties.suite:qemu_suite``) and never imports
``model``. Subcommands:

  configs    list the named configurations
  simulate   one random (seeded) or scripted run, as a timeline
  verify     explore every configuration, judge every property, print the verdict matrix
  fuzz       Hypothesis stateful search of interleavings
  graph      state graphs (machine, reachable, product)
  report     the verification report (Markdown, HTML, JSON)
  record     record a real QEMU migration as a trace (harness)
  conform    check recorded traces against the model
  mutants    run the checker on known-bad variants of the model

Exit codes: 0 success (for ``verify``: every property holds, or with ``--check-manifest`` every
verdict and count matches the manifest); 1 a property is violated / a check failed; 2 bad input
(unknown name, unreadable file, bad arguments); 3 the state limit was reached; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import Any, NoReturn

from checker.explore import StateLimitExceeded
from checker.spec import Suite
from checker.verify import UsageError

EXIT_OK, EXIT_VIOLATED, EXIT_USAGE, EXIT_LIMIT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def load_suite(name: str = "qemu") -> Suite:
    found = {ep.name: ep for ep in entry_points(group="migmodel.suites")}
    if name not in found:
        raise UsageError(f"model suite {name!r} is not installed (installed: {', '.join(found) or 'none'}); "
                         "run `pip install -e .` in the repository")
    suite: Suite = found[name].load()()
    return suite


def write_atomic(path: str, data: str | bytes) -> None:
    """Write a file whole or not at all: a temporary file in the same folder, then rename."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _want_progress(args: argparse.Namespace) -> bool:
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


# ---------------------------------------------------------------------------------------------
# configs


def cmd_configs(args: argparse.Namespace) -> int:
    suite = load_suite()
    configs = suite.configs()
    if args.json:
        print(json.dumps({n: suite.describe_config(c) for n, c in configs.items()}, indent=2))
        return EXIT_OK
    width = max(len(n) for n in configs)
    for name, cfg in configs.items():
        print(f"{name:<{width}}  {suite.describe_config(cfg)}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# verify


def cmd_verify(args: argparse.Namespace) -> int:
    from checker import verify as V
    from checker.render import print_matrix

    suite = load_suite()
    configs, props = V.select(suite, args.config, args.property)
    if args.max_states < 0:
        raise UsageError(f"--max-states must be >= 0, not {args.max_states}")
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
            for r in V.run_configs(suite, configs, props, max_states=args.max_states):
                runs.append(r)
                results[r.name] = V.result_to_json(r)
            configs = {}
        for name, cfg in configs.items():
            if bar is not None:
                task = bar.add_task(f"exploring {name}", total=None)

                def progress(states: int, edges: int, depth: int, _t: Any = task) -> None:
                    bar.update(_t, description=f"{states:,} states, {edges:,} edges, depth {depth}")
            r = V.run_config(suite, name, cfg, props, max_states=args.max_states, progress=progress)
            runs.append(r)
            results[name] = V.result_to_json(r)
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
    else:
        print_matrix(runs, props, show_counterexamples=not args.no_counterexamples)
    if expected is not None:
        problems = V.diff_manifest(expected, V.manifest_of(results))
        for p in problems:
            print(f"manifest: {p}", file=sys.stderr)
        return EXIT_VIOLATED if problems else EXIT_OK
    from checker.spec import Kind

    violated = any(not v.holds for r in runs for v in r.verdicts if v.property.kind is not Kind.SOMETIMES)
    return EXIT_VIOLATED if violated else EXIT_OK


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
        print_timeline(model, steps, title=f"{args.config}" + (f" (seed {args.seed})" if not args.script else ""))
    return EXIT_OK


# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="migmodel", description="Model and check QEMU live migration.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    c = sub.add_parser("configs", help="list the named configurations")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_configs)

    s = sub.add_parser("simulate", help="print one run as a timeline")
    s.add_argument("--config", required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--steps", type=int, default=200)
    s.add_argument("--script", help="replay the actions in FILE (one 'actor: action' per line)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_simulate)

    v = sub.add_parser("verify", help="check every property on every configuration")
    v.add_argument("--config", action="append", help="a configuration (repeatable; default: all)")
    v.add_argument("--property", action="append", help="a property (repeatable; default: all)")
    v.add_argument("--json", action="store_true", help="print one JSON object")
    v.add_argument("--max-states", type=int, default=5_000_000)
    v.add_argument("--check-manifest", metavar="FILE", help="exit 1 unless verdicts and counts match FILE")
    v.add_argument("--write-manifest", metavar="FILE", help="pin the verdicts and counts in FILE")
    v.add_argument("--no-counterexamples", action="store_true")
    v.add_argument("--quiet", action="store_true", help="no progress bar")
    v.set_defaults(func=cmd_verify)

    for name, register in _extensions():
        register(sub, name)
    return p


def _extensions() -> list[tuple[str, Callable[[Any, str], None]]]:
    """Subcommands that live in their own modules (each module has ``register(sub, name)``)."""
    out: list[tuple[str, Callable[[Any, str], None]]] = []
    from importlib import import_module

    for name, module in (("fuzz", "checker.fuzz_cli"), ("graph", "checker.graph_cli"),
                         ("report", "checker.report_cli"), ("record", "checker.record_cli"),
                         ("conform", "checker.conform_cli"), ("mutants", "checker.mutants_cli")):
        try:
            mod = import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise
            continue
        out.append((name, mod.register))
    # Subcommands a model plugin brings (QEMU-specific ones such as `drift`): the
    # ``migmodel.commands`` entry point group, name -> a ``register(sub, name)`` function.
    known = {n for n, _ in out}
    for ep in sorted(entry_points(group="migmodel.commands"), key=lambda e: e.name):
        if ep.name not in known:
            out.append((ep.name, ep.load()))
    return out


_LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


def one_line(message: object) -> str:
    """``message`` on one line: line breaks that came with user input are shown escaped."""
    return str(message).translate(_LINE_BREAKS)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["record"]:  # the harness parses its own arguments
            from checker.record_cli import run_record

            return run_record(argv[1:])
        parser = build_parser()
        args = parser.parse_args(argv)
        code: int = args.func(args)
        return code
    except UsageError as e:
        print(f"migmodel: error: {one_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    except StateLimitExceeded as e:
        print(f"migmodel: {one_line(e)}", file=sys.stderr)
        return EXIT_LIMIT
    except KeyboardInterrupt:
        print("migmodel: interrupted; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
