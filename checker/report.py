"""The verification report: Markdown, one self-contained HTML page and the JSON matrix.

``build_report`` explores every chosen configuration once, judges every property and writes:

  index.md, index.html     the headline questions answered from the verdicts, the verdict matrix,
                           the configurations and properties; light (no pictures), linking to:
  configs/NAME.md, .html   one page per configuration: verdicts, graphs, counterexamples
  counterexamples/NAME/P.html  one page per counterexample: the story, how it ends (each thread and
                           what it waits for, the enabled actions), the sequence chart, the steps
                           with the values each step changed marked
  counterexamples/NAME/P.mmd, .svg  the sequence chart (Mermaid, SVG)
  graphs/NAME/*            machine, reachable and product graphs (DOT, Mermaid, SVG with Graphviz)
  report.json              the ``migmodel verify --json`` structure, without timings
  whatif.md, whatif.html   the suite's designs judged against today's model (``checker/whatif.py``)

Generic: QEMU appears only through the suite's hooks (``Suite.explain``, ``explain_state``,
``sequence``, ``questions``...). Everything is deterministic (no timestamps, no timings, fixed order), so a
re-run with the same model and the same Graphviz gives byte-identical files; the Graphviz version
is written in the index for that reason. The folder is built next to the target and swapped in
whole: a failure or Ctrl-C leaves the previous report untouched.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from checker import graphs as G
from checker.analysis import shortest_run, steps_to_json
from checker.kinds import falsifiable, meaning
from checker.spec import Property, Suite
from checker.stepinfo import changed_keys, final_state, final_state_lines
from checker.verify import (
    ConfigResult,
    UsageError,
    diff_manifest,
    manifest_of,
    result_to_json,
    run_config,
    select,
    verdict_word,
)

__all__ = ("ManifestMismatch", "ReportError", "build_report", "write_report_dir")

Progress = Callable[[str], None]


class ReportError(UsageError):
    """The report cannot be written where asked."""


class ManifestMismatch(Exception):
    """The explored verdicts or counts differ from the pinned manifest; ``problems`` says how."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} differences from the manifest")
        self.problems = problems


@dataclass
class _Cx:
    """One counterexample (or lasso) ready to print."""

    prop: Property
    note: str
    steps: list[dict[str, Any]]
    loop: list[dict[str, Any]]
    story: str
    mermaid: str
    svg: str
    anchor: str
    changed: list[list[str]]
    final: dict[str, Any]
    page: str
    """Its HTML page, relative to the report folder."""
    real: str = ""  # Suite.real_runs: seen on the real system, or why not
    title: str = ""
    """For a named run (``Suite.runs``): what it shows; empty for the shortest counterexample."""

    @property
    def stem(self) -> str:
        """Its files' name, without the folder and the suffix."""
        return _slug(self.prop.name) + (f"--{_slug(self.title)}" if self.title else "")

    @property
    def heading(self) -> str:
        return self.prop.name + (f": {self.title}" if self.title else "")


@dataclass
class _ConfigPage:
    result: ConfigResult
    data: dict[str, Any]
    graphs: dict[str, G.Graph] = field(default_factory=dict)
    svgs: dict[str, str] = field(default_factory=dict)  # stem -> inline svg
    cxs: list[_Cx] = field(default_factory=list)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower()


def _anchor(config: str, prop: str) -> str:
    return f"cx-{_slug(config)}-{_slug(prop)}"


def _story(suite: Suite, steps: list[dict[str, Any]], loop: list[dict[str, Any]]) -> str:
    text = suite.explain(steps) if suite.explain is not None else ""
    if loop:
        actions = ", ".join(dict.fromkeys(str(s.get("action", "")) for s in loop))
        text = (text + " " if text else "") + (
            f"From there it can only loop forever ({actions}) without reaching the goal.")
    return text


