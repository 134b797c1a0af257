"""``migmodel whatif``: proposed designs judged side by side with today's model.

Generic: the suite provides the designs (``Suite.variants_of("designs")``: ``checker.spec.Variant`` values,
a name, where the proposal comes from, the properties it intends to fix, the configurations to
judge it on and ``build(config)``); this module knows nothing of QEMU. For every design and every
one of its configurations, today's model (``Suite.build``) and the design's model are explored and
every property is judged on both. Each cell (configuration x property) is then:

* ``fixed``: the property fails today and holds with the design (for a SOMETIMES property: the
  situation is never reached today and is reached with the design);
* ``broken``: it holds today and fails with the design (SOMETIMES: reached today, never reached
  with the design);
* ``unchanged``: the same verdict on both.

Every broken cell comes with the design's counterexample (for SOMETIMES, today's witness, the run
the design no longer allows), every fixed cell with today's counterexample (the failing run the
design closes; for SOMETIMES, the design's witness) and the witness of the fix: that run played on
the design as far as the design allows it, then the design's shortest way on to the goal
(``replay_then_finish``), and every property the design intends to
fix but leaves violated with the design's counterexample (why the fix falls short). A design
whose reachable graph is identical to today's on every configuration it is judged on changes
nothing: it is flagged, not judged.

Exit codes: 0 when every design changes the model and none breaks a property that holds today;
1 when some design breaks one (or changes nothing); 2 bad input (unknown design or
configuration); 3 the state limit was reached.

``whatif_files`` renders the same comparison as ``whatif.md`` and ``whatif.html`` for the
report (deterministic: no timings, fixed order).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from checker.analysis import Verdict, check, steps_to_json
from checker.cli_base import UsageError, add_command, at_least, columns
from checker.explore import Step, explore
from checker.kinds import MEANINGS, falsifiable, goal_of, violated_here
from checker.spec import Model, Property, Suite, Variant
from checker.verify import verdict_word

__all__ = ("Cell", "ConfigComparison", "DesignResult", "register", "run_whatif", "whatif_files")

EXIT_OK, EXIT_BROKEN = 0, 1
FIXED, BROKEN, UNCHANGED = "fixed", "broken", "unchanged"


REPLAY_LIMIT = 200_000
"""States a fixed cell's continuation search may visit (the designs' graphs are far smaller)."""


def replay_then_finish(model: Model, today: Sequence[Step], prop: Property) -> tuple[list[Step], int]:
    """Today's failing run played on the design, then how the design goes on.

    Each step of ``today`` is taken on ``model`` when an action with the same description
    (``Model.describe_action``) is enabled, preferring the one that reaches a state with the same
    description; the replay stops at the first step the design does not allow. From there, a
    shortest run of ``via`` steps to a goal: a state satisfying ``predicate`` (ALWAYS_POSSIBLE,
    EVENTUALLY) or a final state (DEADLOCK_FREE); nothing more for the other kinds. Returns the
    run and how many of today's steps (after the initial state) it replays.
    """
    inits = list(model.init_states())
    if not today or not inits:
        return [], 0
    path = [Step(None, inits[0])]
    replayed = 0
    for step in today[1:]:
        want = model.describe_action(step.action)
        want_state = model.describe_state(step.state)
        options = [(a, t) for a, t in model.successors(path[-1].state) if model.describe_action(a) == want]
        if not options:
            break
        exact = [o for o in options if model.describe_state(o[1]) == want_state]
        a, t = (exact or options)[0]
        path.append(Step(a, t))
        replayed += 1
    goal = goal_of(prop, model.is_final)
    if goal is None:
        return path, replayed
    return path + _shortest_to(model, path[-1].state, goal, prop.via), replayed


def _shortest_to(model: Model, start: Any, goal: Callable[[Any], bool], via: Callable[[Any], bool],
                 avoid: Callable[[Any], bool] | None = None) -> list[Step]:
    """A shortest run of ``via`` steps from ``start`` to a ``goal`` state (not counting ``start``),
    through no state that ``avoid`` rejects; empty when ``start`` is a goal or none is found within
    ``REPLAY_LIMIT`` states."""
    if goal(start):
        return []
    parent: dict[Any, tuple[Any, Any]] = {start: (None, None)}
    frontier = [start]
    while frontier and len(parent) < REPLAY_LIMIT:
        nxt = []
        for state in frontier:
            for action, target in model.successors(state):
                if target in parent or not via(action) or (avoid is not None and avoid(target)):
                    continue
                parent[target] = (state, action)
                if goal(target):
                    out = []
                    while target != start:
                        prev, act = parent[target]
                        out.append(Step(act, target))
                        target = prev
                    return out[::-1]
                nxt.append(target)
        frontier = nxt
    return []


@dataclass
class Cell:
    """One property on one configuration, today and with the design."""

    prop: Property
    today: Verdict
    design: Verdict

    @property
    def mark(self) -> str:
        if self.today.holds == self.design.holds:
            return UNCHANGED
        return FIXED if self.design.holds else BROKEN

    def evidence(self, intended: bool = False) -> tuple[str, str, Verdict] | None:
        """(which model, "counterexample" or "witness", verdict) showing the change, or None.
        An ``intended`` property the design leaves violated shows the design's counterexample:
        why the intended fix does not work."""
        mark = self.mark
        sometimes = not falsifiable(self.prop.kind)
        if mark == UNCHANGED and intended and not sometimes and self.design.counterexample is not None:
            return ("design", "counterexample", self.design)
        if mark == BROKEN:
            return ("today", "witness", self.today) if sometimes else ("design", "counterexample", self.design)
        if mark == FIXED:
            return ("design", "witness", self.design) if sometimes else ("today", "counterexample", self.today)
        return None


@dataclass
class ConfigComparison:
    """One design on one configuration."""

    config: str
    description: str
    today_model: Model
    design_model: Model
    today_states: int
    design_states: int
    changed: bool
    """The design's reachable graph differs from today's (fingerprints differ)."""
    cells: list[Cell]
    _replays: dict[str, tuple[list[Step], int]] = field(default_factory=dict, repr=False)

    def replay(self, cell: Cell) -> tuple[list[Step], int]:
        """``replay_then_finish`` of today's counterexample of a fixed cell on the design (cached).
        When the design's shortest way on violates another property of one state
        (``violated_on_the_way``), the shortest way on that violates none of those is taken
        instead, if there is one: a detour is reported only when the design has no other way."""
        if cell.prop.name not in self._replays:
            run, replayed = replay_then_finish(self.design_model, cell.today.counterexample or [], cell.prop)
            bad = [c.prop for c in self.cells if c.prop.name in self.violated_on_the_way(run, replayed)]
            goal = goal_of(cell.prop, self.design_model.is_final)
            if bad and goal is not None:
                clean = _shortest_to(self.design_model, run[replayed].state, goal, cell.prop.via,
                                     avoid=lambda s: any(violated_here(p, s) for p in bad))
                if clean:
                    run = run[:replayed + 1] + clean
            self._replays[cell.prop.name] = (run, replayed)
        return self._replays[cell.prop.name]

    def detours(self) -> dict[str, dict[str, int]]:
        """Fixed cell (property) -> what the design's way out of today's run violates on the way."""
        out = {}
        for cell in self.cells:
            if cell.mark == FIXED and falsifiable(cell.prop.kind) and (
                    bad := self.violated_on_the_way(*self.replay(cell))):
                out[cell.prop.name] = bad
        return out

    def model(self, which: str) -> Model:
        return self.today_model if which == "today" else self.design_model

    def path(self, cell: Cell, intended: bool = False) -> dict[str, Any] | None:
        """The evidence of a cell as JSON (see ``Cell.evidence``): the run, its loop, which model
        it is from."""
        ev = cell.evidence(intended)
        if ev is None:
            return None
        which, kind, verdict = ev
        model = self.model(which)
        steps = verdict.witness if kind == "witness" else verdict.counterexample
        out: dict[str, Any] = {"cell": cell.mark, "model": which, "path": kind, "note": verdict.note,
                               "steps": steps_to_json(model, steps or [])}
        if verdict.loop:
            out["loop"] = steps_to_json(model, verdict.loop, start=len(steps or []))
        if cell.mark == FIXED and which == "today":
            run, replayed = self.replay(cell)
            out["design_run"] = steps_to_json(self.design_model, run)
            out["replayed"] = replayed
            out["design_run_violates"] = self.violated_on_the_way(run, replayed)
        return out

    def violated_on_the_way(self, run: Sequence[Step], replayed: int) -> dict[str, int]:
        """Properties of one state (ALWAYS) that the design's own part of a fixed cell's run (the
        steps after the ``replayed`` steps of today's run) violates, with the first step that does:
        a fix whose way out passes through, say, two running guests. Such a property fails today
        already (its cell cannot be marked broken), so only the run can show it. Left out: one the
        design breaks (its broken cell shows it) and one the replayed state violates already."""
        out: dict[str, int] = {}
        for cell in self.cells:
            if not MEANINGS[cell.prop.kind].local or cell.mark == BROKEN or not run:
                continue
            if violated_here(cell.prop, run[replayed].state):
                continue
            for i in range(replayed + 1, len(run)):
                if violated_here(cell.prop, run[i].state):
                    out[cell.prop.name] = i
                    break
        return out


@dataclass
class DesignResult:
    name: str
    doc: str
    origin: str
    intends: tuple[str, ...]
    configs: list[ConfigComparison] = field(default_factory=list)

    @property
    def changes_model(self) -> bool:
        return any(c.changed for c in self.configs)

    def marked(self, mark: str) -> list[tuple[str, str]]:
        return [(c.config, cell.prop.name) for c in self.configs for cell in c.cells if cell.mark == mark]

    @property
    def breaks(self) -> bool:
        return bool(self.marked(BROKEN))

    def intended_fixed(self) -> dict[str, list[str]]:
        """Intended property -> the configurations on which the design fixes it."""
        return {p: [c for c, q in self.marked(FIXED) if q == p] for p in self.intends}

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.origin,
            "intends": list(self.intends),
            "doc": self.doc,
            "changes_model": self.changes_model,
            "intended_fixed": self.intended_fixed(),
            "states": {c.config: {"today": c.today_states, "design": c.design_states, "changed": c.changed}
                       for c in self.configs},
            "cells": {c.config: {cell.prop.name: cell.mark for cell in c.cells} for c in self.configs},
            "counterexamples": {
                c.config: {cell.prop.name: p for cell in c.cells
                           if (p := c.path(cell, cell.prop.name in self.intends)) is not None}
                for c in self.configs
            },
        }


def _choose(suite: Suite, designs: Sequence[str] | None) -> list[Variant]:
    catalogue = suite.variants_of("designs")
    if catalogue is None:
        raise UsageError(f"model suite {suite.name!r} defines no designs")
    for n in designs or []:
        if n not in catalogue:
            raise UsageError(f"unknown design {n!r} (known: {', '.join(catalogue)})")
    return [catalogue[n] for n in dict.fromkeys(designs)] if designs else list(catalogue.values())


def run_whatif(
    suite: Suite,
    designs: Sequence[str] | None = None,
    configs: Sequence[str] | None = None,
    *,
    max_states: int | None = None,
    progress: Callable[[str, str, int, int], None] | None = None,
    within: Collection[str] | None = None,
) -> list[DesignResult]:
    """Judge every chosen design on its configurations (or on ``configs``, by name: the suite's
    or the design's own) against today's model. With ``within`` (a report of some configurations),
    a design is judged only on those of its configurations that are in ``within``, and a design
    with none of them is left out. ``progress(design, configuration, n, total)`` is called before
    the n-th of the ``total`` (design, configuration) pairs is explored."""
    chosen = _choose(suite, designs)
    props: list[Property] = list(suite.properties())
    names = {p.name for p in props}
    pool = dict(suite.configs())  # a design's own configurations may be asked for by name too
    for v in chosen:
        for p in v.intends:
            if p not in names:
                raise UsageError(f"design {v.name!r} intends an unknown property {p!r}")
        for n, cfg in v.own_configs.items():
            pool.setdefault(n, cfg)
    for cname in configs or []:
        if cname not in pool:
            raise UsageError(f"unknown configuration {cname!r} (known: {', '.join(pool)})")
    today: dict[str, tuple[Model, Any, list[Verdict]]] = {}
    results: list[DesignResult] = []
    plan = [(v, {n: v.own_configs.get(n, pool[n]) for n in (configs or v.configs) if within is None or n in within})
            for v in chosen]
    total, done = sum(len(targets) for _, targets in plan), 0
    for v, targets in plan:
        result = DesignResult(v.name, v.doc, v.origin, v.intends)
        if within is not None and not targets:
            continue
        for cname, cfg in targets.items():
            done += 1
            if progress is not None:
                progress(v.name, cname, done, total)
            if cname not in today:
                model = suite.build(cfg)
                ex = explore(model, max_states=max_states)
                today[cname] = (model, ex, check(ex, props))
            t_model, t_ex, t_verdicts = today[cname]
            d_model = v.build(cfg)
            d_ex = explore(d_model, max_states=max_states)
            d_verdicts = check(d_ex, props)
            result.configs.append(ConfigComparison(
                config=cname, description=suite.describe_config(cfg), today_model=t_model,
                design_model=d_model, today_states=t_ex.state_count, design_states=d_ex.state_count,
                changed=t_ex.fingerprint() != d_ex.fingerprint(),
                cells=[Cell(p, a, b) for p, a, b in zip(props, t_verdicts, d_verdicts, strict=True)]))
        results.append(result)
    return results


def exit_code(results: Sequence[DesignResult]) -> int:
    bad = any(r.breaks or not r.changes_model for r in results)
    return EXIT_BROKEN if bad else EXIT_OK


# ---------------------------------------------------------------------------------------------
# Plain text.


def _pair(cell: Cell) -> str:
    kind = cell.prop.kind
    a, b = verdict_word(kind, cell.today.holds), verdict_word(kind, cell.design.holds)
    mark = cell.mark
    return a if mark == UNCHANGED else f"{a} -> {b} ({mark.upper()})"


def summary_line(r: DesignResult) -> str:
    if not r.changes_model:
        return "changes nothing: the reachable graph is today's on every configuration judged"
    fixed, broken = r.marked(FIXED), r.marked(BROKEN)
    wanted = r.intended_fixed()
    missed = [p for p, where in wanted.items() if not where]
    text = f"fixes {len(fixed)} cell(s), breaks {len(broken)}"
    got = [f"{p} on {', '.join(where)}" for p, where in wanted.items() if where]
    if got:
        text += "; intended fix achieved: " + "; ".join(got)
    if missed:
        text += "; intended fix NOT achieved on any configuration judged: " + ", ".join(missed)
    detours = [f"{p} on {c.config}" for c in r.configs for p in c.detours()]
    if detours:
        text += ("; fixed, but every way the design finds out of today's run violates another property on the "
                 "way (see the runs): " + ", ".join(detours))
    return text


def text_lines(results: Sequence[DesignResult], *, show_paths: bool = True, width: int = 120) -> list[str]:
    """The plain-text comparison, every line at most ``width`` columns (matrix cells wrap)."""
    from checker.render import paragraph, table_lines, timeline_lines

    inner = width - 3
    out: list[str] = []
    for r in results:
        out += [f"== design {r.name}", *paragraph("from: ", r.origin, width=width, indent="   "),
                *paragraph("intends: ", ", ".join(r.intends), width=width, indent="   "),
                *paragraph("", summary_line(r), width=width, indent="   "), ""]
        rows = [[cell.prop.name, *(_pair(c.cells[i]) for c in r.configs)]
                for i, cell in enumerate(r.configs[0].cells if r.configs else [])]
        if rows:
            # The property names stay whole; the configurations' columns wrap.
            out += ["   " + line for line in table_lines(["property", *(c.config for c in r.configs)], rows,
                                                         width=inner, rule=False,
                                                         floors=(max(len(row[0]) for row in rows),))]
        out.append("")
        if not show_paths:
            continue
        for c in r.configs:
            for cell in c.cells:
                ev = cell.evidence(cell.prop.name in r.intends)
                if ev is None:
                    continue
                which, kind, verdict = ev
                steps = verdict.witness if kind == "witness" else verdict.counterexample
                what = "STILL VIOLATED (intended)" if cell.mark == UNCHANGED else cell.mark.upper()
                out += paragraph("-- ", f"{c.config}: {cell.prop.name} {what}: {which}'s {kind} "
                                 f"({len(steps or []) - 1} steps)", width=width)
                out += ["   " + line for line in timeline_lines(c.model(which), steps or [], width=inner)]
                if verdict.loop:
                    out.append("   ... then forever:")
                    out += ["   " + line for line in timeline_lines(c.model(which), verdict.loop, width=inner)[2:]]
                if cell.mark == FIXED and which == "today":
                    run, replayed = c.replay(cell)
                    out += paragraph("with the design: ", _replay_words(replayed, len(steps or []) - 1, len(run) - 1),
                                     width=width, indent="   ")
                    out += ["   " + line for line in timeline_lines(c.design_model, run, width=inner)]
                    if bad := c.violated_on_the_way(run, replayed):
                        out += paragraph("but on the way: ", _on_the_way(bad), width=width, indent="   ")
                out.append("")
    broken = [r.name for r in results if r.breaks]
    idle = [r.name for r in results if not r.changes_model]
    out += paragraph("", f"{len(results)} design(s): {len(broken)} break a property that holds today"
                     + (f" ({', '.join(broken)})" if broken else "")
                     + (f"; {len(idle)} change nothing ({', '.join(idle)})" if idle else ""), width=width)
    return out


def _progress_line(design: str, config: str, done: int, total: int) -> None:
    """On a terminal: which pair is being explored, overwritten by the next (the whole run takes
    about a minute; nothing is written when stderr is not a terminal)."""
    sys.stderr.write(f"\r\x1b[Kwhatif: {done}/{total}: {design} on {config}")
    sys.stderr.flush()


def cmd_whatif(args: argparse.Namespace) -> int:
    from checker.cli_base import load_suite

    suite = load_suite()
    progress = _progress_line if sys.stderr.isatty() else None
    try:
        results = run_whatif(suite, args.design, args.config, max_states=args.max_states, progress=progress)
    finally:
        if progress is not None:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
    if args.json:
        print(json.dumps({"designs": {r.name: r.to_json() for r in results}}, indent=2))
    else:
        for line in text_lines(results, show_paths=not args.no_counterexamples, width=columns()):
            print(line)
    return exit_code(results)


def register(sub: Any, name: str) -> None:
    p = add_command(
        sub, name, help="judge proposed designs side by side with today's model",
        description="For each proposed design (a variant of the model the suite provides), explore its "
                    "configurations and judge every property with and without it: each cell fixed, broken or "
                    "unchanged, with the counterexample of what it breaks and the witness of what it fixes.",
        examples=["migmodel whatif", "migmodel whatif --design wake-listen-thread --config qemu-11.1",
                  "migmodel whatif --json --no-counterexamples"],
        exits={0: "no design breaks a property that holds today",
               1: "a design breaks a property that holds today, or changes nothing",
               3: "the state limit (--max-states) was reached"})
    p.add_argument("--design", action="append", metavar="NAME", help="a design (repeatable; default: all)")
    p.add_argument("--config", action="append", metavar="NAME",
                   help="a configuration (repeatable; default: each design's own)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-counterexamples", action="store_true", help="only the matrices")
    p.add_argument("--max-states", type=at_least(1), default=5_000_000, metavar="N",
                   help="stop with exit code 3 beyond N states per configuration (default 5,000,000)")
    p.set_defaults(func=cmd_whatif)


# ---------------------------------------------------------------------------------------------
# The report page.


def _replay_words(replayed: int, total: int, run: int) -> str:
    head = (f"all {total} steps of today's run replay" if replayed == total
            else f"the first {replayed} of today's {total} steps replay, then the design diverges")
    extra = run - replayed
    return head + (f"; then {extra} more step(s) reach the goal" if extra > 0 else "")


def _on_the_way(bad: dict[str, int]) -> str:
    return "the design's own steps reach a state that violates (no way on within the search avoids it) " + ", ".join(
        f"{name} (step {step})" for name, step in bad.items())


def _label(cell: Cell) -> str:
    return "still violated (intended)" if cell.mark == UNCHANGED else cell.mark


def _md_steps(steps: list[dict[str, Any]]) -> list[str]:
    if not steps:
        return []
    keys = list(steps[0]["state"].keys())
    out = ["| # | actor | action | " + " | ".join(keys) + " |", "|---|---|---|" + "---|" * len(keys)]
    for s in steps:
        vals = [", ".join(map(str, v)) if isinstance(v, list) else str(v) for v in s["state"].values()]
        action = str(s.get("action", "")).replace("|", "\\|")
        out.append(f"| {s['step']} | {s.get('actor', '')} | {action} | "
                   + " | ".join(x.replace("|", "\\|") or "-" for x in vals) + " |")
    return out


def _anchor(design: str, config: str, prop: str) -> str:
    import re

    return "wi-" + re.sub(r"[^A-Za-z0-9.]+", "-", f"{design}-{config}-{prop}").strip("-").lower()


def _evidence(suite: Suite, results: Sequence[DesignResult]
              ) -> list[tuple[DesignResult, ConfigComparison, Cell, dict[str, Any], str]]:
    from checker.report import _story

    out = []
    for r in results:
        for c in r.configs:
            for cell in c.cells:
                p = c.path(cell, cell.prop.name in r.intends)
                if p is not None:
                    out.append((r, c, cell, p, _story(suite, p["steps"], p.get("loop", []))))
    return out


def whatif_md(suite: Suite, results: Sequence[DesignResult]) -> str:
    evidence = _evidence(suite, results)
    L = ["# What if: proposed designs against today's model", "",
         "Generated by `migmodel report` (the same as `migmodel whatif`); do not edit by hand. "
         "Each design is a variant of today's transition tables; every property is judged on both, "
         "cell by cell: **fixed** (fails today, holds with the design), **broken** (holds today, fails "
         "with the design), or unchanged. A broken cell links to the design's counterexample, a fixed "
         "one to today's counterexample that the design closes, and a property the design means to fix "
         "but leaves violated to the design's counterexample.", "", "[back to the index](index.md)", ""]
    for r in results:
        L += [f"## {r.name}", "", f"**From:** {r.origin}", "", r.doc, "",
              f"**Intends:** {', '.join(f'`{p}`' for p in r.intends)}", "", f"**Verdict:** {summary_line(r)}", ""]
        if not r.configs:
            continue
        L.append("| property | " + " | ".join(
            f"{c.config} ({c.today_states:,} -> {c.design_states:,} states"
            + ("" if c.changed else ", graph unchanged") + ")" for c in r.configs) + " |")
        L.append("|---|" + "---|" * len(r.configs))
        for i, first in enumerate(r.configs[0].cells):
            cells = []
            for c in r.configs:
                cell = c.cells[i]
                text = _pair(cell)
                if cell.mark != UNCHANGED:
                    text = f"[**{text}**](#{_anchor(r.name, c.config, cell.prop.name)})"
                elif cell.evidence(cell.prop.name in r.intends) is not None:
                    text = f"[{text}](#{_anchor(r.name, c.config, cell.prop.name)})"
                cells.append(text)
            star = " (intended)" if first.prop.name in r.intends else ""
            L.append(f"| `{first.prop.name}`{star} | " + " | ".join(cells) + " |")
        L.append("")
    L += ["## Counterexamples and witnesses", ""]
    for r, c, cell, p, story in evidence:
        what = (f"the design's {p['path']}" if p["model"] == "design" else f"today's {p['path']}")
        L += [f'<a id="{_anchor(r.name, c.config, cell.prop.name)}"></a>', "",
              f"### {r.name} on {c.config}: `{cell.prop.name}` {_label(cell)}", "",
              f"Claim: {cell.prop.claim}", "", f"Shown: {what}. _{p['note']}_", ""]
        if story:
            L += [f"**What happens:** {story}", ""]
        L += _md_steps(p["steps"] + p.get("loop", []))
        if p.get("loop"):
            L += ["", f"Steps {p['loop'][0]['step']}-{p['loop'][-1]['step']} repeat forever."]
        if "design_run" in p:
            words = _replay_words(p["replayed"], len(p["steps"]) - 1, len(p["design_run"]) - 1)
            L += ["", f"**With the design:** {words}.", "", *_md_steps(p["design_run"])]
            if p["design_run_violates"]:
                L += ["", f"**But on the way:** {_on_the_way(p['design_run_violates'])}."]
        L.append("")
    return "\n".join(L)


def whatif_html(suite: Suite, results: Sequence[DesignResult]) -> str:
    from checker.report import _CSS, _e

    css = _CSS + ".fixed{background:#c8e6c9;color:#1b5e20;font-weight:bold}" \
                 ".broken{background:#ef9a9a;color:#7f0000;font-weight:bold}.unchanged{color:#546e7a}\n"
    H = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
         "<title>What if: proposed designs</title>", f"<style>{css}</style></head><body><main>",
         "<h1>What if: proposed designs against today's model</h1>",
         '<p class="lede">Each design is a variant of today\'s transition tables; every property is judged '
         "on both. <b>fixed</b>: fails today, holds with the design; <b>broken</b>: holds today, fails with "
         'the design. Generated from the verdicts. <a href="index.html">Back to the index</a>.</p>',
         "<nav>" + " ".join(f'<a href="#design-{_e(r.name)}">{_e(r.name)}</a>' for r in results) + "</nav>"]
    for r in results:
        H += [f'<h2 id="design-{_e(r.name)}">{_e(r.name)}</h2>', f"<p><b>From:</b> {_code(r.origin)}</p>",
              f'<p class="note">{_code(r.doc)}</p>',
              f"<p><b>Intends:</b> {', '.join(f'<code>{_e(p)}</code>' for p in r.intends)}</p>",
              f"<p><b>Verdict:</b> {_e(summary_line(r))}</p>"]
        if not r.configs:
            continue
        H.append("<table><tr><th>property</th>" + "".join(
            f"<th>{_e(c.config)}<br><span class=\"note\">{c.today_states:,} &rarr; {c.design_states:,} states"
            "</span></th>" for c in r.configs) + "</tr>")
        for i, first in enumerate(r.configs[0].cells):
            star = " (intended)" if first.prop.name in r.intends else ""
            row = [f"<tr><td><code>{_e(first.prop.name)}</code>{_e(star)}</td>"]
            for c in r.configs:
                cell = c.cells[i]
                text = _e(_pair(cell))
                if cell.mark != UNCHANGED or cell.evidence(cell.prop.name in r.intends) is not None:
                    text = f'<a href="#{_anchor(r.name, c.config, cell.prop.name)}">{text}</a>'
                row.append(f'<td class="{cell.mark}">{text}</td>')
            H.append("".join(row) + "</tr>")
        H.append("</table>")
    H.append("<h2>Counterexamples and witnesses</h2>")
    for r, c, cell, p, story in _evidence(suite, results):
        what = f"the design's {p['path']}" if p["model"] == "design" else f"today's {p['path']}"
        H.append(f'<div class="cx" id="{_anchor(r.name, c.config, cell.prop.name)}">'
                 f"<h3>{_e(r.name)} on {_e(c.config)}: {_e(cell.prop.name)} {_e(_label(cell))}</h3>")
        H.append(f'<p class="note">Claim: {_code(cell.prop.claim)}<br>Shown: {_code(what)}. {_code(p["note"])}</p>')
        if story:
            H.append(f'<p class="story"><b>What happens:</b> {_code(story)}</p>')
        H += _html_steps("steps", p["steps"] + p.get("loop", []))
        if "design_run" in p:
            words = _replay_words(p["replayed"], len(p["steps"]) - 1, len(p["design_run"]) - 1)
            H += _html_steps(f"with the design: {words}", p["design_run"])
            if p["design_run_violates"]:
                H.append(f'<p class="story"><b>But on the way:</b> {_e(_on_the_way(p["design_run_violates"]))}.</p>')
        H.append("</div>")
    H.append("</main></body></html>")
    return "\n".join(H) + "\n"


def _html_steps(title: str, steps: list[dict[str, Any]]) -> list[str]:
    from checker.report import _e

    if not steps:
        return []
    keys = list(steps[0]["state"].keys())
    H = [f"<details><summary>{_e(title)}</summary><table class=\"steps\"><tr><th>#</th><th>actor</th>"
         "<th>action</th>" + "".join(f"<th>{_e(k)}</th>" for k in keys) + "</tr>"]
    for s in steps:
        vals = [", ".join(map(str, v)) if isinstance(v, list) else str(v) for v in s["state"].values()]
        H.append(f"<tr><td>{s['step']}</td><td>{_e(s.get('actor', ''))}</td><td>{_e(s.get('action', ''))}</td>"
                 + "".join(f"<td>{_e(x) or '-'}</td>" for x in vals) + "</tr>")
    H.append("</table></details>")
    return H


def whatif_files(suite: Suite, *, configs: Collection[str] | None = None,
                 max_states: int | None = None) -> dict[str, str]:
    """The report's what-if page (``whatif.md``, ``whatif.html``); empty when the suite has no
    designs. With ``configs`` (a report of some configurations), each design on those of its
    configurations that the report holds."""
    if "designs" not in suite.variants:
        return {}
    results = run_whatif(suite, max_states=max_states, within=configs)
    return {"whatif.md": whatif_md(suite, results), "whatif.html": whatif_html(suite, results)}


def _code(text: object) -> str:
    """Escaped text whose code spans (``x`` or `x`, as docstrings write them) become ``<code>``:
    no backtick reaches the page."""
    from checker.report import _e

    escaped = _e(text)
    return re.sub(r"`{1,2}([^`]+)`{1,2}", r"<code>\1</code>", escaped).replace("`", "'")
