"""Bad input never gives a traceback: exit code 2 and exactly one line on stderr.

Hypothesis generates bad command lines, configuration names, ``simulate --script`` files (text,
bytes, JSON) and ``verify --check-manifest`` files; ``checker.cli.main`` runs in-process for
speed, and a few cases go through the real ``migmodel`` entry point. The CI profile runs about 500
generated cases in total; ``MIGMODEL_PROFILE=thorough`` runs more than 10,000.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from checker.cli import build_parser, main
from model import config as C

THOROUGH = os.environ.get("MIGMODEL_PROFILE") == "thorough"
SCALE = 20 if THOROUGH else 1


def examples(n: int) -> settings:
    """Hypothesis settings: ``n`` cases in CI, ``20 * n`` in the thorough profile."""
    return settings(max_examples=n * SCALE, deadline=None, derandomize=not THOROUGH,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# CI: 160 + 40 + 60 + 60 + 80 + 100 = 500 generated cases; thorough: 20 times as many (10,000).

CONFIGS = set(C.NAMED)
COMMANDS = ("configs", "properties", "simulate", "verify", "fuzz", "graph", "report", "record", "conform", "mutants",
            "whatif")
FAST = "qemu-10.2-bitmaps-only"  # the smallest configuration, for cases that get past parsing


def _options() -> set[str]:
    """Every option string of every subcommand (a random flag must not abbreviate one)."""
    out: set[str] = set()
    parser = build_parser()
    for action in parser._actions:
        out.update(action.option_strings)
        choices: Any = getattr(action, "choices", None)
        if isinstance(choices, dict):
            for sub in choices.values():
                for a in sub._actions:
                    out.update(a.option_strings)
    return out


OPTIONS = _options()


def run_cli(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_usage_error(code: int, err: str) -> None:
    assert "Traceback" not in err, err
    assert code == 2, err
    assert err.endswith("\n") and err.count("\n") == 1, repr(err)
    # one format everywhere: `migmodel COMMAND: error: ...` (`migmodel: error: ...` before a command is known)
    assert re.match(r"migmodel( [a-z]+)?: error: ", err), err


text = st.text(min_size=0, max_size=40)
bad_name = text.filter(lambda s: s not in CONFIGS)
non_int = text.filter(lambda s: not _is_int(s))


def _is_int(s: str) -> bool:
    try:
        int(s)
    except ValueError:
        return False
    return True


def _not_an_option_prefix(flag: str) -> bool:
    name = flag.split("=", 1)[0]
    return name not in ("-h", "--help") and not any(o.startswith(name) for o in OPTIONS if o.startswith("--"))


bad_flag = st.text(min_size=1, max_size=20).map(lambda s: "--" + s).filter(_not_an_option_prefix)


@st.composite
def bad_argv(draw: st.DrawFn) -> list[str]:
    """A command line that must be refused while parsing or selecting."""
    kind = draw(st.sampled_from(["command", "flag", "config", "property", "int", "missing", "mutant"]))
    if kind == "command":
        cmd = draw(text.filter(lambda s: s not in COMMANDS and not s.startswith("-")))
        return [cmd, *draw(st.lists(text, max_size=3))]
    if kind == "flag":
        cmd = draw(st.sampled_from(["configs", "simulate", "verify", "mutants"]))
        return [cmd, draw(bad_flag)]
    if kind == "config":
        cmd = draw(st.sampled_from(["simulate", "verify"]))
        return [cmd, "--config", draw(bad_name)]
    if kind == "property":
        return ["verify", "--config", FAST, "--property", draw(text)]
    if kind == "int":
        opt = draw(st.sampled_from([("simulate", "--seed"), ("simulate", "--steps"), ("verify", "--max-states"),
                                    ("mutants", "--max-states")]))
        extra = ["--config", FAST] if opt[0] == "simulate" else []
        return [opt[0], *extra, opt[1], draw(non_int)]
    if kind == "missing":
        return draw(st.sampled_from([[], ["simulate"], ["simulate", "--config"], ["verify", "--config"],
                                     ["verify", "--check-manifest"], ["simulate", "--config", FAST, "--script"]]))
    return ["mutants", "--mutant", draw(text.filter(lambda s: not s.startswith("-")))]


@examples(160)
@given(argv=bad_argv())
def test_bad_arguments(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    if "--property" in argv:
        from properties.qemu import PROPERTIES
        assume(argv[-1] not in {p.name for p in PROPERTIES})  # a real property would run the check
    if argv[:1] == ["mutants"] and "--mutant" in argv:
        from model.mutants import MUTANTS
        assume(argv[-1] not in MUTANTS)
    code, _, err = run_cli(argv, capsys)
    assert_usage_error(code, err)


@examples(40)
@given(steps=st.integers(max_value=-1), max_states=st.integers(max_value=-1))
def test_negative_numbers(steps: int, max_states: int, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["simulate", "--config", FAST, "--steps", str(steps)],
                 ["verify", "--config", FAST, "--max-states", str(max_states)],
                 ["mutants", "--mutant", "ignore-shut-1", "--max-states", str(max_states)]):
        code, _, err = run_cli(argv, capsys)
        assert_usage_error(code, err)


# --- simulate --script ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="migmodel-bad-input-") as d:
        yield Path(d)


def _script_has_a_step(raw: bytes) -> bool:
    """True unless the file is an empty script (which is a valid, zero-step run)."""
    try:
        t = raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    if t.lstrip().startswith("["):
        try:
            data = json.loads(t)
        except (ValueError, RecursionError):
            return True
        return bool(data != [])
    return any(line.split("#", 1)[0].strip() for line in t.splitlines())


def simulate_script(raw: bytes, scratch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assume(_script_has_a_step(raw))
    path = scratch / "script.txt"
    path.write_bytes(raw)
    code, _, err = run_cli(["simulate", "--config", FAST, "--script", str(path)], capsys)
    assert_usage_error(code, err)


@examples(60)
@given(body=st.text(max_size=300))
def test_bad_script_text(body: str, scratch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    simulate_script(body.encode("utf-8", "surrogatepass"), scratch, capsys)


@examples(60)
@given(body=st.binary(max_size=300))
def test_bad_script_bytes(body: bytes, scratch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    simulate_script(body, scratch, capsys)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@examples(80)
@given(data=json_values | st.lists(st.text(max_size=30), min_size=1, max_size=5))
def test_bad_script_json(data: Any, scratch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = json.dumps(data)
    if not raw.lstrip().startswith("["):
        raw = "[" + raw  # a JSON script is recognised by its "["; this one is broken JSON
    simulate_script(raw.encode(), scratch, capsys)


# --- verify --check-manifest ------------------------------------------------------------------


def _entry_is_fine(entry: Any) -> bool:
    from checker.verify import _manifest_entry_problem
    return _manifest_entry_problem(entry) == ""


bad_entry = json_values.filter(lambda e: not _entry_is_fine(e))
bad_manifest = st.one_of(
    st.binary(max_size=200),  # not JSON or not UTF-8
    json_values.filter(lambda v: not isinstance(v, dict)),  # JSON, but not an object
    st.dictionaries(st.sampled_from(sorted(CONFIGS)), bad_entry, min_size=1, max_size=3),
    st.builds(lambda e, v: {FAST: {"states": 1, "verdicts": {"no-split-brain": v}}, **e},
              st.dictionaries(st.text(max_size=8), st.just({})), st.text(max_size=10).filter(
                  lambda v: v not in ("holds", "violated"))),
)


@examples(100)
@given(manifest=bad_manifest)
def test_bad_manifest(manifest: Any, scratch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scratch / "manifest.json"
    raw = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    if isinstance(manifest, bytes):
        with contextlib.suppress(ValueError, RecursionError):
            assume(not isinstance(json.loads(manifest), dict))
    path.write_bytes(raw)
    code, _, err = run_cli(["verify", "--config", FAST, "--check-manifest", str(path)], capsys)
    assert_usage_error(code, err)


def test_missing_files(scratch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["simulate", "--config", FAST, "--script", str(scratch / "nope")],
                 ["simulate", "--config", FAST, "--script", str(scratch)],
                 ["simulate", "--config", FAST, "--script", "a\0b"],
                 ["verify", "--config", FAST, "--check-manifest", str(scratch / "nope")],
                 ["verify", "--config", FAST, "--check-manifest", str(scratch)],
                 ["verify", "--config", FAST, "--check-manifest", "a\0b"],
                 ["verify", "--config", FAST, "--write-manifest", str(scratch)]):
        code, _, err = run_cli(argv, capsys)
        assert_usage_error(code, err)


# --- the state limit ----------------------------------------------------------------------------


def test_state_limit_writes_nothing(scratch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = scratch / "limit" / "manifest.json"
    code, _, err = run_cli(["verify", "--max-states", "10", "--write-manifest", str(target)], capsys)
    assert code == 3
    assert err.count("\n") == 1 and "state limit" in err and "Traceback" not in err
    assert not target.exists()
    assert not target.parent.exists() or list(target.parent.iterdir()) == []


# --- the real entry point -------------------------------------------------------------------------


def _entry_point(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    migmodel = Path(sys.executable).with_name("migmodel")
    cmd = [str(migmodel)] if migmodel.exists() else [sys.executable, "-m", "checker.cli"]
    return subprocess.run([*cmd, *argv], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("argv", [
    ["no-such-command"],
    ["verify", "--config", "qemu-99"],
    ["simulate", "--config", FAST, "--steps", "many"],
    ["simulate", "--config", FAST, "--script", "/nonexistent/script"],
    ["verify", "--config", FAST, "--check-manifest", "/nonexistent/manifest.json"],
    ["mutants", "--mutant", "no-such-mutant"],
])
def test_entry_point_usage_errors(argv: list[str]) -> None:
    proc = _entry_point(*argv)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr


def test_entry_point_state_limit(tmp_path: Path) -> None:
    target = tmp_path / "m.json"
    proc = _entry_point("verify", "--max-states", "10", "--write-manifest", str(target))
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not target.exists() and list(tmp_path.iterdir()) == []
