"""The command line as a user meets it: help, version, listings, output width, the summary line,
``--quiet``, the error format, file modes and Ctrl-C. Run through ``main(argv)`` or the real
``migmodel`` entry point (a subprocess)."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from checker.cli import build_parser, main
from checker.cli_base import WIDTH
from properties.qemu import PROPERTIES

FAST = "qemu-10.2-bitmaps-only"  # the smallest configuration
ERROR = re.compile(r"migmodel( [a-z]+)?: error: \S")


def _migmodel() -> list[str]:
    exe = Path(sys.executable).with_name("migmodel")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "checker.cli"]


def run(*argv: str, env: dict[str, str] | None = None, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_migmodel(), *argv], capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "COLUMNS": "200", **(env or {})}, **kw)


def _subcommands() -> dict[str, Any]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(getattr(action, "choices", None), dict):
            return dict(action.choices)  # type: ignore[arg-type]
    raise AssertionError("no subcommands")


COMMANDS = sorted(_subcommands())


def test_every_command_is_listed() -> None:
    assert {"configs", "properties", "simulate", "verify", "fuzz", "graph", "report", "conform", "mutants",
            "record"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_a_description_examples_exit_codes_and_help_on_every_option(command: str) -> None:
    proc = run(command, "--help")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert max(len(line) for line in out.splitlines()) <= WIDTH, out
    parser = _subcommands()[command]
    assert parser.description and len(parser.description) > 20
    assert "examples:\n  migmodel " + command in out
    codes = out.split("exit codes:", 1)[1]
    for code in ("0", "2", "130"):
        assert re.search(rf"^  {code} +\S", codes, re.M), (code, codes)
    for action in parser._actions:
        assert action.help, f"{command}: {action.option_strings or action.dest} has no help"


def test_top_level_help_and_version() -> None:
    proc = run("--help")
    assert proc.returncode == 0 and all(c in proc.stdout for c in COMMANDS)
    proc = run("--version")
    assert proc.returncode == 0 and re.fullmatch(r"migmodel \d+\.\d+\S*\n", proc.stdout), proc.stdout


def test_properties_lists_name_kind_and_claim(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["properties", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(p["name"], p["kind"], p["claim"]) for p in listed] == [(p.name, p.kind.value, p.claim)
                                                                     for p in PROPERTIES]
    proc = run("properties")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= WIDTH
    text = " ".join(" ".join(lines).split())
    for p in PROPERTIES:
        row = next(line for line in lines if line.startswith(p.name + " "))
        assert p.kind.value in row.split()
        assert " ".join(p.claim.split()[:4]) in text  # the claim, wrapped, not cut
        assert "…" not in text


def test_verify_fits_120_columns_hides_nothing_and_ends_with_a_summary() -> None:
    proc = run("verify", "--config", "qemu-11.1", "--config", FAST, "--property", "source-resumable-before-pong")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= WIDTH
    # the package's content, PING 0x42 included, is shown (wrapped), not cut at the column's edge
    assert "MIG_CMD_PING(0x42)" in proc.stdout
    assert re.fullmatch(r"verify: 2 configurations x 2 properties, [\d,]+ states in [\d.]+s: 2 violated, 2 reached",
                        lines[-1]), lines[-1]


def test_cut_text_is_marked() -> None:
    from checker.render import table_lines, wrap_cell

    assert wrap_cell("a" * 50, 10, max_lines=2) == ["a" * 10, "a" * 9 + "…"]
    assert wrap_cell("MIG_CMD_X, MIG_CMD_PING(0x42)", 16) == ["MIG_CMD_X,", "MIG_CMD_PING(0x4", "2)"]
    lines = table_lines(["name", "text"], [["n", "word " * 100]], width=40, max_lines=3)
    assert max(len(line) for line in lines) <= 40 and lines[-1].endswith("…")


def test_verify_quiet_prints_the_summary_line_only() -> None:
    proc = run("verify", "--config", FAST, "--quiet")
    assert proc.returncode == 1
    assert proc.stdout.count("\n") == 1 and proc.stdout.startswith("verify: 1 configuration x "), proc.stdout
    assert proc.stderr == ""


def test_verify_summary_with_a_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "m.json"
    assert run("verify", "--config", FAST, "--quiet", "--write-manifest", str(manifest)).returncode == 1
    proc = run("verify", "--config", FAST, "--quiet", "--check-manifest", str(manifest))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rstrip().endswith(f": every verdict and count matches {manifest}"), proc.stdout
    assert len(proc.stdout.splitlines()) == 1


@pytest.mark.parametrize("argv", [
    ["verify", "--config", "qemu-99"],
    ["verify", "--max-states", "0"],
    ["verify", "--max-states", "-5"],
    ["mutants", "--max-states", "0"],
    ["graph", "--config", FAST, "--out", "x", "--max-states", "0"],
    ["report", "--out", "x", "--max-states", "0"],
    ["conform", "--max-states", "0", "x.jsonl"],
    ["fuzz", "--config", FAST, "--steps", "0"],
    ["simulate", "--config", FAST, "--steps", "-1"],
    ["record", "--scenario", "no-such-scenario", "--src-qemu", "q", "--dst-qemu", "q", "--out", "t.jsonl"],
    ["properties", "--nope"],
    ["no-such-command"],
])
def test_one_error_format(argv: list[str], tmp_path: Path) -> None:
    proc = run(*argv, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert ERROR.match(proc.stderr), proc.stderr
    if argv[0] != "no-such-command":
        assert proc.stderr.startswith(f"migmodel {argv[0]}: error: "), proc.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_max_states_zero_and_negative_agree(capsys: pytest.CaptureFixture[str]) -> None:
    for value in ("0", "-5"):
        assert main(["verify", "--config", FAST, "--max-states", value]) == 2
        assert "--max-states: must be >= 1" in capsys.readouterr().err
    assert main(["verify", "--config", FAST, "--max-states", "1", "--quiet"]) == 3
    assert "state limit" in capsys.readouterr().err


def test_graph_out_existing_file(tmp_path: Path) -> None:
    existing = tmp_path / "file.svg"
    existing.write_text("keep me")
    proc = run("graph", "--config", FAST, "--kind", "machine", "--out", str(existing))
    assert proc.returncode == 2
    assert proc.stderr.startswith("migmodel graph: error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert existing.read_text() == "keep me"


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_respect_the_umask(umask: int, mode: int, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "m.json"
    old = os.umask(umask)
    try:
        main(["verify", "--config", FAST, "--quiet", "--write-manifest", str(manifest)])
    finally:
        os.umask(old)
    assert stat.S_IMODE(manifest.stat().st_mode) == mode


def test_ctrl_c_during_start_up_is_one_line() -> None:
    """SIGINT while the modules load (numpy is mapped, the model not yet explored): exit 130, one line."""
    for _attempt in range(3):
        proc = subprocess.Popen([*_migmodel(), "verify", "--config", "qemu-7.2"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        loaded = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                loaded = "numpy" in Path(f"/proc/{proc.pid}/maps").read_text()
            except OSError:
                break
            if loaded:
                break
            time.sleep(0.005)
        if not loaded:
            proc.kill()
            proc.communicate()
            continue
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, (proc.returncode, err)
        assert "Traceback" not in err and err.count("\n") == 1 and "interrupted" in err, err
        return
    pytest.skip("could not catch the process while it loaded its modules")


def test_a_closed_pipe_is_no_traceback() -> None:
    proc = subprocess.run(f"{' '.join(_migmodel())} properties | head -n 1", shell=True, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.stdout.startswith("name") and "Traceback" not in proc.stderr, proc.stderr


def test_the_mutants_table_fits_and_hides_no_killer() -> None:
    from checker.mutants_cli import ConfigKill, MutantResult, table_lines

    killers = [p.name for p in PROPERTIES[:12]]
    result = MutantResult("a-mutant-with-a-long-name", "doc", False,
                          [ConfigKill("qemu-11.1-shared-disk-busy-guest", 10, killers, 7),
                           ConfigKill("qemu-7.2-to-11.1", 10, killers[:2], 9)], 1.0)
    lines = table_lines([result], 120)
    assert max(len(line) for line in lines) <= 120
    text = " ".join(" ".join(lines).split())
    assert all(k in text for k in killers)
    assert "…" not in text and lines[-1] == "1 of 1 mutants killed"
