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
* the generic search on a toy model: per-side order, free interleaving, any order within a step,
  spans (overlapping observations in either order), leading and optional observations, and the
  divergence report.
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
from properties.conformance import COMMANDS, RESUME_LABEL, BadTrace, config_for, leading, load_case, model_version

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
# mutants

Entry = tuple[str, Any, tuple[float, float]]
"""An observation with its span."""


def _entries(case: Case) -> list[Entry]:
    assert case.spans is not None and not case.optional
    return [(s, lb, sp) for (s, lb), sp in zip(case.observations, case.spans, strict=True)]


def _with(case: Case, entries: Sequence[Entry]) -> Case:
    """``case`` with these observations (their spans; commands leading, as ``load_case`` makes them)."""
    obs = [(s, lb) for s, lb, _ in entries]
    return dataclasses.replace(case, observations=obs, spans=[sp for _, _, sp in entries],
                               optional=frozenset(), leading=leading(obs))


def _migrations(obs: Sequence[Entry], side: str) -> list[int]:
    return [g for g, (s, label, _) in enumerate(obs) if s == side and str(label).startswith("MIGRATION ")]


def _sequence(obs: Sequence[tuple[Any, ...]], side: str) -> tuple[str, ...]:
    return tuple(str(o[1]) for o in obs if o[0] == side)


def mutants(obs: list[Entry], salt: int) -> list[tuple[str, str, list[Entry]]]:
    """(kind, description, observations) for one trace; a changed observation keeps its span."""
    out: list[tuple[str, str, list[Entry]]] = []
    for side in ("src", "dst"):
        ix = _migrations(obs, side)
        for a, b in itertools.pairwise(ix):
            if obs[a][1] != obs[b][1]:
                o = list(obs)
                o[a], o[b] = (side, obs[b][1], obs[a][2]), (side, obs[a][1], obs[b][2])
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
                o[m] = (side, f"MIGRATION {status}", obs[m][2])
                out.append(("replace", f"{side}: {obs[m][1]} -> {status}", o))
        runs = [g for g, (s, label, _) in enumerate(obs) if s == side and label in ("STOP", "RESUME")]
        if runs:
            # the source's STOP comes with its switchover status: never alone. The destination's
            # RESUME may be missing for real (killed just before its bottom half ran)
            kind = "drop" if side == "src" else "drop-middle"
            out.append((kind, f"{side}: drop {obs[runs[0]][1]}", obs[:runs[0]] + obs[runs[0] + 1:]))
    for side, other in (("src", "dst"), ("dst", "src")):
        if any(s == side for s, _, _ in obs):
            out.append(("move", f"{side} events moved to {other}",
                        [(other if s == side else s, label, sp) for s, label, sp in obs]))
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
        for kind, what, mutated in mutants(_entries(case), salt=len(str(p))):
            result = conform(_with(case, mutated))
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
# operator commands

LABELS = {"src": (*sorted(COMMANDS["src"]), RESUME_LABEL), "dst": tuple(sorted(COMMANDS["dst"]))}
EPS = 1e-7
"""Below the recorder's microsecond resolution: an inserted line strictly after its predecessor."""


def _insert(obs: list[Entry], g: int, side: str, label: str) -> list[Entry]:
    """A command line for ``label`` on ``side`` sent and answered just after observation ``g``."""
    t = obs[g][2][1] + EPS
    return [*obs[:g + 1], (side, label, (t, t)), *obs[g + 1:]]


def _drop_may_be_real(obs: Sequence[Entry], label: object) -> bool:
    """A dropped command that can leave a real behaviour: ``migrate-pause`` (a link cut shows the
    same), ``migrate-start-postcopy`` when neither side ever shows postcopy, ``migrate_cancel`` when
    the source never shows ``cancelling`` (a cancel after the migration ended changes nothing)."""
    if label == "migrate-pause":
        return True
    if label == "migrate_cancel":
        return not any(side == "src" and lb == "MIGRATION cancelling" for side, lb, _ in obs)
    return label == "migrate-start-postcopy" and not any(str(lb).startswith("MIGRATION postcopy") for _, lb, _ in obs)