def _counterexamples(suite: Suite, r: ConfigResult) -> list[_Cx]:
    out = []
    for v in r.verdicts:
        if v.holds or v.counterexample is None:
            continue
        steps = steps_to_json(r.model, v.counterexample)
        loop = steps_to_json(r.model, v.loop, start=len(steps)) if v.loop else []
        changed = changed_keys(steps + loop)
        final = final_state(r.model, v.counterexample[-1].state, suite.explain_state)
        chart = G.annotate_chart(G.sequence_chart(suite, steps + loop), changed, final_state_lines(final))
        title = f"{r.name}: {v.property.name}"
        out.append(_Cx(v.property, v.note, steps, loop, _story(suite, steps, loop),
                       G.sequence_mermaid(chart, title), G.sequence_svg(chart, title),
                       _anchor(r.name, v.property.name), changed, final,
                       f"counterexamples/{r.name}/{_slug(v.property.name)}.html",
                       suite.real_runs(r.name, v.property.name) if suite.real_runs is not None else ""))
    return out


def _named_runs(suite: Suite, r: ConfigResult) -> list[_Cx]:
    """The suite's named runs (``Suite.runs``) of this configuration, as counterexamples."""
    out = []
    props = {v.property.name: v.property for v in r.verdicts}
    for run in suite.runs() if suite.runs is not None else ():
        prop = props.get(run.prop)
        if run.config != r.name or prop is None:
            continue
        path = shortest_run(r.exploration, prop, run.admit)
        if path is None:
            raise ReportError(f"named run {run.title!r}: no such run violates {run.prop} on {r.name}")
        missing = [i for i, want in enumerate(run.must) if not any(s.action is not None and want(s.action)
                                                                    for s in path)]
        if missing:
            raise ReportError(f"named run {run.title!r} on {r.name}: its shortest run lacks a required action")
        steps = steps_to_json(r.model, path)
        changed = changed_keys(steps)
        final = final_state(r.model, path[-1].state, suite.explain_state)
        title = f"{r.name}: {prop.name}: {run.title}"
        chart = G.annotate_chart(G.sequence_chart(suite, steps), changed, final_state_lines(final))
        note = f"the shortest run with only the migration's own steps, the commands that start it and these faults: " \
               f"{_plural(len(path) - 1, 'step')}"
        cx = _Cx(prop, note, steps, [], _story(suite, steps, []), G.sequence_mermaid(chart, title),
                 G.sequence_svg(chart, title), _anchor(r.name, f"{prop.name} {run.title}"), changed, final, "",
                 title=run.title)
        cx.page = f"counterexamples/{r.name}/{cx.stem}.html"
        out.append(cx)
    return out


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def _graphs(suite: Suite, config: Any, r: ConfigResult) -> dict[str, G.Graph]:
    out: dict[str, G.Graph] = {}
    for side, g in G.machine_graphs(suite, config, r.exploration).items():
        out[f"machine-{_slug(side)}"] = g
    out["product"] = G.product_graph(suite, r.exploration, r.verdicts)
    out["reachable"] = G.reachable_graph(suite, r.exploration, r.verdicts)
    return out


# ---------------------------------------------------------------------------------------------
# Markdown.


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _value(v: Any) -> str:
    return ", ".join(map(str, v)) if isinstance(v, list) else str(v)


def _word(p: Property, holds: bool) -> str:
    return verdict_word(p.kind, holds)


def _answers(suite: Suite, pages: list[_ConfigPage], props: Sequence[Property]
             ) -> list[tuple[str, Property, list[tuple[_ConfigPage, bool, str, _Cx | None]]]]:
    """For each headline question: per configuration (answer, evidence, counterexample)."""
    by_name = {p.name: p for p in props}
    out = []
    for question, pname in (suite.questions() if suite.questions is not None else ()):
        prop = by_name.get(pname)
        if prop is None:
            continue
        rows = []
        for page in pages:
            v = next(v for v in page.result.verdicts if v.property.name == pname)
            cx = next((c for c in page.cxs if c.prop.name == pname), None)
            evidence = v.note
            if v.holds and prop.partner:
                partner = next((w for w in page.result.verdicts if w.property.name == prop.partner), None)
                if partner is not None:
                    evidence += (f"; not vacuous: {prop.partner} is "
                                 f"{_word(partner.property, partner.holds)}")
            if cx is not None:
                evidence = f"{cx.story} ({v.note})"
            rows.append((page, v.holds, evidence, cx))
        out.append((question, prop, rows))
    return out


