"""``migmodel whatif``: designs judged against today's model (issue 16)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import cast

import pytest

from checker.cli import main
from checker.report import build_report
from checker.spec import Variant
from checker.verify import run_config
from checker.whatif import (
    BROKEN,
    FIXED,
    DesignResult,
    exit_code,
    replay_then_finish,
    run_whatif,
    summary_line,
    text_lines,
    whatif_files,
    whatif_html,
    whatif_md,
)
from model.designs import DESIGNS
from properties.suite import qemu_suite

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def results() -> dict[str, DesignResult]:
    return {r.name: r for r in run_whatif(qemu_suite())}


def test_six_designs_each_with_origin_and_intent() -> None:
    assert len(DESIGNS) >= 6
    for d in DESIGNS.values():
        assert d.origin and d.intends and d.configs
        assert "Intends" in d.doc


def test_each_design_is_a_small_variant_of_todays_tables() -> None:
    """A design adds or changes a few of today's rows (by name) and removes none."""
    from model.system import all_rows

    base = {r.name: r for r in all_rows()}
    for name, d in DESIGNS.items():
        rows = {r.name: r for r in d.rows(all_rows())}
        assert set(base) <= set(rows), name
        touched = [n for n, r in rows.items() if base.get(n) is not r]
        assert 1 <= len(touched) <= 10, (name, touched)


@pytest.mark.parametrize("name", list(DESIGNS))
def test_each_design_changes_the_model(name: str, results: dict[str, DesignResult]) -> None:
    r = results[name]
    assert r.changes_model, f"{name}: the reachable graph is today's on every configuration"


def test_a_design_equal_to_today_is_flagged() -> None:
    suite = qemu_suite()
    noop = Variant("no-op", "changes nothing", ("qemu-11.1",), suite.build, origin="test",
                   intends=("no-stuck-state",))
    fake = dataclasses.replace(suite, variants={**suite.variants, "designs": lambda: (noop,)})
    (r,) = run_whatif(fake)
    assert not r.changes_model
    assert not r.marked(FIXED) and not r.marked(BROKEN)
    assert exit_code([r]) == 1
    assert "changes nothing" in "\n".join(text_lines([r]))


@pytest.mark.parametrize("name", list(DESIGNS))
def test_cells_match_verify_run_on_the_variant_directly(name: str, results: dict[str, DesignResult]) -> None:
    suite = qemu_suite()
    catalogue = suite.variants_of("designs")
    assert catalogue is not None
    variant = catalogue[name]
    direct = dataclasses.replace(suite, build=variant.build)
    props = list(suite.properties())
    for comparison in results[name].configs:
        cfg = variant.own_configs.get(comparison.config) or suite.configs()[comparison.config]
        today = {v.property.name: v.holds for v in run_config(suite, comparison.config, cfg, props).verdicts}
        design = {v.property.name: v.holds for v in run_config(direct, comparison.config, cfg, props).verdicts}
        for cell in comparison.cells:
            p = cell.prop.name
            assert cell.today.holds == today[p], (comparison.config, p)
            assert cell.design.holds == design[p], (comparison.config, p)
            expected = "unchanged" if today[p] == design[p] else (FIXED if design[p] else BROKEN)
            assert cell.mark == expected


def test_every_changed_cell_has_its_run(results: dict[str, DesignResult]) -> None:
    for r in results.values():
        for c in r.configs:
            for cell in c.cells:
                intended = cell.prop.name in r.intends
                p = c.path(cell, intended)
                if cell.mark == "unchanged":
                    if intended and not cell.design.holds and cell.prop.kind.value != "sometimes":
                        assert p is not None and p["model"] == "design"  # why the fix falls short
                    else:
                        assert p is None
                    continue
                assert p is not None and len(p["steps"]) >= 2, (r.name, c.config, cell.prop.name)
                assert p["model"] == ("design" if cell.mark == BROKEN else "today") or \
                    cell.prop.kind.value == "sometimes"


