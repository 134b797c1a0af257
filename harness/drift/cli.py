"""``migmodel drift``: a QEMU source tree against the model rows of its version.

Exit codes: 0 nothing unexplained, 1 something in QEMU is not in the model (or the reverse) and
no entry of the explanation file covers it, 2 bad input (not a QEMU tree, unreadable files, an
unknown version).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from checker.cli_base import UsageError, add_command

EXIT_OK, EXIT_DRIFT = 0, 1


def register(sub: Any, name: str) -> None:
    p = add_command(
        sub, name, help="compare a QEMU source tree with the model rows of its version",
        description="Parse the migration code of a QEMU source tree (tree-sitter) and compare its state "
                    "transitions, QMP guards, statuses, messages and PING values with the model rows of the "
                    "version the tree declares: what is in QEMU and not in the model, what the model has that "
                    "QEMU no longer does, and what is explained (harness/drift/explained.toml).",
        examples=["migmodel drift --qemu-src /var/cache/migmodel/src/qemu-10.2.2",
                  "migmodel drift --qemu-src ./qemu --version 10.2 --json"],
        exits={0: "nothing unexplained", 1: "something in QEMU or in the model is unexplained"})
    p.add_argument("--qemu-src", required=True, metavar="DIR", help="an unpacked QEMU source tree")
    p.add_argument("--version", metavar="V", help="the QEMU version to compare with (default: the tree's VERSION file)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--explained", metavar="FILE", help="the explanation file (default: harness/drift/explained.toml)")
    p.add_argument("--verbose", action="store_true", help="also list what is modelled")
    p.set_defaults(func=cmd_drift)


def cmd_drift(args: argparse.Namespace) -> int:
    from harness.drift.compare import EXPLAINED, check
    from harness.drift.ctree import TreeError

    try:
        report = check(Path(args.qemu_src), args.version, Path(args.explained) if args.explained else EXPLAINED)
    except TreeError as e:
        raise UsageError(str(e)) from None
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(f"{report.tree}: QEMU {report.tree_version}; {report.version_note}")
        print("found: " + ", ".join(f"{k} {v}" for k, v in report.found.items()))
        print(f"modelled {len(report.modelled)}, explained {len(report.explained)}, "
              f"unexplained {len(report.unexplained)}")
        if args.verbose:
            _table("modelled", [(i.kind, i.text) for i in report.modelled])
            _table("explained", [(i.kind, f"{i.text}  [{i.reason}]") for i in report.explained])
        _table("unexplained: in QEMU, not in the model",
               [(i.kind, i.text) for i in report.unexplained if i.where == "qemu"])
        _table("unexplained: in the model, not in QEMU",
               [(i.kind, i.text) for i in report.unexplained if i.where == "model"])
        if args.verbose:
            for unused in report.unused_explanations:
                print(f"note: explanation not used on this tree: {unused.kind} {unused.match}", file=sys.stderr)
        for n in report.notes:
            print(f"note: {n}", file=sys.stderr)
    return EXIT_DRIFT if report.unexplained else EXIT_OK


def _table(title: str, rows: list[tuple[str, str]]) -> None:
    if not rows:
        return
    print(f"\n{title} ({len(rows)}):")
    width = max(len(k) for k, _ in rows)
    for kind, text in rows:
        print(f"  {kind:<{width}}  {text}")