def _index_md(suite: Suite, pages: list[_ConfigPage], props: Sequence[Property], dot: str | None) -> str:
    L: list[str] = [f"# Verification report: {suite.name} model", ""]
    L.append(f"{len(pages)} configurations explored exhaustively, {len(props)} properties judged on each. "
             "Generated by `migmodel report`; do not edit by hand.")
    L.append("")
    if "designs" in suite.variants:
        L += ["Proposed designs judged against today's model, cell by cell: [what if](whatif.md).", ""]
    for question, prop, rows in _answers(suite, pages, props):
        L += [f"## {question}", "", f"Property `{prop.name}` ({prop.kind.value}): {prop.claim}", "",
              "| configuration | answer | evidence |", "|---|---|---|"]
        for page, holds, evidence, cx in rows:
            name = page.result.name
            link = f"configs/{name}.md#{cx.anchor}" if cx else f"configs/{name}.md"
            L.append(f"| [{name}]({link}) ({_md_cell(page.result.description)}) | "
                     f"{'**yes**' if holds else '**no**'} | {_md_cell(evidence)} |")
        L.append("")
    named = [(page, cx) for page in pages for cx in page.cxs if cx.title]
    if named:
        L += ["## Named runs", "", "Violations shown besides the shortest counterexamples: the shortest run of a "
              "shape real QEMU showed.", ""]
        L += [f"* [{page.result.name}: `{cx.prop.name}`: {cx.title}](configs/{page.result.name}.md#{cx.anchor}) "
              f"({len(cx.steps) - 1} steps)" for page, cx in named]
        L.append("")
    L += ["## Verdict matrix", ""]
    heads = [f"[{p.result.name}](configs/{p.result.name}.md)" for p in pages]
    L.append("| property | " + " | ".join(heads) + " |")
    L.append("|---|" + "---|" * len(pages))
    for prop in props:
        cells = []
        for page in pages:
            v = next(v for v in page.result.verdicts if v.property.name == prop.name)
            word = _word(prop, v.holds)
            if not v.holds and v.counterexample is not None:
                word = f"[**{word}**](configs/{page.result.name}.md#{_anchor(page.result.name, prop.name)})"
            cells.append(word)
        L.append(f"| `{prop.name}` | " + " | ".join(cells) + " |")
    L += ["", "## Configurations", "", "| configuration | states | edges | depth | fingerprint |",
          "|---|---|---|---|---|"]
    for page in pages:
        d = page.data
        name = page.result.name
        L.append(f"| [{name}](configs/{name}.md) | {d['states']:,} | {d['edges']:,} | "
                 f"{d['depth']} | `{d['fingerprint'][:16]}` |")
    L += ["", "## Properties", "", "| property | kind | claim | reference |", "|---|---|---|---|"]
    for prop in props:
        L.append(f"| `{prop.name}` | {prop.kind.value} | {_md_cell(prop.claim)} | "
                 f"{_md_cell(prop.reference)} |")
    L += ["", _tool_line(dot), ""]
    return "\n".join(L)


def _tool_line(dot: str | None) -> str:
    if dot is None:
        return ("Diagrams: DOT and Mermaid only (Graphviz `dot` was not installed; "
                "`apt-get install graphviz` for SVG).")
    return f"Diagrams laid out by {dot}; sequence charts drawn by migmodel."


