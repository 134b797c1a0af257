"""``migmodel conform``: recorded QEMU traces against the model (checker/conform.py,
properties/conformance.py).

* every recorded trace (tests/fixtures/traces, variants included) is a behaviour of the model of
  its own configuration;
* its matching run issues exactly the recorded operator commands, side by side, in order (no
  ``migrate-pause`` standing in for a recorded connection reset);
* mutated traces are not: two adjacent distinct MIGRATION events of one side swapped, a status
  replaced by another one, an event dropped (``active``, the source's ``STOP``), one side's events
  moved to the other side. Dropping a middle event or the destination's ``RESUME`` can leave
  another real behaviour (a kill a few ms earlier): those are counted and listed, not failed;
* nor are traces with a command dropped or one the recording never made inserted. A dropped
  ``migrate-pause`` (a link cut looks the same) or a ``migrate-start-postcopy`` the migration
  never acted on can leave a real behaviour; inserted commands often can too (a destination
  ``migrate-pause`` where the recording had a network fault is scenario g): counted and listed,
  with a floor on the rejection rate and fixed examples that must be rejected;
* bad input (unreadable file, not JSON, no meta, a version without a model) exits 2 with one line;
* the generic search on a toy model: free interleaving without spans, the divergence report, the
  search limit (spans, tolerance, optional and probe observations: tests/test_conform_raw.py).

These mutants change parsed observations; tests/test_conform_raw.py mutates the raw lines.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from checker.cli import main
from checker.conform import Case, conform, format_result
from properties.conformance import COMMANDS, RESUME_LABEL, BadTrace, config_for, load_case, model_version

TRACES = Path(__file__).parent / "fixtures" / "traces"
FILES = sorted(TRACES.glob("**/*.jsonl"))
STATUSES = ("setup", "active", "device", "postcopy-device", "postcopy-active", "postcopy-paused",
            "postcopy-recover-setup", "postcopy-recover", "completed", "failing", "failed", "cancelling",
            "cancelled")
REPLACEMENTS_PER_SIDE = 4


def _id(p: Path) -> str:
    return str(p.relative_to(TRACES))


def test_fixtures_found() -> None:
    assert len(FILES) >= 65


def _is_command(side: str, label: object) -> bool:
    name = str(label).removeprefix("refused:")
    return name in COMMANDS[side] or name == RESUME_LABEL


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_recorded_trace_accepted(path: Path) -> None:
    case = load_case(str(path))
    result = conform(case)
    assert result.accepted, format_result(case, result)
    assert not result.limit_reached
    # the run's operator steps are the recorded commands, no more, each side in order
    for side in ("src", "dst"):
        issued = [lb for before, action, after in result.run if str(action).startswith(f"{side}/qmp:")
                  for s, lb in case.observe(before, action, after) if s == side and _is_command(s, lb)]
        recorded = [lb for s, lb in case.observations if s == side and _is_command(s, lb)]
        assert issued == recorded, (side, issued, recorded)
        # at least migrate / migrate-incoming, on a side that shows anything (QEMU's own
        # cancel/src/after/failed never starts the destination's migration)
        assert any(_is_command(side, lb) for lb in recorded) or not any(s == side for s, _ in case.observations)


# ---------------------------------------------------------------------------------------------
# meta -> configuration


def test_versions() -> None:
    assert model_version("7.2.22") == "7.2"
    assert model_version("11.1.3") == "11.1"
    assert model_version("10.2.0") == "10.2"
    assert model_version("10.0.2") == "10.0"
    # the stable fix 725a9e5f78 (10.0.5, 10.1.1) is the model's 10.0.5, not its 10.0
    assert model_version("10.0.4") == "10.0"
    assert model_version("10.1.0") == "10.0"
    assert model_version("10.0.5") == "10.0.5"
    assert model_version("10.0.7") == "10.0.5"
    assert model_version("10.1.1") == "10.0.5"
    with pytest.raises(BadTrace, match="no model"):
        model_version("9.2.0")
    with pytest.raises(BadTrace, match="unreadable"):
        model_version(None)


def test_config_from_meta() -> None:
    c = config_for({"src_version": "11.1.3", "dst_version": "7.2.22",
                    "capabilities": ["events", "postcopy-ram", "return-path"],
                    "shared_disk": True, "exit_on_error": True, "autostart": False})
    assert (c.src.name, c.dst.name, c.shared_disk, c.autostart) == ("11.1", "7.2", True, False)
    assert c.postcopy_ram and c.return_path and not c.dirty_bitmaps
    assert c.faults.total == 2 and c.ram_may_drain


# ---------------------------------------------------------------------------------------------
# the command line


def run_cli(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    paths = [str(TRACES / "11.1-to-11.1" / "postcopy_ok.jsonl"), str(TRACES / "7.2-to-7.2" / "b_pause_recover.jsonl")]
    code, out, err = run_cli(["conform", *paths], capsys)
    assert code == 0, out + err
    assert out.count(": accepted") == 2


def test_cli_rejects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = (TRACES / "11.1-to-11.1" / "postcopy_ok.jsonl").read_text().splitlines()
    # the source's `device` event becomes `postcopy-active`: a 7.2 source's sequence on an 11.1 one
    bad = [ln.replace('"status": "device"', '"status": "postcopy-active"') if '"side": "src"' in ln else ln
           for ln in lines]
    assert bad != lines
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(bad) + "\n")
    code, out, _ = run_cli(["conform", str(path)], capsys)
    assert code == 1
    assert "rejected at src observation" in out and "MIGRATION postcopy-active" in out
    assert "the model allowed there: " in out and "src MIGRATION device + src STOP" in out
    code, out, _ = run_cli(["conform", "--json", str(path)], capsys)
    doc = json.loads(out)
    assert code == 1 and doc["rejected"] == 1 and doc["traces"][0]["divergence"]["side"] == "src"


def test_cli_named_config(capsys: pytest.CaptureFixture[str]) -> None:
    # an 11.1 recording is not a behaviour of the 7.2 model: 7.2 has no `device` state
    path = str(TRACES / "11.1-to-11.1" / "precopy_ok.jsonl")
    code, out, _ = run_cli(["conform", "--config", "qemu-7.2", path], capsys)
    assert code == 1 and "MIGRATION device" in out


def _write(tmp: Path, name: str, text: str | bytes) -> str:
    p = tmp / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return str(p)


META = {"meta": {"format": 1, "scenario": "x", "src_version": "11.1.3", "dst_version": "11.1.3",
                 "capabilities": ["events", "postcopy-ram", "return-path"]}}


@pytest.mark.parametrize("kind", ["missing", "directory", "not-json", "no-meta", "unknown-version", "binary",
                                  "bad-event", "empty"])
def test_cli_bad_input(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if kind == "missing":
        path = str(tmp_path / "nope.jsonl")
    elif kind == "directory":
        path = str(tmp_path)
    elif kind == "not-json":
        path = _write(tmp_path, "t.jsonl", json.dumps(META) + "\n{not json\n")
    elif kind == "no-meta":
        path = _write(tmp_path, "t.jsonl", '{"side": "src", "event": "STOP", "t": 1}\n')
    elif kind == "unknown-version":
        meta = json.loads(json.dumps(META))
        meta["meta"]["dst_version"] = "8.2.0"
        path = _write(tmp_path, "t.jsonl", json.dumps(meta) + "\n")
    elif kind == "binary":
        path = _write(tmp_path, "t.jsonl", b"\xff\xfe\x00junk\n")
    elif kind == "bad-event":
        path = _write(tmp_path, "t.jsonl", json.dumps(META) + "\n" + json.dumps(
            {"side": "dst", "command": "migrate-incoming", "t_sent": 0.1, "t": 0.2, "return": {}}) + "\n"
            + json.dumps({"side": "dst", "event": "MIGRATION", "data": {}, "t": 0.3}) + "\n")
    else:
        path = _write(tmp_path, "t.jsonl", "")
    good = str(TRACES / "11.1-to-11.1" / "precopy_ok.jsonl")
    code, out, err = run_cli(["conform", good, path], capsys)
    assert code == 2, out + err
    assert out == ""  # bad input is reported before any trace is searched
    assert err.count("\n") == 1 and err.startswith("migmodel conform: error: ")
    assert "Traceback" not in err
    if kind == "unknown-version":
        assert "8.2.0" in err


# ---------------------------------------------------------------------------------------------
# the generic search on a toy model


class Toy:
    """Two counters; step "a" bumps the first (observed on side L as its new value), "b" the
    second (side R), "ab" both at once, "tau" toggles a hidden bit."""

    def init_states(self) -> list[tuple[int, int, int]]:
        return [(0, 0, 0)]

    def successors(self, s: Any) -> list[tuple[str, tuple[int, int, int]]]:
        a, b, h = s
        out: list[tuple[str, tuple[int, int, int]]] = [("tau", (a, b, 1 - h))]
        if a < 3 and h:
            out.append(("a", (a + 1, b, h)))
        if b < 3:
            out.append(("b", (a, b + 1, h)))
        if a == 1 and b == 1:
            out.append(("ab", (2, 2, h)))
        return out

    def is_final(self, s: Any) -> bool:
        return False

    def describe_action(self, a: Any) -> dict[str, Any]:
        return {"actor": "toy", "action": a}

    def describe_state(self, s: Any) -> dict[str, Any]:
        return {"s": s}


def _toy_observe(before: Any, action: Any, after: Any) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if after[0] != before[0]:
        out.append(("L", after[0]))
    if after[1] != before[1]:
        out.append(("R", after[1]))
    return out


def _toy(obs: list[tuple[str, Any]]) -> Case:
    return Case(title="toy", model=Toy(), observe=_toy_observe, observations=obs, sides=("L", "R"))


def test_toy_interleaving_free() -> None:
    assert conform(_toy([("R", 1), ("L", 1), ("R", 2), ("L", 2), ("L", 3)])).accepted
    assert conform(_toy([("L", 1), ("L", 2), ("R", 1), ("R", 2)])).accepted


def test_toy_divergence() -> None:
    r = conform(_toy([("L", 1), ("L", 3), ("R", 1)]))
    assert not r.accepted and r.divergence is not None
    d = r.divergence
    assert (d.side, d.index, d.expected) == ("L", 1, 3)
    assert (("L", 2),) in d.allowed
    assert d.consumed == {"L": 1, "R": 1} and d.others == ()
    r = conform(_toy([("L", 1), ("L", 3), ("R", 1), ("R", 5)]))
    assert r.divergence is not None and r.divergence.others == (("R", 1, 5),)


def test_toy_can_stop() -> None:
    case = dataclasses.replace(_toy([("L", 1)]), can_stop=lambda s: s[2] == 0)
    r = conform(case)
    assert r.accepted and r.run[-1][2] == (1, 0, 0)


class Toy2:
    """One step observing "x" and "y" on side L at once."""

    def init_states(self) -> list[int]:
        return [0]

    def successors(self, s: Any) -> list[tuple[str, int]]:
        return [("xy", 1)] if s == 0 else []

    def is_final(self, s: Any) -> bool:
        return bool(s)

    def describe_action(self, a: Any) -> dict[str, Any]:
        return {"actor": "toy", "action": a}

    def describe_state(self, s: Any) -> dict[str, Any]:
        return {"s": s}


def _toy2_observe(before: Any, action: Any, after: Any) -> list[tuple[str, Any]]:
    return [("L", "x"), ("L", "y")]


def test_toy_limit() -> None:
    r = conform(_toy([("L", 1), ("L", 3)]), max_states=3)
    assert not r.accepted and r.limit_reached
