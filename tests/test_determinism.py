"""The reachable graphs and the verdicts do not depend on the run or on Python's hash seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from typing import Any

import pytest

from checker.explore import explore
from model import config as C
from model.system import MigrationModel

SEEDS = ("0", "12345")

_FINGERPRINTS = """
import json
from checker.explore import explore
from model import config as C
from model.system import MigrationModel
print(json.dumps({n: explore(MigrationModel(c)).fingerprint() for n, c in C.NAMED.items()}))
"""


def _run(args: list[str], seed: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=600, check=False)


def fingerprints_here() -> dict[str, str]:
    return {n: explore(MigrationModel(c)).fingerprint() for n, c in C.NAMED.items()}


@cache
def first_fingerprints() -> dict[str, str]:
    """This process's first run (shared by the tests that compare against it)."""
    return fingerprints_here()


@cache
def fingerprints_with_seed(seed: str) -> dict[str, str]:
    proc = _run([sys.executable, "-c", _FINGERPRINTS], seed)
    assert proc.returncode == 0, proc.stderr
    data: dict[str, str] = json.loads(proc.stdout)
    return data


def _without_timing(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_timing(v) for k, v in value.items() if k not in ("seconds", "time", "elapsed")}
    if isinstance(value, list):
        return [_without_timing(v) for v in value]
    return value


@cache
def verify_json_with_seed(seed: str) -> Any:
    proc = _run([sys.executable, "-m", "checker.cli", "verify", "--json", "--quiet"], seed)
    assert proc.returncode in (0, 1), proc.stderr
    return _without_timing(json.loads(proc.stdout))


def test_fingerprints_identical_across_runs() -> None:
    first, second = first_fingerprints(), fingerprints_here()
    assert first == second
    assert set(first) == set(C.NAMED)


@pytest.mark.parametrize("seed", SEEDS)
def test_fingerprints_identical_across_hash_seeds(seed: str) -> None:
    assert fingerprints_with_seed(seed) == first_fingerprints()


def test_verify_json_identical_across_hash_seeds() -> None:
    a, b = (verify_json_with_seed(s) for s in SEEDS)
    assert json.dumps(a) == json.dumps(b)  # same content in the same order
    # The fingerprints verify reports are the ones computed in this process (another seed).
    assert {n: r["fingerprint"] for n, r in a["configs"].items()} == first_fingerprints()