def _config_md(suite: Suite, page: _ConfigPage, has_svg: bool) -> str:
    r, d = page.result, page.data
    L = [f"# {r.name}", "", r.description, "", "[back to the index](../index.md)", "",
         "| states | edges | depth | fingerprint |", "|---|---|---|---|",
         f"| {d['states']:,} | {d['edges']:,} | {d['depth']} | `{d['fingerprint']}` |", "", "## Verdicts", "",
         "| property | verdict | note |", "|---|---|---|"]
    for v in r.verdicts:
        word = _word(v.property, v.holds)
        if not v.holds and v.counterexample is not None:
            word = f"[**{word}**](#{_anchor(r.name, v.property.name)})"
        L.append(f"| `{v.property.name}` | {word} | {_md_cell(v.note)} |")
    L += ["", "## Graphs", ""]
    for stem, g in page.graphs.items():
        L += [f"### {g.title}", ""]
        L += [f"_{note}_" for note in g.notes]
        L.append("")
        if has_svg:
            L.append(f"![{g.title}](../graphs/{r.name}/{stem}.svg)")
            L.append("")
        L.append(f"Sources: [DOT](../graphs/{r.name}/{stem}.dot), [Mermaid](../graphs/{r.name}/{stem}.mmd)")
        L.append("")
    L += ["## Counterexamples", ""]
    if not page.cxs:
        L += ["None: every property that can fail holds.", ""]
    for cx in page.cxs:
        L += [f'<a id="{cx.anchor}"></a>', "", f"### {cx.heading}", "", f"Claim: {cx.prop.claim}", "",
              f"**What happens:** {cx.story}", "", f"_{cx.note}_", "",
              *([f"**Real QEMU:** {cx.real}", ""] if cx.real else []), "**How it ends:**", ""]
        L += [f"* {_md_cell(line)}" for line in final_state_lines(cx.final)]
        L += ["", f"![sequence chart](../counterexamples/{r.name}/{cx.stem}.svg)", "",
              "```mermaid", cx.mermaid.rstrip("\n"), "```", "",
              "Values in **bold** changed at that step.", "",
              "| # | actor | action | " + " | ".join(cx.steps[0]["state"].keys()) + " |",
              "|---|---|---|" + "---|" * len(cx.steps[0]["state"])]
        for s, changed in zip(cx.steps + cx.loop, cx.changed, strict=True):
            cells = []
            for key, v in s["state"].items():
                text = _md_cell(_value(v)) or "-"
                cells.append(f"**{text}**" if key in changed else text)
            L.append(f"| {s['step']} | {s.get('actor', '')} | {_md_cell(str(s.get('action', '')))} | "
                     + " | ".join(cells) + " |")
        if cx.loop:
            L += ["", f"Steps {cx.loop[0]['step']}-{cx.loop[-1]['step']} repeat forever."]
        L.append("")
    return "\n".join(L)


# ---------------------------------------------------------------------------------------------
# HTML: a light index and one page per configuration and per counterexample. Every page is
# self-contained (inline style, no script, nothing loaded) and fits a 1,280-pixel window.

