"""``migmodel record``: record a real QEMU migration as a trace (delegates to ``harness.record``)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any, name: str) -> None:
    p = sub.add_parser(name, help="record a real QEMU migration scenario as a JSONL trace",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    return run_record(list(args.rest))


def run_record(argv: list[str]) -> int:
    # Imported by name: the harness (and its qemu.qmp dependency) is optional for the checker.
    from importlib import import_module

    code: int = import_module("harness.record").main(argv)
    return code
