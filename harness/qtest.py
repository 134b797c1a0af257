"""``migmodel qtest``: run QEMU's own migration tests on the built 10.2 and check them against the model.

QEMU ships ``tests/qtest/migration-test``, written by its migration maintainers. This command runs
a chosen set of its tests on the QEMU 10.2.2 that ``harness/setup-qemu.sh --with-10.2`` builds
(the test binary is built in the same tree), records both QEMUs of each test through
``harness/qtest_wrapper.py`` (as ``QTEST_QEMU_BINARY``), merges them into one trace
(``harness/qtest_trace.py``, format ``harness/TRACE_FORMAT.md``) and runs ``migmodel conform`` on
it against the configuration the test set up (versions, capabilities, ``exit-on-error``, read from
the trace's ``meta`` as for any trace) and, where one matches, against a named configuration.

Which tests the model explains, which not and why: ``harness/qtest_scope.json`` (every test that
``migration-test --full -l`` lists is in one of its two lists; an unknown one is reported).

Usage::

    migmodel qtest [--test PATH ...] [--set in-scope|ci] [--out-dir DIR] [--build DIR]
                   [--timeout S] [--no-conform] [--list]

Exit codes: 0 every test passed and every trace was accepted (or rejected as a known model gap of
``qtest_scope.json``); 1 a test failed or timed out, or its trace was rejected otherwise; 2 bad
input (unknown or out-of-scope test, no built QEMU or migration-test); 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCOPE_FILE = HERE / "qtest_scope.json"
WRAPPER = HERE / "qtest_wrapper.py"
PREFIX = "/x86_64/migration/"
DEFAULT_BUILD = Path(os.environ.get("MIGMODEL_BUILD_DIR", "/var/cache/migmodel/build")) / "qemu-10.2.2" / "build"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class QtestUsage(Exception):
    """Bad input: one line on stderr, exit 2."""


@dataclass(frozen=True)
class Scope:
    """``harness/qtest_scope.json``: tests the model explains (with the named configuration that
    matches their set-up, or null), tests in scope whose traces show a model gap (with what the
    model lacks), and tests out of scope (with the reason)."""

    in_scope: dict[str, dict[str, Any]]
    out_of_scope: dict[str, str]
    gaps: dict[str, str]
    ci: tuple[str, ...]
    listed: tuple[str, ...] = ()

    def below(self, test: str) -> list[str]:
        """The listed tests under ``test`` (GLib's ``-p PATH`` runs those too; they are skipped)."""
        return [t for t in self.listed if t.startswith(test.rstrip("/") + "/")]

    def reason(self, test: str) -> str | None:
        """Why ``test`` is out of scope (the longest matching prefix's reason), or None."""
        best = None
        for prefix, why in self.out_of_scope.items():
            matches = test == prefix or test.startswith(prefix)
            if matches and (best is None or len(prefix) > len(best[0])):
                best = (prefix, why)
        return None if best is None else best[1]


def load_scope(path: Path = SCOPE_FILE) -> Scope:
    data = json.loads(path.read_text())
    return Scope(in_scope=dict(data["in_scope"]), out_of_scope=dict(data["out_of_scope"]),
                 gaps=dict(data.get("model_gaps", {})),
                 ci=tuple(data["ci"]), listed=tuple(data.get("listed", ())))


def trace_name(test: str) -> str:
    """``/x86_64/migration/postcopy/recovery/plain`` -> ``postcopy-recovery-plain.jsonl``."""
    return test.removeprefix(PREFIX).replace("/", "-") + ".jsonl"


def qemu_version(qemu: Path) -> str:
    out = subprocess.run([str(qemu), "--version"], capture_output=True, text=True, timeout=30, check=False)
    first = out.stdout.split("version ", 1)[-1].split()
    if out.returncode != 0 or not first:
        raise QtestUsage(f"{qemu} --version failed")
    return first[0]


def wrapper_link(directory: Path) -> Path:
    """The wrapper under the name ``qemu-system-x86_64`` in ``directory``: libqtest takes the
    target architecture from the binary's name (``qtest_get_arch``)."""
    link = directory / "qemu-system-x86_64"
    if not link.exists():
        link.symlink_to(WRAPPER)
    return link


@dataclass
class Outcome:
    test: str
    passed: bool
    seconds: float
    trace: Path | None
    conform: int | None  # exit code of `migmodel conform`, None when not run
    detail: str = ""


def run_one(test: str, test_bin: Path, qemu: Path, version: str, out_dir: Path, timeout: float,
            conform: bool, named: str | None, keep_raw: Path | None = None,
            skip: Sequence[str] = ()) -> Outcome:
    """Run one test under the wrapper, write its trace, check it against its own configuration
    and against ``named`` (when not None)."""
    top = Path(tempfile.mkdtemp(prefix="migmodel-qtest-"))
    work = top / "instances"
    work.mkdir()
    env = {**os.environ, "QTEST_QEMU_BINARY": str(wrapper_link(top)), "MIGMODEL_QTEST_DIR": str(work),
           "MIGMODEL_QTEST_QEMU": str(qemu)}
    env.pop("QTEST_LOG", None)
    t0 = time.monotonic()
    argv = [str(test_bin), "--full", "-p", test]
    for other in skip:
        argv += ["-s", other]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
        passed = proc.returncode == 0
        detail = "" if passed else f"migration-test exit {proc.returncode}: " + " | ".join(output.splitlines()[-3:])
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the test and the QEMUs it started (same session)
        proc.communicate()
        passed, detail = False, f"timed out after {timeout:.0f} s"
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    seconds = time.monotonic() - t0
    from harness.qtest_trace import QtestTraceError, convert, write

    try:
        lines = convert(work, test, version, ok=passed, wall_s=seconds)
    except QtestTraceError as exc:
        shutil.rmtree(top, ignore_errors=True)
        return Outcome(test, passed, seconds, None, None, (detail + "; " if detail else "") + str(exc))
    out = out_dir / trace_name(test)
    write(lines, out)
    if keep_raw is not None:
        shutil.rmtree(keep_raw, ignore_errors=True)
        shutil.copytree(work, keep_raw)
    shutil.rmtree(top, ignore_errors=True)
    code = None
    if conform:
        from checker.cli import main as migmodel

        code = migmodel(["conform", str(out)])
        if code == 0 and named is not None:
            code = migmodel(["conform", "--config", named, str(out)])
    return Outcome(test, passed, seconds, out, code, detail)


def cmd_qtest(args: argparse.Namespace) -> int:
    scope = load_scope()
    build = Path(args.build)
    test_bin, qemu = build / "tests" / "qtest" / "migration-test", build / "qemu-system-x86_64"
    if args.list:
        for test, entry in scope.in_scope.items():
            gap = scope.gaps.get(test)
            print(f"in scope      {test}  (named configuration {entry['named']})"
                  + (f"\n              model gap: {gap}" if gap else ""))
        for prefix, why in scope.out_of_scope.items():
            print(f"out of scope  {prefix}  {why}")
        return EXIT_OK
    if args.tests:
        tests = [t if t.startswith("/") else PREFIX + t for t in args.tests]
    elif args.set == "ci":
        tests = list(scope.ci)
    else:
        tests = list(scope.in_scope)
    for test in tests:
        if test not in scope.in_scope:
            reason = scope.reason(test)
            raise QtestUsage(f"{test} is out of the model's scope: {reason}" if reason
                             else f"{test} is not a known in-scope test (see migmodel qtest --list)")
    for path in (test_bin, qemu):
        if not os.access(path, os.X_OK):
            raise QtestUsage(f"{path} not found; run harness/setup-qemu.sh --with-10.2")
    version = qemu_version(qemu)
    out_dir = Path(args.out_dir)
    failures = 0
    for test in tests:
        named = scope.in_scope[test]["named"]
        raw = Path(args.keep_raw) / trace_name(test).removesuffix(".jsonl") if args.keep_raw else None
        o = run_one(test, test_bin, qemu, version, out_dir, args.timeout, not args.no_conform, named, raw,
                    scope.below(test))
        gap = scope.gaps.get(test)
        verdict = "-" if o.conform is None else ("accepted" if o.conform == 0 else f"conform exit {o.conform}")
        if gap and o.conform == 1:
            verdict = f"rejected, a known model gap: {gap}"
        elif gap and o.conform == 0:
            verdict = "accepted although listed as a model gap (remove it from model_gaps)"
        print(f"{test}: {'passed' if o.passed else 'FAILED'} in {o.seconds:.1f} s; trace {o.trace}; "
              f"{verdict}{'; ' + o.detail if o.detail else ''}", flush=True)
        failures += (not o.passed) or o.trace is None or (o.conform not in (None, 0) and not (gap and o.conform == 1))
    print(f"{len(tests) - failures} of {len(tests)} tests passed and conform (or are rejected as a known model gap)")
    return EXIT_FAILED if failures else EXIT_OK


def build_parser(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--test", action="append", dest="tests", metavar="PATH",
                   help="a test path (e.g. postcopy/plain or /x86_64/migration/postcopy/plain); repeatable")
    p.add_argument("--set", choices=("in-scope", "ci"), default="in-scope",
                   help="the tests to run when no --test is given (default: every in-scope test)")
    p.add_argument("--out-dir", default="qtest-traces", metavar="DIR", help="where the traces go")
    p.add_argument("--build", default=str(DEFAULT_BUILD), metavar="DIR", help="the configured 10.2.2 build tree")
    p.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS", help="bound per test, seconds")
    p.add_argument("--no-conform", action="store_true", help="record only")
    p.add_argument("--keep-raw", metavar="DIR", help="also keep the wrapper's per-instance files under DIR/<test>")
    p.add_argument("--list", action="store_true", help="list the in-scope and out-of-scope tests")
    return p


def _run(args: argparse.Namespace) -> int:
    from checker.cli_base import UsageError

    try:
        return cmd_qtest(args)
    except QtestUsage as exc:
        raise UsageError(str(exc)) from None


def register(sub: Any, name: str) -> None:
    """The ``migmodel qtest`` subcommand (entry point group ``migmodel.commands``)."""
    from checker.cli_base import add_command

    p = add_command(
        sub, name, help="run QEMU's migration-test on the built 10.2 and check its traces",
        description="Run tests of QEMU's own tests/qtest/migration-test on the QEMU 10.2.2 built by "
                    "harness/setup-qemu.sh --with-10.2, record every QEMU a test starts as a trace (through "
                    "harness/qtest_wrapper.py) and check each trace with conform against its configuration.",
        examples=["migmodel qtest --list", "migmodel qtest --test postcopy/recovery/plain --out-dir /tmp/qt",
                  "migmodel qtest --set ci"],
        exits={0: "every test passed and every trace was accepted",
               1: "a test failed or a trace was rejected"})
    build_parser(p)
    p.set_defaults(func=_run)


def main(argv: list[str]) -> int:
    """``python -m harness.qtest ...`` (the same as ``migmodel qtest``)."""
    p = build_parser(argparse.ArgumentParser(prog="qtest", description=__doc__.splitlines()[0]))
    args = p.parse_args(argv)
    try:
        return cmd_qtest(args)
    except QtestUsage as exc:
        print(f"qtest: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("qtest: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
