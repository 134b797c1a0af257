"""Plain-text rendering: the verdict matrix and timelines, for terminals and logs.

Generic: a state is shown through ``Model.describe_state`` (its keys become columns), an action
through ``Model.describe_action``. In a timeline, a value a step changed is marked ``*``; a
counterexample ends with its final state explained (``checker.stepinfo``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from checker.explore import Step
from checker.spec import Model, Property
from checker.stepinfo import final_state, final_state_lines
from checker.verify import ConfigResult, verdict_word

CHANGED = "*"
"""Prefix of a timeline cell whose value the step changed."""


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


def timeline_lines(model: Model, steps: Sequence[Step]) -> list[str]:
    rows: list[list[str]] = []
    header: list[str] = []
    prev: dict[str, Any] | None = None
    for i, (action, state) in enumerate(steps):
        d = model.describe_state(state)
        if not header:
            header = ["#", "actor", "action", *d.keys()]
        a = {"actor": "", "action": "(initial state)"} if action is None else model.describe_action(action)
        text = str(a.get("action", ""))
        if a.get("refused"):
            text += f" [refused: {a['refused']}]"
        cells = [(CHANGED if prev is not None and prev.get(k) != v else "") + _cell(v) for k, v in d.items()]
        rows.append([str(i), str(a.get("actor", "")), text, *cells])
        prev = d
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    widths = [min(w, 60) for w in widths]

    def fmt(r: list[str]) -> str:
        return "  ".join(c[:w].ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()

    return [fmt(header), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)]


def print_timeline(model: Model, steps: Sequence[Step], *, title: str = "") -> None:
    if title:
        print(title)
    for line in timeline_lines(model, steps):
        print(line)


def matrix_lines(runs: Sequence[ConfigResult], props: Sequence[Property]) -> list[str]:
    header = ["configuration", "states", "edges", "depth", "time", *(p.name for p in props)]
    rows = []
    for r in runs:
        by = {v.property.name: v for v in r.verdicts}
        rows.append([r.name, f"{r.exploration.state_count:,}", f"{r.exploration.edge_count:,}",
                     str(r.exploration.max_depth), f"{r.seconds:.2f}s",
                     *(verdict_word(p.kind, by[p.name].holds) for p in props)])
    # Transposed: one line per property reads better than 20 columns.
    out = []
    names = [r[0] for r in rows]
    w0 = max(len(h) for h in header)
    widths = [max(len(n), 8) for n in names]
    out.append(" " * w0 + "  " + "  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)))
    for i, h in enumerate(header[1:], 1):
        out.append(h.ljust(w0) + "  " + "  ".join(r[i].ljust(w) for r, w in zip(rows, widths, strict=True)))
    return out


def ending_lines(model: Model, state: Any,
                 explain_state: Callable[[Any], Sequence[tuple[str, str]]] | None) -> list[str]:
    """The close of a printed counterexample: the ``*`` legend, then how it ends (each thread and
    what it waits for, the enabled and refused actions)."""
    return [f"({CHANGED} marks a value the step changed.) How it ends:",
            *("  " + line for line in final_state_lines(final_state(model, state, explain_state)))]


def print_matrix(runs: Sequence[ConfigResult], props: Sequence[Property], *, show_counterexamples: bool,
                 explain_state: Callable[[Any], Sequence[tuple[str, str]]] | None = None) -> None:
    for line in matrix_lines(runs, props):
        print(line)
    if not show_counterexamples:
        return
    for r in runs:
        for v in r.verdicts:
            if v.holds or v.counterexample is None:
                continue
            print()
            print(f"== {r.name}: {v.property.name} violated ({len(v.counterexample) - 1} steps)")
            print(f"   claim: {v.property.claim}")
            if v.note:
                print(f"   {v.note}")
            for line in timeline_lines(r.model, v.counterexample):
                print("   " + line)
            if v.loop:
                print("   ... then forever:")
                for line in timeline_lines(r.model, v.loop)[2:]:
                    print("   " + line)
            for line in ending_lines(r.model, v.counterexample[-1].state, explain_state):
                print("   " + line)
