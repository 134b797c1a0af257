"""The verdict matrix against the pinned manifest, and the verdicts the reference predicts.

``tests/manifest.json`` pins, per configuration, the state/edge counts, depth, every verdict and
every counterexample length. A model change that moves any of them fails here; regenerate with
``make manifest`` and say in the commit message why the numbers moved.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from checker import verify as V
from checker.cli import load_suite, main

MANIFEST = pathlib.Path(__file__).with_name("manifest.json")


@pytest.fixture(scope="module")
def results() -> dict[str, dict[str, Any]]:
    suite = load_suite()
    configs, props = V.select(suite, None, None)
    return {n: V.result_to_json(V.run_config(suite, n, c, props), timing=False) for n, c in configs.items()}


def test_matrix_matches_the_pinned_manifest(results: dict[str, dict[str, Any]]) -> None:
    expected = json.loads(MANIFEST.read_text())
    assert set(expected) == set(results)
    assert V.diff_manifest(expected, V.manifest_of(results)) == []


def verdict(results: dict[str, dict[str, Any]], config: str, prop: str) -> bool:
    holds: bool = results[config]["properties"][prop]["holds"]
    return holds


def test_pre_10_2_sources_are_stranded_by_a_device_load_failure(results: dict[str, dict[str, Any]]) -> None:
    for cfg in ("qemu-7.2", "qemu-10.0", "qemu-7.2-to-11.1"):
        assert not verdict(results, cfg, "resumes-after-device-load-failure"), cfg


def test_10_2_sources_with_a_return_path_resume_after_a_device_load_failure(
        results: dict[str, dict[str, Any]]) -> None:
    for cfg in ("qemu-10.2", "qemu-11.1", "qemu-11.1-to-7.2", "qemu-11.1-busy-guest"):
        assert verdict(results, cfg, "device-load-failure-resumed"), cfg
    # ... always, when pages remain to wake the destination's listen thread, or when an old
    # destination exits by itself:
    for cfg in ("qemu-11.1-busy-guest", "qemu-10.2-busy-guest", "qemu-11.1-to-7.2"):
        assert verdict(results, cfg, "resumes-after-device-load-failure"), cfg
    # ... but not when the source waits for the PONG with nothing pending (real-qemu.md: 10 of 11).
    assert not verdict(results, "qemu-11.1", "resumes-after-device-load-failure")


def test_the_headline_claim(results: dict[str, dict[str, Any]]) -> None:
    """Before the PONG, the source can always resume: only on 10.2+ with a busy guest."""
    holds = {c for c in results if verdict(results, c, "source-resumable-before-pong")}
    assert holds == {"qemu-11.1-busy-guest", "qemu-10.2-busy-guest", "qemu-11.1-shared-disk-busy-guest"}
    for c in results:
        assert verdict(results, c, "pre-pong-failure-reached"), c  # never vacuous


def test_bitmaps_only_skips_postcopy_device(results: dict[str, dict[str, Any]]) -> None:
    assert not verdict(results, "qemu-10.2-bitmaps-only", "source-in-postcopy-device")
    assert not verdict(results, "qemu-10.2-bitmaps-only", "source-resumable-before-pong")


def test_lost_pong_split_brain_only_without_disk_locks(results: dict[str, dict[str, Any]]) -> None:
    for c in ("qemu-10.2", "qemu-11.1", "qemu-11.1-to-7.2", "qemu-11.1-busy-guest"):
        assert not verdict(results, c, "no-split-brain"), c
        assert not verdict(results, c, "postcopy-device-means-dst-not-run"), c
    for c in ("qemu-11.1-shared-disk", "qemu-11.1-shared-disk-busy-guest"):
        assert verdict(results, c, "no-split-brain"), c


def test_json_output_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["verify", "--config", "qemu-10.2-bitmaps-only", "--json", "--quiet"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1  # some property is violated
    cfg = out["configs"]["qemu-10.2-bitmaps-only"]
    assert isinstance(cfg["states"], int) and isinstance(cfg["edges"], int)
    prop = cfg["properties"]["no-split-brain"]
    assert prop["holds"] is False
    step = prop["counterexample"][-1]
    assert {"action", "actor", "state"} <= set(step) and {"src", "dst"} <= set(step["state"])


def test_state_limit_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--config", "qemu-11.1", "--max-states", "100", "--quiet"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "100" in err[0]
