"""``migmodel report``: write the verification report (Markdown, HTML, JSON) into a folder.

  migmodel report --out reports                     # every configuration
  migmodel report --out /tmp/r --config qemu-11.1   # some of them (repeatable)
  migmodel report --out reports --check-manifest tests/manifest.json   # `make report`

Each configuration is explored once; with ``--check-manifest`` its verdicts and counts are compared
with the pinned manifest first, and nothing is written (exit 1) if they differ.

The folder is replaced whole, atomically; re-running on the same model gives identical bytes.
Progress goes to stderr with ``rich`` (if installed) when stderr is a terminal and ``--quiet`` is not given.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from typing import Any

from checker.cli_base import EXIT_LIMIT, EXIT_OK, EXIT_VIOLATED, add_command, at_least, load_suite
from checker.report import ManifestMismatch, build_report, write_report_dir
from checker.verify import load_manifest


def cmd_report(args: argparse.Namespace) -> int:
    suite = load_suite()
    show = not args.quiet and sys.stderr.isatty() and importlib.util.find_spec("rich") is not None
    bar: Any = None
    task: Any = None
    if show:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                       transient=True)
        bar.start()
        task = bar.add_task("report", total=None)

    def progress(message: str) -> None:
        if bar is not None:
            bar.update(task, description=message)

    # A bad manifest is reported before the exploration, not after.
    manifest = load_manifest(args.check_manifest) if args.check_manifest else None
    try:
        sizes = write_report_dir(args.out, lambda folder: build_report(
            suite, folder, configs=args.config, max_states=args.max_states, progress=progress,
            manifest=manifest))
    except ManifestMismatch as mismatch:
        for problem in mismatch.problems:
            print(f"manifest: {problem}", file=sys.stderr)
        print(f"migmodel report: {args.out} not written: the results differ from {args.check_manifest} "
              "(after a deliberate model change: make manifest)", file=sys.stderr)
        return EXIT_VIOLATED
    finally:
        if bar is not None:
            bar.stop()
    if not args.quiet:
        total = sum(sizes.values())
        print(f"report written to {args.out}: {len(sizes)} files, {total / 1e6:.1f} MB "
              f"(index.html {sizes.get('index.html', 0) / 1e6:.1f} MB)")
    return EXIT_OK


def register(sub: Any, name: str) -> None:
    p = add_command(sub, name, help="write the verification report (Markdown, HTML, JSON)",
                    description="Verify the configurations and write the report (Markdown, HTML, JSON, "
                    "graphs) into a folder, replaced whole and atomically; the same model gives the same bytes.",
                    examples=["migmodel report --out reports", "migmodel report --out /tmp/r --config qemu-11.1"],
                    exits={EXIT_OK: "the report was written",
                           EXIT_VIOLATED: "the results differ from --check-manifest; nothing was written",
                           EXIT_LIMIT: "the state limit (--max-states) was reached; nothing was written"})
    p.add_argument("--out", required=True, metavar="DIR", help="the report folder (replaced whole)")
    p.add_argument("--config", action="append", metavar="NAME", help="a configuration (repeatable; default: all)")
    p.add_argument("--max-states", type=at_least(1), default=5_000_000, metavar="N",
                   help="stop with exit code 3 beyond N states per configuration (default 5,000,000)")
    p.add_argument("--check-manifest", metavar="FILE",
                   help="exit 1, writing nothing, unless verdicts and counts match FILE (as verify does)")
    p.add_argument("--quiet", action="store_true", help="no progress and no summary line")
    p.set_defaults(func=cmd_report)
