"""``migmodel report``: write the verification report (Markdown, HTML, JSON) into a folder.

  migmodel report --out reports                     # every configuration
  migmodel report --out /tmp/r --config qemu-11.1   # some of them (repeatable)

The folder is replaced whole, atomically; re-running on the same model gives identical bytes.
Progress goes to stderr with ``rich`` when stderr is a terminal and ``--quiet`` is not given.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from checker.cli_base import EXIT_LIMIT, EXIT_OK, add_command, at_least, load_suite
from checker.report import build_report, write_report_dir


def cmd_report(args: argparse.Namespace) -> int:
    suite = load_suite()
    show = not args.quiet and sys.stderr.isatty()
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

    try:
        sizes = write_report_dir(args.out, lambda folder: build_report(
            suite, folder, configs=args.config, max_states=args.max_states, progress=progress))
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
                           EXIT_LIMIT: "the state limit (--max-states) was reached; nothing was written"})
    p.add_argument("--out", required=True, metavar="DIR", help="the report folder (replaced whole)")
    p.add_argument("--config", action="append", metavar="NAME", help="a configuration (repeatable; default: all)")
    p.add_argument("--max-states", type=at_least(1), default=5_000_000, metavar="N",
                   help="stop with exit code 3 beyond N states per configuration (default 5,000,000)")
    p.add_argument("--quiet", action="store_true", help="no progress and no summary line")
    p.set_defaults(func=cmd_report)
