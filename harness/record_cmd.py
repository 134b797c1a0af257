"""``migmodel record``: the QEMU plugin's subcommand that records a real migration as a trace.

Registered in the ``migmodel.commands`` entry point group (``pyproject.toml``), so the generic CLI
(``checker/``) never names the harness. This module stays light (argparse only): the harness and
its ``qemu.qmp`` dependency load only when the command runs.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from checker.cli_base import EXIT_LIMIT, EXIT_OK, EXIT_VIOLATED, add_command

DEFAULT_RUN_DIR = Path(os.environ.get("MIGMODEL_RUN_DIR", "/var/cache/migmodel/run"))
"""Shared by both QEMUs; setup-qemu.sh bind-mounts it into the chroot at the same path."""


class _ListScenarios(argparse.Action):
    """``--list``: print the scenarios and exit, whatever else is missing (like ``--help``)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        from harness.record import list_scenarios

        parser.exit(list_scenarios())


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``record`` (also used by ``python -m harness.record``)."""
    p.add_argument("--list", action=_ListScenarios, help="list the scenarios and exit")
    p.add_argument("--scenario", required=True, metavar="NAME", help="scenario name (see --list)")
    p.add_argument("--src-qemu", required=True, metavar="PATH", help="source QEMU binary")
    p.add_argument("--dst-qemu", required=True, metavar="PATH", help="destination QEMU binary")
    p.add_argument("--out", required=True, type=Path, metavar="FILE", help="trace file to write (JSON Lines)")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S", help="bound on the whole run, seconds")
    p.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR, metavar="DIR",
                   help="run directory shared by both QEMUs (bind-mounted into the chroot)")


def register(sub: Any, name: str) -> None:
    p = add_command(sub, name, help="record a real QEMU migration scenario as a JSONL trace",
                    description="Run one scenario against two real QEMU binaries and write what both sides "
                    "showed as a JSON Lines trace (harness/TRACE_FORMAT.md), for `migmodel conform`.",
                    examples=["migmodel record --list",
                              "migmodel record --scenario d_devload_fail_postcopy --src-qemu harness/qemu-11.1 "
                              "--dst-qemu harness/qemu-11.1 --out d.jsonl"],
                    exits={EXIT_OK: "the trace was written",
                           EXIT_VIOLATED: "the run failed or timed out (a trace is still written when the "
                           "scenario started)",
                           EXIT_LIMIT: "the scenario does not apply to this pairing"})
    add_arguments(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from harness.record import run

    return run(args)
