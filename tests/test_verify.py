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
    return {r.name: V.result_to_json(r, timing=False) for r in V.run_configs(suite, configs, props)}


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
    from model.config import NAMED

    postcopy = [c for c in results if NAMED[c].postcopy]
    holds = {c for c in postcopy if verdict(results, c, "source-resumable-before-pong")}
    assert holds == {"qemu-11.1-busy-guest", "qemu-10.2-busy-guest", "qemu-11.1-shared-disk-busy-guest"}
    for c in postcopy:
        assert verdict(results, c, "pre-pong-failure-reached"), c  # never vacuous
    # A precopy-only configuration never waits for a PONG: the claim is vacuous there, and its
    # witness says so.
    for c in set(results) - set(postcopy):
        assert not verdict(results, c, "pre-pong-failure-reached"), c


def test_bitmaps_only_skips_postcopy_device(results: dict[str, dict[str, Any]]) -> None:
    assert not verdict(results, "qemu-10.2-bitmaps-only", "source-in-postcopy-device")
    assert not verdict(results, "qemu-10.2-bitmaps-only", "source-resumable-before-pong")


def test_lost_pong_split_brain_only_without_disk_locks(results: dict[str, dict[str, Any]]) -> None:
    for c in ("qemu-10.2", "qemu-11.1", "qemu-11.1-to-7.2", "qemu-11.1-busy-guest"):
        assert not verdict(results, c, "no-split-brain"), c
        assert not verdict(results, c, "postcopy-device-means-dst-not-run"), c
    for c in ("qemu-11.1-shared-disk", "qemu-11.1-shared-disk-busy-guest", "qemu-10.2-shared-disk",
              "qemu-11.1-to-7.2-shared-disk"):
        assert verdict(results, c, "no-split-brain"), c
    # Before 10.2 the source restarts its guest even when it cannot get its disks back (patch 2).
    assert not verdict(results, "qemu-10.0-shared-disk", "no-split-brain")


def _faults_and_operator(results: dict[str, dict[str, Any]], config: str, prop: str) -> list[str]:
    steps = results[config]["properties"][prop]["counterexample"]
    return [s["action"] for s in steps
            if s.get("actor") == "fault" or (s.get("actor", "").endswith("/qmp")
                                              and s["action"] not in ("migrate", "migrate-incoming"))]


def test_no_fault_free_split_brain(results: dict[str, dict[str, Any]]) -> None:
    """Every split brain needs a fault or an operator's command beyond starting the migration
    (the bitmaps-only source no longer fails on the destination's orderly close)."""
    for c in results:
        if not verdict(results, c, "no-split-brain"):
            assert _faults_and_operator(results, c, "no-split-brain"), c


def test_a_silent_partition_strands_an_11_1_source_waiting_for_pong(results: dict[str, dict[str, Any]]) -> None:
    """real-qemu.md: a silent partition after the switchover left 11.1.3 stuck (6 of 6)."""
    assert not verdict(results, "qemu-11.1-to-7.2", "no-stuck-state")
    assert any(a.startswith("partition") for a in _faults_and_operator(results, "qemu-11.1-to-7.2", "no-stuck-state"))


def test_after_a_partition_both_guests_run_or_the_guest_rolls_back(results: dict[str, dict[str, Any]]) -> None:
    """real-qemu.md: RST after the silent partition ran both guests; a destination kill rolled the
    guest back, also with image locks."""
    assert not verdict(results, "qemu-11.1", "no-split-brain-after-partition")
    assert verdict(results, "qemu-11.1-shared-disk", "no-split-brain-after-partition")
    for c in ("qemu-11.1-shared-disk", "qemu-11.1-to-7.2-shared-disk"):
        assert not verdict(results, c, "no-rollback-after-partition"), c
        acts = [a for a in _faults_and_operator(results, c, "no-rollback-after-partition")
                if a != "migrate-start-postcopy"]
        assert acts[0].startswith("partition") and "dst-crash" in acts, (c, acts)


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
