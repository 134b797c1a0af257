"""Plain-text rendering: the verdict matrix and timelines, for terminals and logs.

Generic: a state is shown through ``Model.describe_state`` (its keys become columns), an action
through ``Model.describe_action``. In a timeline, a value a step changed is marked ``*``; a
counterexample ends with its final state explained (``checker.stepinfo``).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from typing import Any

from checker.explore import Step
from checker.spec import Model, Property
from checker.stepinfo import final_state, final_state_lines
from checker.verify import ConfigResult, verdict_word

CHANGED = "*"
"""Prefix of a timeline cell whose value the step changed."""

ELLIPSIS = "…"
MAX_LINES = 4
"""A cell wider than its column is wrapped onto at most this many lines; the rest is cut, and
the cut is marked with ``ELLIPSIS`` (never silently)."""

_BREAKS = ", -/]"


def wrap_cell(text: str, width: int, max_lines: int = MAX_LINES) -> list[str]:
    """``text`` in lines of at most ``width`` characters, broken at a space where possible, else
    after a comma, dash, slash or bracket; beyond ``max_lines`` the last line ends with ``ELLIPSIS``."""
    width = max(width, 2)
    lines: list[str] = []
    rest = text
    while rest:
        if len(rest) <= width:
            lines.append(rest)
            rest = ""
            break
        if len(lines) == max_lines - 1:
            lines.append(rest[:width - 1] + ELLIPSIS)
            rest = ""
            break
        cut = rest.rfind(" ", 0, width + 1) + 1  # a space first, then a comma, dash, slash or bracket
        if cut <= 0:
            cut = max(rest.rfind(c, 0, width) for c in _BREAKS) + 1
            if cut <= width // 3:
                cut = width
        lines.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return lines or [""]


def fit_widths(natural: Sequence[int], width: int, minimum: Sequence[int]) -> list[int]:
    """Column widths that fit ``width`` (two spaces between columns): the widest column gives way
    first, none below its ``minimum``."""
    widths = list(natural)
    gaps = 2 * (len(widths) - 1)
    while sum(widths) + gaps > width:
        widest = max(range(len(widths)), key=lambda i: (widths[i] - minimum[i] > 0, widths[i]))
        if widths[widest] <= minimum[widest]:
            break  # cannot shrink any further
        widths[widest] -= 1
    return widths


def table_lines(header: Sequence[str], rows: Sequence[Sequence[str]], *, width: int = 120,
                max_lines: int = MAX_LINES, rule: bool = True, caps: Sequence[int | None] = (),
                details: Sequence[Sequence[tuple[str, str]]] = (), floors: Sequence[int] = ()) -> list[str]:
    """A table that fits ``width`` columns: cells too wide for their column wrap (``wrap_cell``).
    ``caps``: the widest each column may be; ``details``: per row, (label, text) lines printed in
    full (wrapped) under the row; ``floors``: the narrowest each column may become."""
    natural = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    natural = [min(n, c) if c else n for n, c in zip(natural, [*caps, *[None] * len(natural)], strict=False)]
    minimum = [min(n, max(6, min(len(h), 12))) for n, h in zip(natural, header, strict=True)]
    minimum = [min(n, max(m, f)) for n, m, f in zip(natural, minimum, [*floors, *[0] * len(natural)], strict=False)]
    widths = fit_widths(natural, width, minimum)

    def fmt(row: Sequence[str]) -> list[str]:
        cells = [wrap_cell(str(c), w, max_lines) for c, w in zip(row, widths, strict=True)]
        return ["  ".join((cell[k] if k < len(cell) else "").ljust(w) for cell, w in zip(cells, widths, strict=True))
                .rstrip() for k in range(max(len(c) for c in cells))]

    out = fmt(header)
    if rule:
        out.append("  ".join("-" * w for w in widths))
    pad = " " * (widths[0] + 2) if len(widths) > 1 else "  "
    for i, row in enumerate(rows):
        out += fmt(row)
        for label, text in details[i] if i < len(details) else ():
            out += paragraph(f"{label}: ", text, width=width, indent=pad)
    return out


def paragraph(label: str, text: str, *, width: int = 120, indent: str = "") -> list[str]:
    """``label text`` wrapped to ``width``, continuation lines aligned under the text."""
    return textwrap.wrap(text, width=max(width, 40), initial_indent=indent + label,
                         subsequent_indent=indent + " " * len(label), break_on_hyphens=False) or [indent + label]


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


DETAIL_FROM = 16
"""A state field wider than this that does not fit in the timeline's width is shown under each
row (``field: value``, wrapped, in full) instead of as a cramped column."""


def timeline_lines(model: Model, steps: Sequence[Step], *, width: int = 120) -> list[str]:
    """The steps as a table fitting ``width`` columns: step, actor, action and the state's fields
    (wide fields under each row, where they are not empty)."""
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
    if not header:
        return []
    natural = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    moved: list[int] = []
    while sum(natural[i] for i in range(len(header)) if i not in moved) + 2 * (len(header) - len(moved)) > width:
        wide = [i for i in range(3, len(header)) if i not in moved and natural[i] > DETAIL_FROM]
        if not wide:
            break
        moved.append(max(wide, key=lambda i: natural[i]))
    moved.sort()
    kept = [i for i in range(len(header)) if i not in moved]
    details = [[(header[i], r[i]) for i in moved if r[i].removeprefix(CHANGED) not in ("", "-")] for r in rows]
    return table_lines([header[i] for i in kept], [[r[i] for i in kept] for r in rows], width=width,
                       details=details, floors=[0, 0, 28])


def print_timeline(model: Model, steps: Sequence[Step], *, title: str = "", width: int = 120) -> None:
    if title:
        print(title)
    for line in timeline_lines(model, steps, width=width):
        print(line)


NAME_CAP = 14
"""The verdict matrix's configuration columns are this wide; longer names wrap at a dash."""


