"""What the ``migmodel`` shell (``checker/cli.py``) and its subcommand modules share.

Subcommand modules (``checker/*_cli.py`` and the plugins' ``register(sub, name)`` modules) import
this module, never ``checker.cli``, so the shell and its subcommands do not import each other.
It holds the exit codes, ``UsageError``, the argument parser that turns a bad argument into one
line, ``add_command`` (a subcommand with a description, an example and the exit codes in its
``--help``), ``load_suite`` and ``write_atomic``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import textwrap
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from checker.spec import Suite

__all__ = (
    "EXIT_INTERRUPTED",
    "EXIT_LIMIT",
    "EXIT_OK",
    "EXIT_USAGE",
    "EXIT_VIOLATED",
    "WIDTH",
    "Parser",
    "UsageError",
    "add_command",
    "at_least",
    "columns",
    "load_suite",
    "one_line",
    "write_atomic",
)

EXIT_OK, EXIT_VIOLATED, EXIT_USAGE, EXIT_LIMIT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

WIDTH = 120
"""Columns the terminal output and ``--help`` fit in (fewer when the terminal is narrower)."""


class UsageError(Exception):
    """Bad input from the user: reported in one line (``migmodel COMMAND: error: ...``), exit 2.
    ``prog`` names the command when the raiser knows it better than the shell (argparse)."""

    def __init__(self, message: str, *, prog: str | None = None) -> None:
        super().__init__(message)
        self.prog = prog


def columns() -> int:
    """The width to fit: the terminal's, at most ``WIDTH``."""
    return max(40, min(WIDTH, shutil.get_terminal_size((WIDTH, 24)).columns))


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=columns(), max_help_position=32)


class Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is a ``UsageError`` (one line on stderr, exit code 2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, prog=self.prog)


EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_VIOLATED: "a property is violated, a counterexample was found or a check failed",
    EXIT_USAGE: "bad input (unknown name, unreadable file, bad argument): one line on stderr",
    EXIT_LIMIT: "the state limit (--max-states) was reached",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); nothing half-written is left",
}


def add_command(sub: Any, name: str, *, help: str, description: str, examples: Sequence[str],
                exits: dict[int, str]) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` has a description, examples and its exit codes: ``exits``
    gives the command's own (0, and 1 or 3 where they apply); 2 and 130 mean the same everywhere."""
    width = columns() - 2
    codes = {EXIT_USAGE: EXIT_CODES[EXIT_USAGE], EXIT_INTERRUPTED: EXIT_CODES[EXIT_INTERRUPTED], **exits}
    lines = ["examples:"]
    for example in examples:  # long ones go on as shell continuation lines
        parts = textwrap.wrap(example, width - 4, subsequent_indent="    ", break_on_hyphens=False,
                              break_long_words=False)
        lines += [*(f"  {part} \\" for part in parts[:-1]), f"  {parts[-1]}"]
    lines += ["", "exit codes:"]
    lines += [textwrap.fill(text, width, initial_indent=f"  {code:<4}", subsequent_indent=" " * 6)
              for code, text in sorted(codes.items())]
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help, description=textwrap.fill(description, width),
                                                     epilog="\n".join(lines))
    return parser


def at_least(minimum: int) -> Any:
    """An argparse ``type``: an integer >= ``minimum`` (else a one-line usage error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, not {value}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def load_suite(name: str = "qemu") -> Suite:
    """The model suite registered under ``name`` in the ``migmodel.suites`` entry point group."""
    found = {ep.name: ep for ep in entry_points(group="migmodel.suites")}
    if name not in found:
        raise UsageError(f"model suite {name!r} is not installed (installed: {', '.join(found) or 'none'}); "
                         "run `pip install -e .` in the repository")
    suite: Suite = found[name].load()()
    return suite


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: str, data: str | bytes) -> None:
    """Write a file whole or not at all: a temporary file in the same folder, then rename. The file
    gets the mode a plain ``open`` would give it (0644 under the usual umask 022)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


_LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


def one_line(message: object) -> str:
    """``message`` on one line: line breaks that came with user input are shown escaped."""
    return str(message).translate(_LINE_BREAKS)
