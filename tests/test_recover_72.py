"""QEMU 7.2: a stream error while both sides are in ``postcopy-recover`` (docs/drift-7.2-recover.md).

The recorded run (``python -m harness.recover_window``) is a behaviour of the ``qemu-7.2`` model;
the same lines with what 8.2+ does instead (the destination or the source back in
``postcopy-paused``) are not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from checker.cli import main as migmodel

TRACE = Path(__file__).parent / "fixtures" / "traces" / "variants" / "7.2-to-7.2" / "b3_reset_in_recover.jsonl"


def _lines() -> list[dict[str, Any]]:
    return [json.loads(ln) for ln in TRACE.read_text(encoding="utf-8").splitlines()]


def _write(tmp_path: Path, lines: list[dict[str, Any]]) -> Path:
    out = tmp_path / "b3_reset_in_recover.jsonl"
    out.write_text("".join(json.dumps(ln) + "\n" for ln in lines), encoding="utf-8")
    return out


def _event(side: str, status: str, t: float) -> dict[str, Any]:
    return {"side": side, "timestamp": {"seconds": 1, "microseconds": 0}, "event": "MIGRATION",
            "data": {"status": status}, "t": t}


def _index(lines: list[dict[str, Any]], **match: Any) -> int:
    return next(i for i, ln in enumerate(lines) if all(ln.get(k) == v for k, v in match.items()))


def test_the_recording_shows_the_crash_and_the_wait() -> None:
    lines = _lines()
    assert lines[0]["meta"]["src_version"].startswith("7.2") and lines[0]["meta"]["dst_version"].startswith("7.2")
    reset = _index(lines, fault="reset")
    dst_exit = _index(lines, side="dst", exit=-11)  # SIGSEGV
    assert reset < dst_exit and not lines[dst_exit].get("teardown")
    statuses = [ln["data"]["status"] for ln in lines if ln.get("event") == "MIGRATION" and not ln.get("teardown")]
    assert statuses[-2:] == ["postcopy-recover", "postcopy-recover"]
    final = lines[_index(lines, side="src", command="query-migrate")]
    assert final["return"]["status"] == "postcopy-recover"


def test_accepted_by_the_7_2_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert migmodel(["conform", "--config", "qemu-7.2", str(TRACE)]) == 0, capsys.readouterr().out


def test_a_7_2_destination_that_pauses_again_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """8.2+'s destination: ``postcopy-recover -> postcopy-paused``, and it lives on."""
    lines = _lines()
    dst_exit = _index(lines, side="dst", exit=-11)
    lines[dst_exit] = _event("dst", "postcopy-paused", lines[dst_exit]["t"])
    assert migmodel(["conform", "--config", "qemu-7.2", str(_write(tmp_path, lines))]) == 1
    assert "rejected" in capsys.readouterr().out


def test_a_7_2_source_that_pauses_again_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """8.2+'s source: the return path's error kicks the resume wait, ``postcopy-recover ->
    postcopy-paused``; its final ``query-migrate`` says so too."""
    lines = _lines()
    dst_exit = _index(lines, side="dst", exit=-11)
    lines.insert(dst_exit + 1, _event("src", "postcopy-paused", lines[dst_exit]["t"] + 0.01))
    query = _index(lines, side="src", command="query-migrate")
    lines[query] = {**lines[query], "return": {**lines[query]["return"], "status": "postcopy-paused"}}
    assert migmodel(["conform", "--config", "qemu-7.2", str(_write(tmp_path, lines))]) == 1
    assert "rejected" in capsys.readouterr().out