def matrix_lines(runs: Sequence[ConfigResult], props: Sequence[Property], *, width: int = 120) -> list[str]:
    """The verdict matrix, one line per property and one column per configuration; when the
    configurations do not fit ``width`` side by side, in blocks of as many as fit."""
    header = ["states", "edges", "depth", "time", *(p.name for p in props)]
    columns = []
    for r in runs:
        by = {v.property.name: v for v in r.verdicts}
        columns.append([r.name, f"{r.exploration.state_count:,}", f"{r.exploration.edge_count:,}",
                        str(r.exploration.max_depth), f"{r.seconds:.2f}s",
                        *(verdict_word(p.kind, by[p.name].holds) for p in props)])
    w0 = min(max(len(h) for h in ["configuration", *header]), width // 3)
    out: list[str] = []
    block: list[list[str]] = []
    used = w0
    for col in [*columns, None]:
        need = 2 + max(8, min(NAME_CAP, len(col[0])), *(len(c) for c in col[1:])) if col is not None else 0
        if block and (col is None or used + need > width):
            if out:
                out.append("")
            out += table_lines(["configuration", *(c[0] for c in block)],
                               [[h, *(c[i] for c in block)] for i, h in enumerate(header, 1)],
                               width=width, rule=False, caps=[w0, *[max(8, NAME_CAP)] * len(block)])
            block, used = [], w0
        if col is not None:
            block.append(col)
            used += need
    return out


def ending_lines(model: Model, state: Any, explain_state: Callable[[Any], Sequence[tuple[str, str]]] | None,
                 *, width: int = 120) -> list[str]:
    """The close of a printed counterexample: the ``*`` legend, then how it ends (each thread and
    what it waits for, the enabled and refused actions), wrapped to ``width``."""
    out = [f"({CHANGED} marks a value the step changed.) How it ends:"]
    for line in final_state_lines(final_state(model, state, explain_state)):
        label, sep, text = line.partition(": ")
        out += paragraph(label + sep, text, width=width, indent="  ") if sep else paragraph("", line, width=width,
                                                                                           indent="  ")
    return out


def print_matrix(runs: Sequence[ConfigResult], props: Sequence[Property], *, show_counterexamples: bool,
                 width: int = 120, explain_state: Callable[[Any], Sequence[tuple[str, str]]] | None = None) -> None:
    for line in matrix_lines(runs, props, width=width):
        print(line)
    if not show_counterexamples:
        return
    for r in runs:
        for v in r.verdicts:
            if v.holds or v.counterexample is None:
                continue
            print()
            for line in paragraph("", f"== {r.name}: {v.property.name} violated ({len(v.counterexample) - 1} steps)",
                                  width=width):
                print(line)
            for line in paragraph("claim: ", v.property.claim, width=width, indent="   "):
                print(line)
            if v.note:
                for line in paragraph("", v.note, width=width, indent="   "):
                    print(line)
            for line in timeline_lines(r.model, v.counterexample, width=width - 3):
                print("   " + line)
            if v.loop:
                print("   ... then forever:")
                for line in timeline_lines(r.model, v.loop, width=width - 3)[2:]:
                    print("   " + line)
            for line in ending_lines(r.model, v.counterexample[-1].state, explain_state, width=width - 3):
                print("   " + line)