def test_what_the_designs_do(results: dict[str, DesignResult]) -> None:
    """The verdicts the README quotes (computed, pinned here so a model change is noticed)."""
    wake = results["wake-listen-thread"].intended_fixed()
    # 11.1's wait wakes on SHUT(1), also from a 10.2 destination with the design; 10.2's wait does not.
    assert wake["resumes-after-device-load-failure"] == ["qemu-11.1", "qemu-11.1-to-10.2"]
    # Since two faults per run and silent partitions: a partition dst->src while the source waits
    # for PONG 0x42 hangs it too (keep-talking's case), so the design alone no longer ends every hang.
    assert not wake["no-stuck-state"]
    assert not results["wake-listen-thread"].breaks
    assert results["error-aware-wait-10.2"].intended_fixed()["rp-error-ends-postcopy-device"] == [
        "qemu-10.2", "qemu-10.2-bitmaps-return-path", "qemu-10.2-to-11.1", "qemu-10.2-to-7.2"]
    assert not results["error-aware-wait-10.2"].breaks
    cancel = results["cancel-in-postcopy-device"]
    assert cancel.marked(BROKEN) == [(c.config, "postcopy-never-cancelled") for c in cancel.configs]  # 5 cells
    steps = cancel.configs[0].path(next(c for c in cancel.configs[0].cells
                                        if c.prop.name == "postcopy-never-cancelled"))
    assert steps is not None and any(s.get("action") == "migrate_cancel" for s in steps["steps"])
    keep = results["keep-talking"].intended_fixed()
    assert keep["no-stuck-state"] == ["qemu-11.1", "qemu-10.2", "qemu-10.2-bitmaps-return-path",
                                      "qemu-11.1-to-7.2"]  # incl. partitions
    assert not results["keep-talking"].breaks
    run_ack = results["run-ack"]
    for name in ("run-ack", "run-ack-wait"):  # PONG received meant "destination running"; RUN_ACK undoes that
        r = results[name]
        assert r.intended_fixed()["postcopy-device-means-dst-not-run"] == [c.config for c in r.configs]
        assert not r.breaks
    assert not run_ack.intended_fixed()["resumes-after-device-load-failure"]  # the unacked commit
    assert ("qemu-11.1", "no-stuck-state") in run_ack.marked(FIXED)
    assert ("qemu-11.1", "no-stuck-state") not in results["run-ack-wait"].marked(FIXED)  # the hang is back
    # Why run-ack fixes neither of the other two intended properties: as posted, its source commits and sends RUN
    # without the ACK once nothing is pending; the design's counterexample shows that step.
    c = run_ack.configs[0]
    for prop in ("source-resumable-before-pong", "resumes-after-device-load-failure"):
        p = c.path(next(x for x in c.cells if x.prop.name == prop), intended=True)
        assert p is not None and p["model"] == "design"
        assert "migration_iteration_run: complete_ready, send RUN unacked" in [s["action"] for s in p["steps"]]
    # Why waking the listen thread leaves no-stuck-state violated on 11.1: a partition dst->src
    # and a yank of the destination while the source waits for PONG 0x42 (the README says so).
    c = results["wake-listen-thread"].configs[0]
    p = c.path(next(x for x in c.cells if x.prop.name == "no-stuck-state"), intended=True)
    assert p is not None and {"partition dst->src", "yank: destination"} <= {s["action"] for s in p["steps"]}


