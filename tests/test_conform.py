"""``migmodel conform``: recorded QEMU traces against the model (checker/conform.py,
properties/conformance.py).

* every recorded trace (tests/fixtures/traces, variants included) is a behaviour of the model of
  its own configuration;
* mutated traces are not: two adjacent distinct MIGRATION events of one side swapped, a status
  replaced by another one, an event dropped (``active``, the source's ``STOP``), one side's events
  moved to the other side. Dropping a middle event or the destination's ``RESUME`` can leave
  another real behaviour (a kill a few ms earlier): those are counted and listed, not failed;
* bad input (unreadable file, not JSON, no meta, a version without a model) exits 2 with one line;
* the generic search on a toy model: per-side order, free interleaving, any order within a step,
  and the divergence report.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from checker.cli import main
from checker.conform import Case, conform, format_result
from properties.conformance import BadTrace, config_for, load_case, model_version

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


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_recorded_trace_accepted(path: Path) -> None:
    case = load_case(str(path))
    result = conform(case)
    assert result.accepted, format_result(case, result)
    assert not result.limit_reached


# ---------------------------------------------------------------------------------------------
# mutants

Obs = list[tuple[str, Any]]


def _migrations(obs: Obs, side: str) -> list[int]:
    return [g for g, (s, label) in enumerate(obs) if s == side and str(label).startswith("MIGRATION ")]


def _sequence(obs: Obs, side: str) -> tuple[str, ...]:
    return tuple(str(label) for s, label in obs if s == side)


def mutants(obs: Obs, salt: int) -> list[tuple[str, str, Obs]]:
    """(kind, description, observations) for one trace."""
    out: list[tuple[str, str, Obs]] = []
    for side in ("src", "dst"):
        ix = _migrations(obs, side)
        for a, b in itertools.pairwise(ix):
            if obs[a][1] != obs[b][1]:
                o = list(obs)
                o[a], o[b] = (side, obs[b][1]), (side, obs[a][1])
                out.append(("swap", f"{side}: {obs[a][1]} <-> {obs[b][1]}", o))
                break
        if len(ix) >= 3:
            # `active` always follows `setup`: without it no run matches
            out.append(("drop", f"{side}: drop {obs[ix[1]][1]}", obs[:ix[1]] + obs[ix[1] + 1:]))
        if len(ix) >= 2:
            # the middle event, never the last (dropping the last one is a shorter recording);
            # the result may be another real behaviour (a kill a few ms earlier): informational
            m = ix[len(ix) // 2] if ix[len(ix) // 2] != ix[-1] else ix[-2]
            out.append(("drop-middle", f"{side}: drop {obs[m][1]}", obs[:m] + obs[m + 1:]))
            others = [s for s in STATUSES if f"MIGRATION {s}" != obs[m][1]]
            for k in range(REPLACEMENTS_PER_SIDE):
                status = others[(salt + k * 3) % len(others)]
                o = list(obs)
                o[m] = (side, f"MIGRATION {status}")
                out.append(("replace", f"{side}: {obs[m][1]} -> {status}", o))
        runs = [g for g, (s, label) in enumerate(obs) if s == side and label in ("STOP", "RESUME")]
        if runs:
            # the source's STOP comes with its switchover status: never alone. The destination's
            # RESUME may be missing for real (killed just before its bottom half ran)
            kind = "drop" if side == "src" else "drop-middle"
            out.append((kind, f"{side}: drop {obs[runs[0]][1]}", obs[:runs[0]] + obs[runs[0] + 1:]))
    for side, other in (("src", "dst"), ("dst", "src")):
        if any(s == side for s, _ in obs):
            out.append(("move", f"{side} events moved to {other}",
                        [(other if s == side else s, label) for s, label in obs]))
    return out


def test_mutants_rejected() -> None:
    cases = [load_case(str(p)) for p in FILES]
    # Side sequences (every observation) real QEMU showed, per pairing: a drop that yields one of
    # them may be real.
    seen: dict[str, set[tuple[str, tuple[str, ...]]]] = {}
    for p, case in zip(FILES, cases, strict=True):
        pairing = p.parent.name
        for side in ("src", "dst"):
            seen.setdefault(pairing, set()).add((side, _sequence(list(case.observations), side)))
    counts: dict[str, list[int]] = {}
    wrongly_accepted: list[str] = []
    plausible: list[str] = []
    for p, case in zip(FILES, cases, strict=True):
        obs = list(case.observations)
        for kind, what, mutated in mutants(obs, salt=len(str(p))):
            result = conform(dataclasses.replace(case, observations=mutated))
            tally = counts.setdefault(kind, [0, 0])
            if not result.accepted:
                tally[0] += 1
                continue
            side = what.split(":")[0]
            tally[1] += 1
            if kind == "drop-middle":
                known = (side, _sequence(mutated, side)) in seen[p.parent.name]
                plausible.append(f"{case.title}: {what}" + (" (a sequence recorded elsewhere)" if known else ""))
                continue
            wrongly_accepted.append(f"{case.title}: {kind} {what}")
    print()
    for kind, (rejected, accepted) in sorted(counts.items()):
        print(f"mutants {kind}: {rejected} rejected, {accepted} accepted")
    print(f"drop-middle mutants accepted (informational: another possible run): {len(plausible)}")
    for line in plausible:
        print(f"  {line}")
    assert not wrongly_accepted, "\n".join(wrongly_accepted)
    assert all(counts.get(k, [0])[0] > 0 for k in ("swap", "replace", "drop", "move"))
    rejected, accepted = counts["drop-middle"]
    assert rejected > 2 * accepted


# ---------------------------------------------------------------------------------------------
# meta -> configuration


def test_versions() -> None:
    assert model_version("7.2.22") == "7.2"
    assert model_version("11.1.3") == "11.1"
    assert model_version("10.2.0") == "10.2"
    assert model_version("10.0.2") == "10.0"
    with pytest.raises(BadTrace, match="no model"):
        model_version("10.0.5")  # has the stable fix the model's 10.0 lacks
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
    assert "the model allowed there: src " in out and "src MIGRATION device + src STOP" in out
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
    assert err.count("\n") == 1 and err.startswith("migmodel: error: ")
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


def test_toy_limit() -> None:
    r = conform(_toy([("L", 1), ("L", 3)]), max_states=3)
    assert not r.accepted and r.limit_reached