def test_command_mutants_rejected() -> None:
    counts = {"drop-command": [0, 0], "insert-command": [0, 0]}
    wrongly_accepted: list[str] = []
    plausible: list[str] = []
    for n, p in enumerate(FILES):
        case = load_case(str(p))
        obs = _entries(case)
        mutated: list[tuple[str, str, list[Entry]]] = []
        for g, (side, label, _) in enumerate(obs):
            if _is_command(side, label) and not str(label).startswith("refused:"):
                mutated.append(("drop-command", f"drop {side} {label}", obs[:g] + obs[g + 1:]))
        # every other command the model has (alternating between traces), on its side, at one
        # position per trace (salted)
        for k, (side, label) in enumerate((s, lb) for s in ("src", "dst") for lb in LABELS[s]):
            if (n + k) % 2:
                continue
            g = (n * 7 + k * 5) % len(obs)
            mutated.append(("insert-command", f"insert {side} {label} after #{g + 1} {obs[g][0]} {obs[g][1]}",
                            _insert(obs, g, side, label)))
        for kind, what, o in mutated:
            result = conform(_with(case, o))
            counts[kind][0 if not result.accepted else 1] += 1
            if result.accepted:
                if kind == "drop-command" and not _drop_may_be_real(o, what.split(" ", 2)[2]):
                    wrongly_accepted.append(f"{case.title}: {what}")
                else:
                    plausible.append(f"{case.title}: {what}")
    print()
    for kind, (rejected, accepted) in sorted(counts.items()):
        print(f"mutants {kind}: {rejected} rejected, {accepted} accepted")
    print(f"command mutants accepted (informational: another possible run): {len(plausible)}")
    for line in plausible:
        print(f"  {line}")
    assert not wrongly_accepted, "\n".join(wrongly_accepted)
    for kind in counts:
        rejected, accepted = counts[kind]
        assert rejected > 10 * accepted, (kind, rejected, accepted)


H_TRACES = sorted(TRACES.glob("*/h_partition_lost_pong.jsonl"))
POSTCOPY_OK = sorted(TRACES.glob("*/postcopy_ok.jsonl"))


def _first(obs: Sequence[Entry], side: str, label: str) -> int:
    return next(g for g, (s, lb, _) in enumerate(obs) if (s, lb) == (side, label))


@pytest.mark.parametrize("path", H_TRACES, ids=_id)
def test_h_needs_a_fault_not_a_pause(path: Path) -> None:
    """The reset of h is a fault of the model's, not a destination ``migrate-pause`` the recording
    never made; with a ``migrate-pause`` line where the destination cannot accept one (before
    postcopy, after it paused) the trace is rejected. (Right after its ``postcopy-active`` the
    line would make the trace scenario g's, a real behaviour.)"""
    case = load_case(str(path))
    result = conform(case)
    assert result.accepted
    actors = [str(a).split(":", 1)[0] for _, a, _ in result.run]
    assert "fault" in actors
    assert not [a for _, a, _ in result.run if str(a).startswith("dst/qmp: migrate-pause")]
    obs = _entries(case)
    for after in ("MIGRATION active", "MIGRATION postcopy-paused"):
        mutated = _with(case, _insert(obs, _first(obs, "dst", after), "dst", "migrate-pause"))
        r = conform(mutated)
        assert not r.accepted, f"dst migrate-pause after {after}"
        assert r.divergence is not None and r.divergence.side == "dst"


@pytest.mark.parametrize("path", POSTCOPY_OK, ids=_id)
def test_postcopy_needs_its_command(path: Path) -> None:
    case = load_case(str(path))
    obs = _entries(case)
    g = _first(obs, "src", "migrate-start-postcopy")
    r = conform(_with(case, obs[:g] + obs[g + 1:]))
    assert not r.accepted, format_result(case, r)