def test_cli_json_shape() -> None:
    out = subprocess.run([sys.executable, "-m", "checker.cli", "whatif", "--json", "--design", "error-aware-wait-10.2",
                          "--config", "qemu-10.2"], capture_output=True, text=True, cwd=ROOT, check=False)
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)["designs"]["error-aware-wait-10.2"]
    assert d["from"] and d["intends"] == ["rp-error-ends-postcopy-device"]
    assert d["cells"]["qemu-10.2"]["rp-error-ends-postcopy-device"] == "fixed"
    assert set(d["cells"]["qemu-10.2"].values()) <= {"fixed", "broken", "unchanged"}
    cx = d["counterexamples"]["qemu-10.2"]["rp-error-ends-postcopy-device"]
    assert cx["cell"] == "fixed" and cx["model"] == "today" and cx["steps"][0]["action"] == "init"


def test_cli_exit_1_when_a_design_breaks_something(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["whatif", "--design", "cancel-in-postcopy-device", "--config", "qemu-11.1",
                 "--no-counterexamples"]) == 1
    assert "postcopy-never-cancelled" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["whatif", "--design", "no-such-design"], ["whatif", "--config", "no-such-config"],
                                  ["whatif", "--max-states", "-1"]])
def test_cli_bad_input(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "migmodel whatif: error:" in err


def _page_digest(seed: str) -> str:
    code = ("import hashlib; from checker.whatif import whatif_files; from properties.suite import qemu_suite; "
            "f = whatif_files(qemu_suite()); "
            "print(hashlib.sha256((f['whatif.md'] + f['whatif.html']).encode()).hexdigest())")
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, check=True)
    return out.stdout.strip()


def test_page_is_byte_identical_on_rerun(results: dict[str, DesignResult]) -> None:
    """The page of this process (whatever its hash seed) is the page of a fresh process with
    another hash seed, byte for byte."""
    suite = qemu_suite()
    ordered = list(results.values())
    md, html = whatif_md(suite, ordered), whatif_html(suite, ordered)
    assert [r.name for r in ordered] == list(DESIGNS)
    here = hashlib.sha256((md + html).encode()).hexdigest()
    seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    assert _page_digest(seed) == here
    assert "## run-ack" in md and "Counterexamples and witnesses" in md
    assert "**But on the way:**" in md and "<b>But on the way:</b>" in html  # keep-talking on 11.1 -> 7.2


def test_report_of_some_configurations_judges_the_designs_on_those(tmp_path: Path) -> None:
    """A report of some configurations holds the what-if page of the designs on those
    configurations only (a design on none of them is left out), the page `whatif` renders for them."""
    suite = qemu_suite()
    build_report(suite, str(tmp_path), configs=["qemu-10.2"])
    files = whatif_files(suite, configs=["qemu-10.2"])
    page = (tmp_path / "whatif.md").read_text(encoding="utf-8")
    assert page == files["whatif.md"]
    assert (tmp_path / "whatif.html").read_text(encoding="utf-8") == files["whatif.html"]
    on_10_2 = [n for n, v in (suite.variants_of("designs") or {}).items() if "qemu-10.2" in v.configs]
    assert on_10_2 and len(on_10_2) < len(DESIGNS)
    for name in DESIGNS:
        assert (f"## {name}\n" in page) == (name in on_10_2), name
    assert "| qemu-10.2 (" in page and "| qemu-11.1 (" not in page


def test_readme_names_every_design() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in DESIGNS:
        assert f"`{name}`" in readme