_CSS = """
*{box-sizing:border-box}
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#212121;background:#fafafa}
main{max-width:1200px;margin:0 auto;padding:12px 24px 48px}
h1{font-size:24px;margin:10px 0 4px}
h2{font-size:19px;margin-top:30px;border-bottom:2px solid #cfd8dc;padding-bottom:3px}
h3{font-size:16px;margin-top:22px}code{font-size:90%;background:#eceff1;padding:1px 4px;border-radius:3px}
table{border-collapse:collapse;margin:8px 0;font-size:13px;background:#fff;max-width:100%}
th,td{border:1px solid #cfd8dc;padding:4px 7px;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{background:#eceff1}
table.matrix{font-size:11px}table.matrix td{text-align:center;white-space:nowrap;padding:3px 4px}
table.matrix th.p{text-align:left;white-space:nowrap;overflow-wrap:normal}
table.matrix thead th{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;text-align:left;
overflow-wrap:normal;padding:6px 3px}
.holds{background:#c8e6c9;color:#1b5e20}.violated{background:#ef9a9a;color:#7f0000;font-weight:bold}
.reached{background:#e8f5e9;color:#2e7d32}.never{background:#fff3e0;color:#e65100}
.yes{background:#c8e6c9;color:#1b5e20;font-weight:bold;white-space:nowrap}
.no{background:#ef9a9a;color:#7f0000;font-weight:bold;white-space:nowrap}
td a{color:inherit}.note{color:#546e7a;font-size:13px}.lede{color:#37474f}
svg{max-width:100%;height:auto}.graph{background:#fff;border:1px solid #eceff1}
details{margin:6px 0}summary{cursor:pointer}
.crumbs{font-size:13px;color:#546e7a}.crumbs a{margin-right:4px}
.story{font-size:14px}.end{border-left:4px solid #1565c0;background:#fff;padding:6px 12px;font-size:14px}
.end ul{margin:4px 0;padding-left:20px}
table.steps td{font-family:monospace;font-size:11px}
table.steps td.chg{background:#f3e5f5;font-weight:bold;color:#4a148c}
ul.configs{columns:2;font-size:14px}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _rich(text: object) -> str:
    """Escaped text with Markdown's inline code spans (`x`) turned into ``<code>``: no backtick
    reaches the page as a literal character."""
    escaped = _e(text)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped).replace("`", "'")


def _cls(prop: Property, holds: bool) -> str:
    held, failed = meaning(prop.kind).words
    return (held if holds else failed).lower()


def _html_page(title: str, body: list[str]) -> str:
    return "\n".join(["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
                      '<meta name="viewport" content="width=device-width, initial-scale=1">',
                      f"<title>{_e(title)}</title>", f"<style>{_CSS}</style></head><body><main>",
                      *body, "</main></body></html>"]) + "\n"


def _config_href(name: str, up: str = "") -> str:
    return f"{up}configs/{name}.html"


def _index_html(suite: Suite, pages: list[_ConfigPage], props: Sequence[Property], dot: str | None) -> str:
    H: list[str] = [f"<h1>Verification report: {_e(suite.name)} model</h1>",
                    f'<p class="lede">{len(pages)} configurations explored exhaustively, {len(props)} '
                    "properties judged on each. Every answer below is generated from the verdicts; each "
                    "configuration and each counterexample has its own page.</p>",
                    '<ul class="configs">' + "".join(
                        f'<li><a href="{_config_href(p.result.name)}">{_e(p.result.name)}</a></li>' for p in pages)
                    + "</ul>"]
    if "designs" in suite.variants:
        H.append('<p>Proposed designs judged against today\'s model, cell by cell: '
                 '<a href="whatif.html">what if</a>.</p>')
    matrix = _matrix_html(pages, props)
    for k, (question, prop, rows) in enumerate(_answers(suite, pages, props)):
        if k == 1:
            H.extend(matrix)
            matrix = []
        H.append(f"<h2>{_e(question)}</h2>")
        H.append(f'<p class="note">Property <code>{_e(prop.name)}</code> ({_e(prop.kind.value)}): '
                 f"{_rich(prop.claim)}</p>")
        H.append("<table><tr><th>configuration</th><th>answer</th><th>evidence</th></tr>")
        for page, holds, evidence, cx in rows:
            name = page.result.name
            link = f' (<a href="{cx.page}">counterexample</a>)' if cx else ""
            H.append(f'<tr><td><a href="{_config_href(name)}"><b>{_e(name)}</b></a><br>'
                     f'<span class="note">{_rich(page.result.description)}</span></td>'
                     f'<td class="{"yes" if holds else "no"}">{"yes" if holds else "no"}</td>'
                     f"<td>{_rich(evidence)}{link}</td></tr>")
        H.append("</table>")
    H.extend(matrix)
    named = [(page, cx) for page in pages for cx in page.cxs if cx.title]
    if named:
        H.append("<h2>Named runs</h2><p class=\"note\">Violations shown besides the shortest counterexamples: "
                 "the shortest run of a shape real QEMU showed.</p><ul>")
        H += [f'<li><a href="{cx.page}">{_e(page.result.name)}: <code>{_e(cx.prop.name)}</code>: {_e(cx.title)}</a> '
              f"({len(cx.steps) - 1} steps)</li>" for page, cx in named]
        H.append("</ul>")
    H.append("<h2>Configurations</h2><table><tr><th>configuration</th><th>states</th><th>edges</th>"
             "<th>depth</th><th>violated</th></tr>")
    for page in pages:
        d, name = page.data, page.result.name
        bad = sum(1 for v in page.result.verdicts if not v.holds and falsifiable(v.property.kind))
        H.append(f'<tr><td><a href="{_config_href(name)}">{_e(name)}</a></td><td>{d["states"]:,}</td>'
                 f'<td>{d["edges"]:,}</td><td>{d["depth"]}</td><td>{bad}</td></tr>')
    H.append("</table>")
    H.append("<h2>Properties</h2><table><tr><th>property</th><th>kind</th><th>claim</th><th>reference</th></tr>")
    for prop in props:
        H.append(f"<tr><td><code>{_e(prop.name)}</code></td><td>{_e(prop.kind.value)}</td>"
                 f"<td>{_rich(prop.claim)}</td><td>{_rich(prop.reference)}</td></tr>")
    H.append("</table>")
    H.append(f'<p class="note">{_rich(_tool_line(dot))}</p>')
    return _html_page(f"Verification report: {suite.name} model", H)


MATRIX_BLOCK = 12
"""Configurations per verdict-matrix table: more side by side would not fit 1,280 px."""


def _matrix_html(pages: list[_ConfigPage], props: Sequence[Property]) -> list[str]:
    H = ["<h2>Verdict matrix</h2>",
         '<p class="note">Each violated cell links to its counterexample; hover a cell for the note.</p>']
    for start in range(0, len(pages), MATRIX_BLOCK):
        block = pages[start:start + MATRIX_BLOCK]
        H.append('<table class="matrix"><thead><tr><th></th>' + "".join(
            f'<th><a href="{_config_href(p.result.name)}">{_e(p.result.name)}</a></th>' for p in block)
            + "</tr></thead><tbody>")
        for prop in props:
            cells = []
            for page in block:
                v = next(v for v in page.result.verdicts if v.property.name == prop.name)
                word = _e(_word(prop, v.holds))
                cx = next((c for c in page.cxs if c.prop.name == prop.name), None)
                if cx is not None:
                    word = f'<a href="{cx.page}">{word}</a>'
                cells.append(f'<td class="{_cls(prop, v.holds)}" title="{_e(v.note)}">{word}</td>')
            H.append(f'<tr><th class="p" title="{_e(prop.claim)}">{_e(prop.name)}</th>{"".join(cells)}</tr>')
        H.append("</tbody></table>")
    return H


def _config_html(suite: Suite, page: _ConfigPage) -> str:
    r, d = page.result, page.data
    H = [f'<p class="crumbs"><a href="../index.html">report</a> / {_e(r.name)}</p>',
         f"<h1>{_e(r.name)}</h1>", f'<p class="lede">{_rich(r.description)}</p>',
         "<table><tr><th>states</th><th>edges</th><th>depth</th><th>fingerprint</th></tr>"
         f"<tr><td>{d['states']:,}</td><td>{d['edges']:,}</td><td>{d['depth']}</td>"
         f"<td><code>{_e(d['fingerprint'])}</code></td></tr></table>",
         "<h2>Verdicts</h2><table><tr><th>property</th><th>verdict</th><th>note</th></tr>"]
    by_prop = {cx.prop.name: cx for cx in page.cxs if not cx.title}
    for v in r.verdicts:
        word = _e(_word(v.property, v.holds))
        cx = by_prop.get(v.property.name)
        if cx is not None:
            word = f'<a href="../{cx.page}">{word}</a>'
        H.append(f'<tr><td><code>{_e(v.property.name)}</code></td><td class="{_cls(v.property, v.holds)}">'
                 f"{word}</td><td>{_rich(v.note)}</td></tr>")
    H.append("</table><h2>Counterexamples</h2>")
    if not page.cxs:
        H.append("<p>None: every property that can fail holds.</p>")
    else:
        H.append("<table><tr><th>property</th><th>steps</th><th>what happens</th></tr>")
        for cx in page.cxs:
            named = f"<br>{_e(cx.title)}" if cx.title else ""
            H.append(f'<tr><td><a href="../{cx.page}"><code>{_e(cx.prop.name)}</code></a>{named}</td>'
                     f"<td>{len(cx.steps) - 1}</td><td>{_rich(cx.story)}</td></tr>")
        H.append("</table>")
    H.append("<h2>Graphs</h2>")
    for stem, g in page.graphs.items():
        base = f"../graphs/{r.name}/{stem}"
        H.append(f"<h3>{_e(g.title)}</h3>")
        H.append(f'<p class="note">{_rich(" ".join(g.notes))} Sources: <a href="{base}.dot">DOT</a>, '
                 f'<a href="{base}.mmd">Mermaid</a>.</p>')
        svg = page.svgs.get(stem)
        if svg is not None:
            H.append(f"<details{' open' if stem.startswith('machine') else ''}><summary>picture</summary>"
                     f"{svg}</details>")
    return _html_page(f"{r.name}: verification report", H)


def _cx_html(suite: Suite, page: _ConfigPage, cx: _Cx) -> str:
    name = page.result.name
    H = [f'<p class="crumbs"><a href="../../index.html">report</a> / '
         f'<a href="../../{_config_href(name)}">{_e(name)}</a> / {_e(cx.prop.name)}</p>',
         f"<h1>{_e(name)}: <code>{_e(cx.prop.name)}</code> {_e(_word(cx.prop, False))}</h1>",
         *([f"<p><b>{_e(cx.title)}</b></p>"] if cx.title else []),
         f'<p class="note">{_rich(page.result.description)}</p>',
         f"<p><b>Claim</b> ({_e(cx.prop.kind.value)}): {_rich(cx.prop.claim)}</p>",
         f'<p class="note">{_rich(cx.note)}</p>',
         f'<p class="story"><b>What happens:</b> {_rich(cx.story)}</p>',
         *([f'<p class="note"><b>Real QEMU:</b> {_rich(cx.real)}</p>'] if cx.real else []),
         '<div class="end"><b>How it ends</b> (the last state, '
         f"step {cx.steps[-1]['step']}):<ul>"]
    for t in cx.final["threads"]:
        H.append(f"<li><b>{_e(t['thread'])}</b>: {_rich(t['doing'])}</li>")
    moves = "; ".join(cx.final["moves"]) or "nothing changes the state (every action is refused or a no-op)"
    H.append(f"<li><b>enabled</b>: {_rich(moves)}</li>")
    if cx.final["refused"]:
        H.append(f"<li><b>refused</b>: {_rich('; '.join(cx.final['refused']))}</li>")
    if cx.final["idle"]:
        H.append(f"<li><b>no effect</b>: {_rich('; '.join(cx.final['idle']))}</li>")
    H.append("</ul></div>")
    loop = f", then a loop of {len(cx.loop)} repeating forever" if cx.loop else ""
    H.append(f"<h2>Sequence chart ({len(cx.steps) - 1} steps{loop})</h2>")
    H.append('<p class="note">The left margin lists, under each step number, the fields that step changed '
             f'(\u0394). <a href="{cx.stem}.svg">SVG</a>, '
             f'<a href="{cx.stem}.mmd">Mermaid</a>.</p>')
    H.append(_svg_ids(cx.svg, cx.anchor))
    keys = list(cx.steps[0]["state"].keys())
    H.append('<h2>Steps</h2><p class="note">Highlighted: a value that step changed.</p>'
             '<table class="steps"><tr><th>#</th><th>actor</th><th>action</th>'
             + "".join(f"<th>{_e(k)}</th>" for k in keys) + "</tr>")
    for s, changed in zip(cx.steps + cx.loop, cx.changed, strict=True):
        action = str(s.get("action", "")) + (f" [refused: {s['refused']}]" if s.get("refused") else "")
        cells = "".join(f'<td{" class=chg" if k in changed else ""}>{_e(_value(s["state"][k])) or "-"}</td>'
                        for k in keys)
        H.append(f"<tr><td>{s['step']}</td><td>{_e(s.get('actor', ''))}</td><td>{_e(action)}</td>{cells}</tr>")
    H.append("</table>")
    if cx.loop:
        H.append(f"<p>Steps {cx.loop[0]['step']}-{cx.loop[-1]['step']} repeat forever.</p>")
    return _html_page(f"{name}: {cx.heading} violated", H)


def _svg_ids(svg: str, prefix: str) -> str:
    """Make the ids of a hand-written sequence SVG unique inside one HTML page."""
    return svg.replace('id="arrow"', f'id="{prefix}-arrow"').replace("url(#arrow)", f"url(#{prefix}-arrow)")


# ---------------------------------------------------------------------------------------------
# Building and writing.


def build_report(suite: Suite, folder: str, *, configs: Sequence[str] | None = None,
                 max_states: int | None = None, progress: Progress | None = None,
                 manifest: dict[str, Any] | None = None) -> dict[str, int]:
    """Write the whole report into ``folder`` (which must exist and be empty); returns sizes.

    With ``manifest`` (a pinned manifest, ``checker.verify.load_manifest``), the verdicts and counts
    of this one exploration per configuration are compared with it first, and ``ManifestMismatch``
    is raised, before anything is written, if they differ."""
    say = progress or (lambda _msg: None)
    chosen, props = select(suite, configs, None)
    pages: list[_ConfigPage] = []
    for name, config in chosen.items():
        say(f"exploring {name}")
        r = run_config(suite, name, config, props, max_states=max_states)
        page = _ConfigPage(r, result_to_json(r, timing=False))
        page.graphs = _graphs(suite, config, r)
        page.cxs = _counterexamples(suite, r) + _named_runs(suite, r)
        pages.append(page)
    if manifest is not None:
        problems = diff_manifest(manifest, manifest_of({p.result.name: p.data for p in pages}))
        if problems:
            raise ManifestMismatch(problems)
    dot = G.graphviz_version()
    jobs = [(page, stem, g) for page in pages for stem, g in page.graphs.items()]
    files: dict[str, str | bytes] = {}

    def lay_out(job: tuple[_ConfigPage, str, G.Graph]) -> bytes | None:
        return G.render(G.to_dot(job[2]), "svg")

    say(f"laying out {len(jobs)} graphs" if dot else "writing graphs (no Graphviz: no SVG)")
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        rendered = list(pool.map(lay_out, jobs))
    for (page, stem, g), svg in zip(jobs, rendered, strict=True):
        base = f"graphs/{page.result.name}/{stem}"
        files[f"{base}.dot"] = G.to_dot(g)
        files[f"{base}.mmd"] = G.to_mermaid(g)
        if svg is not None:
            files[f"{base}.svg"] = svg
            page.svgs[stem] = G.inline_svg(svg, f"{_slug(page.result.name)}-{stem}")
    for page in pages:
        for cx in page.cxs:
            base = f"counterexamples/{page.result.name}/{cx.stem}"
            files[f"{base}.mmd"] = cx.mermaid
            files[f"{base}.svg"] = cx.svg
            files[cx.page] = _cx_html(suite, page, cx)
        files[f"configs/{page.result.name}.md"] = _config_md(suite, page, dot is not None)
        files[f"configs/{page.result.name}.html"] = _config_html(suite, page)
    if "designs" in suite.variants:  # the what-if page: its own files (checker/whatif.py)
        from checker.whatif import whatif_files

        say("judging the designs")
        files.update(whatif_files(suite, configs=None if configs is None else list(chosen), max_states=max_states))
    say("writing the index")
    files["report.json"] = json.dumps({"configs": {p.result.name: p.data for p in pages}}, indent=2) + "\n"
    files["index.md"] = _index_md(suite, pages, props, dot)
    files["index.html"] = _index_html(suite, pages, props, dot)
    sizes: dict[str, int] = {}
    for rel in sorted(files):
        data = files[rel]
        raw = data.encode("utf-8") if isinstance(data, str) else data
        path = os.path.join(folder, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(raw)
        sizes[rel] = len(raw)
    return sizes


def write_report_dir(out: str, build: Callable[[str], dict[str, int]]) -> dict[str, int]:
    """Run ``build`` into a fresh folder next to ``out``, then put it in place of ``out``.

    ``out`` may be missing, empty or a previous report (it holds ``report.json``); anything else
    is refused rather than replaced. On any error or interrupt the temporary folder is removed
    and ``out`` is left as it was.
    """
    out = os.path.abspath(out)
    if os.path.exists(out):
        if not os.path.isdir(out):
            raise ReportError(f"{out} exists and is not a folder")
        if os.listdir(out) and not os.path.exists(os.path.join(out, "report.json")):
            raise ReportError(f"{out} is not empty and holds no previous report (report.json); "
                              "refusing to replace it")
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.tmp-", dir=parent)
    old = None
    try:
        sizes = build(tmp)
        os.chmod(tmp, 0o755)
        if os.path.exists(out):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.old-", dir=parent)
            os.rmdir(old)
            os.rename(out, old)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not os.path.exists(out):
            os.rename(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return sizes