def test_command_span() -> None:
    """A command's line is written when its reply came: the events that arrived while it was in
    flight (a destination's ``RESUME`` and ``postcopy-paused`` before the reply of its
    ``migrate-pause``; ``setup`` and ``active`` before the reply of ``migrate``) may be matched
    before it; the events of the command's step never before it was sent."""
    case = load_case(str(TRACES / "7.2-to-7.2" / "g_dst_pause_while_src_postcopy_device.jsonl"))
    obs = _entries(case)
    g = _first(obs, "dst", "migrate-pause")
    window = [lb for s, lb, sp in obs if s == "dst" and obs[g][2][0] < sp[0] <= obs[g][2][1]]
    assert window == ["RESUME", "MIGRATION postcopy-paused"]
    assert conform(case).accepted
    # the same line as a point at its reply: postcopy-paused (a later model step) came before it
    point = [(s, lb, (sp[1], sp[1]) if k == g else sp) for k, (s, lb, sp) in enumerate(obs)]
    assert not conform(_with(case, point)).accepted
    # a 7.2 source's `migrate resume=true` sent only after the `postcopy-recover` of its step came
    case = load_case(str(TRACES / "7.2-to-7.2" / "b_pause_recover.jsonl"))
    obs = _entries(case)
    g, e = _first(obs, "src", "migrate resume=true"), _first(obs, "src", "MIGRATION postcopy-recover")
    t = obs[e][2][1] + EPS
    late = [*obs[:g], *obs[g + 1:e + 1], ("src", "migrate resume=true", (t, t)), *obs[e + 1:]]
    assert not conform(_with(case, late)).accepted
    # were the command not leading, the step's events would match in any order
    assert conform(dataclasses.replace(_with(case, late), leading=frozenset())).accepted


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


def test_toy_spans() -> None:
    # L 1 and L 2 overlap: either order; R is strict
    obs = [("L", 2), ("L", 1), ("R", 1)]
    assert not conform(_toy(obs)).accepted
    spans = [(1.0, 2.0), (1.5, 1.5), (0.0, 0.0)]
    assert conform(dataclasses.replace(_toy(obs), spans=spans)).accepted
    assert not conform(dataclasses.replace(_toy(obs), spans=[(1.0, 1.2), (1.5, 1.5), (0.0, 0.0)])).accepted
    with pytest.raises(ValueError, match="recorded after"):
        conform(dataclasses.replace(_toy(obs), spans=[(2.0, 2.0), (1.0, 1.0), (0.0, 0.0)]))


def test_toy_optional_and_leading() -> None:
    # an optional observation may be left out, or matched in its place, never out of it
    obs = [("L", 1), ("L", 2), ("L", 3)]
    assert conform(dataclasses.replace(_toy(obs), optional=frozenset({1}))).accepted
    r = conform(dataclasses.replace(_toy([("L", 1), ("L", 3)]), optional=frozenset({1})))
    assert r.accepted and len(r.run) == 2  # L 3 left out: the run stops after L 1
    assert not conform(dataclasses.replace(_toy([("L", 1), ("L", 3)]), optional=frozenset({0}))).accepted
    assert not conform(dataclasses.replace(_toy([("L", 2), ("L", 1), ("L", 3)]), optional=frozenset({0}))).accepted
    # one step observes x and y: recorded x wholly before y, they match together unless y leads
    # (then nothing of its step may come before it), or their spans overlap
    toy2 = Toy2()
    case = Case(title="toy2", model=toy2, observe=_toy2_observe, observations=[("L", "x"), ("L", "y")],
                sides=("L",), spans=[(0.0, 0.0), (1.0, 1.0)])
    assert conform(case).accepted
    assert not conform(dataclasses.replace(case, leading=frozenset({1}))).accepted
    assert conform(dataclasses.replace(case, spans=[(0.0, 1.0), (0.5, 1.0)], leading=frozenset({1}))).accepted


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