def test_cli_state_limit(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["whatif", "--design", "error-aware-wait-10.2", "--config", "qemu-10.2", "--max-states", "10"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_designs_own_configuration_serves_every_chosen_design() -> None:
    own = "qemu-11.1-shared-disk+disk-failure"  # pause-on-disk-activation-failure's own configuration
    rs = run_whatif(qemu_suite(), ["error-aware-wait-10.2", "pause-on-disk-activation-failure"], [own])
    assert [[c.config for c in r.configs] for r in rs] == [[own], [own]]
    assert rs[1].changes_model


def test_fixed_cells_show_the_design_going_on_from_todays_run(results: dict[str, DesignResult]) -> None:
    """Where today's run ends in a state the property is about, the design (which holds it) must
    reach a goal from the replayed state: the witness of the fix."""
    checked = 0
    for r in results.values():
        for c in r.configs:
            for cell in c.cells:
                prop = cell.prop
                if cell.mark != FIXED or prop.kind.value != "always-possible":
                    continue
                today = cell.today.counterexample or []
                run, replayed = replay_then_finish(c.design_model, today, prop)
                assert 0 <= replayed <= len(today) - 1 and len(run) >= replayed + 1
                if prop.where(run[replayed].state):
                    assert prop.predicate(run[-1].state), (r.name, c.config, prop.name)
                    checked += 1
    assert checked >= 5


def test_waking_the_listen_thread_replays_the_hang_then_resumes(results: dict[str, DesignResult]) -> None:
    c = results["wake-listen-thread"].configs[0]
    assert c.config == "qemu-11.1"
    p = c.path(next(x for x in c.cells if x.prop.name == "resumes-after-device-load-failure"))
    assert p is not None and p["replayed"] == len(p["steps"]) - 1  # the design allows today's whole run
    assert p["steps"][-1]["action"] == "device-load-failure"  # today's run ends in the hang
    actions = [s["action"] for s in p["design_run"][len(p["steps"]):]]
    assert "postcopy_listen_thread: woken after the load error" in actions
    assert "migration_iteration_finish: restart guest" in actions


# ---------------------------------------------------------------------------------------------
# At the level a user works: the command line.

SMALL = ["--design", "error-aware-wait-10.2", "--config", "qemu-10.2-bitmaps-return-path"]
"""The cheapest pair that fixes a cell (8,161 states today)."""


def _cli(*argv: str, seed: str = "0", stderr: int | None = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": seed, "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", "checker.cli", "whatif", *argv], stdout=subprocess.PIPE,
                          stderr=stderr, text=True, cwd=ROOT, env=env, check=False)


def test_cli_output_is_deterministic() -> None:
    """Text and JSON, byte for byte, from two processes of different hash seeds; nothing on stderr
    when it is not a terminal (no progress lines in a log)."""
    for argv in (SMALL, [*SMALL, "--json"]):
        a, b = _cli(*argv, seed="1"), _cli(*argv, seed="2")
        assert a.returncode == b.returncode == 0, a.stderr
        assert a.stdout == b.stdout and a.stdout
        assert a.stderr == b.stderr == ""


def test_cli_progress_on_a_terminal() -> None:
    """A long run says on a terminal which design and configuration it is exploring; stdout
    carries only the result."""
    import pty

    master, slave = pty.openpty()
    try:
        out = _cli(*SMALL, "--no-counterexamples", stderr=slave)
    finally:
        os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    err = b"".join(chunks).decode()
    assert out.returncode == 0
    assert "whatif: 1/1: error-aware-wait-10.2 on qemu-10.2-bitmaps-return-path" in err
    assert "whatif: 1/1" not in out.stdout and "rp-error-ends-postcopy-device" in out.stdout


def test_cli_text_fits_the_terminal(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """At the README's 120 columns every line fits, runs included; on an 80-column terminal the
    matrices (whose cells wrap) still fit (the runs' timelines have a floor of their own, as in
    ``verify``)."""
    for width, argv in ((120, ["--config", "qemu-10.2-bitmaps-return-path"]),
                        (80, ["--config", "qemu-10.2-bitmaps-return-path", "--config", "qemu-10.2",
                              "--no-counterexamples"])):
        monkeypatch.setenv("COLUMNS", str(width))
        assert main(["whatif", "--design", "keep-talking", *argv]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) > (100 if width == 120 else 30) and "(FIXED)" in "\n".join(lines)
        assert max(len(line) for line in lines) <= width, max(lines, key=len)
    assert any(line.strip().startswith("(FIXED)") for line in lines)  # at 80 columns the cells wrapped


def test_cli_flags_a_design_equal_to_today(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """`migmodel whatif` of a suite whose only design is today's model: exit 1, "changes nothing"."""
    import checker.cli_base

    suite = qemu_suite()
    noop = Variant("no-op", "today's tables, unchanged", ("qemu-10.2-bitmaps-return-path",), suite.build,
                   origin="test", intends=("rp-error-ends-postcopy-device",))
    fake = dataclasses.replace(suite, variants={**suite.variants, "designs": lambda: (noop,)})
    monkeypatch.setattr(checker.cli_base, "load_suite", lambda name="qemu": fake)
    assert main(["whatif", "--no-counterexamples"]) == 1
    out = capsys.readouterr().out
    assert "changes nothing: the reachable graph is today's" in out and "1 change nothing (no-op)" in out
    assert main(["whatif", "--json"]) == 1
    d = json.loads(capsys.readouterr().out)["designs"]["no-op"]
    assert d["changes_model"] is False and set(d["cells"]["qemu-10.2-bitmaps-return-path"].values()) == {"unchanged"}


def _readme_example() -> tuple[list[str], list[str]]:
    """The README's what-if example: its command's arguments and the output it shows."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## What if: proposed fixes, for patch reviewers", 1)[1]
    block = section.split("```\n", 2)[1].rstrip("\n").split("\n")
    assert block[0].startswith("$ migmodel whatif ")
    return block[0].split()[3:], block[1:]


def test_readme_example_is_todays_output(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The README's example, re-run at the width it documents (120 columns): every part it shows
    between its "..." lines is, in order, a contiguous part of today's output, and its first and
    last lines are the output's."""
    argv, shown = _readme_example()
    monkeypatch.setenv("COLUMNS", "120")
    code = main(["whatif", *argv])
    out = capsys.readouterr().out.rstrip("\n").split("\n")
    assert code == 0
    assert shown[0] == out[0] and shown[-1] == out[-1]
    parts: list[list[str]] = [[]]
    for line in shown:
        if line.strip() == "...":
            parts.append([])
        else:
            parts[-1].append(line)
    at = 0
    for part in parts:
        assert part, "two '...' lines in a row"
        found = next((i for i in range(at, len(out) - len(part) + 1) if out[i:i + len(part)] == part), None)
        assert found is not None, f"not in today's output (in this order): {part}"
        at = found + len(part)


def test_pause_on_disk_activation_failure_has_no_loss_to_fix() -> None:
    """Why `pause-on-disk-activation-failure` fixes no cell (its docstring): plain `no-vm-loss`
    fails on qemu-11.1-shared-disk with no fault at all, today and with the design, so no fault
    the design handles can turn it; and with the transient activation failure as the only fault,
    `no-vm-loss` judged on the states after that failure (RUN handled with autostart, the bottom
    half done, no disk, the destination guest never ran) holds today already: no VM is lost to
    it. The design still changes the graph (the failure pauses the migration)."""
    from checker.analysis import check
    from checker.explore import explore
    from checker.kinds import Kind
    from checker.spec import Property
    from model import config as configs
    from model.config import Faults
    from model.status import MigrationStatus as S
    from model.status import PostcopyState as PS
    from model.status import RunState
    from model.system import Action, MigrationModel, all_rows
    from properties.qemu import PROPERTIES, no_faults, one_guest_with_all_state

    def after_failure(w: object) -> bool:
        return bool(w.d_pcs is PS.RUNNING and not w.d_bh and w.d_autostart  # type: ignore[attr-defined]
                    and w.d_run is RunState.INMIGRATE and not w.h_dst_ran  # type: ignore[attr-defined]
                    and w.s_status is not S.COMPLETED)  # type: ignore[attr-defined]

    scoped = Property("no-vm-loss-after-activation-failure", Kind.ALWAYS_POSSIBLE, "scoped no-vm-loss",
                      predicate=one_guest_with_all_state, where=after_failure, via=no_faults)
    plain = next(p for p in PROPERTIES if p.name == "no-vm-loss")
    rows = DESIGNS["pause-on-disk-activation-failure"].rows(all_rows())
    base = dataclasses.replace(configs.NAMED["qemu-11.1-shared-disk"], faults=Faults.only(0))
    for model in (MigrationModel(base), MigrationModel(base, rows=rows)):
        (v,) = check(explore(model), [plain])
        assert not v.holds and v.counterexample and all(
            cast(Action, s.action).actor != "fault" for s in v.counterexample[1:])
    only = dataclasses.replace(base, faults=Faults.only(1, dst_disk_activation=1))
    today, design = explore(MigrationModel(only)), explore(MigrationModel(only, rows=rows))
    (v,) = check(today, [scoped])
    assert v.holds and "from all 0 " not in v.note, v.note  # judged on some states after the failure
    assert sum(1 for w in today.states if after_failure(w)) > 100
    assert today.fingerprint() != design.fingerprint()


def test_every_configuration_judged_is_one_the_design_changes(results: dict[str, DesignResult]) -> None:
    """A configuration on which a design's reachable graph is today's tells nothing about it:
    every configuration a design names must be one it changes."""
    for r in results.values():
        idle = [c.config for c in r.configs if not c.changed]
        assert not idle, f"{r.name}: graph unchanged on {idle}"


def test_a_fix_whose_way_out_runs_both_guests_says_so(results: dict[str, DesignResult]) -> None:
    """keep-talking ends 11.1 -> 7.2's silent-partition hang (no-stuck-state fixed), but only by
    restarting the source after the destination guest ran: a split brain, which no cell can mark
    broken (it fails today already). The run says so, and the summary names the cell; waking the
    listen thread restarts a source whose destination never ran: nothing to say there."""
    keep = results["keep-talking"]
    c = next(c for c in keep.configs if c.config == "qemu-11.1-to-7.2")
    cell = next(x for x in c.cells if x.prop.name == "no-stuck-state")
    assert cell.mark == FIXED and not cell.today.holds
    p = c.path(cell, intended=True)
    assert p is not None
    assert {"no-split-brain", "no-rollback"} <= set(p["design_run_violates"])
    at = p["design_run_violates"]["no-split-brain"]
    state = p["design_run"][at]["state"]
    assert at > p["replayed"] and state["src_runstate"] == state["dst_runstate"] == "running"
    assert "no-stuck-state on qemu-11.1-to-7.2" in summary_line(keep)
    cancel = next(c for c in results["cancel-in-postcopy-device"].configs if c.config == "qemu-11.1-to-7.2")
    assert "no-split-brain" in cancel.detours()["no-stuck-state"]  # the operator's cancel, the same way out
    wake = results["wake-listen-thread"].configs[0]
    p = wake.path(next(x for x in wake.cells if x.prop.name == "resumes-after-device-load-failure"), intended=True)
    assert p is not None and p["cell"] == FIXED and p["design_run_violates"] == {}
    assert "violates another property" not in summary_line(results["wake-listen-thread"])


def test_todays_side_is_the_pinned_verify(results: dict[str, DesignResult]) -> None:
    """Today's column of every design's matrix is what `migmodel verify` pins in
    tests/manifest.json for that configuration: the same state count and the same verdicts."""
    manifest = json.loads((ROOT / "tests" / "manifest.json").read_text(encoding="utf-8"))
    checked = 0
    for r in results.values():
        for c in r.configs:
            if c.config not in manifest:
                continue  # a design's own configuration (not in the default matrix)
            pinned = manifest[c.config]
            assert c.today_states == pinned["states"], (r.name, c.config)
            for cell in c.cells:
                word = "holds" if cell.today.holds else "violated"
                assert pinned["verdicts"][cell.prop.name] == word, (r.name, c.config, cell.prop.name)
                checked += 1
    assert checked >= 25 * 29
