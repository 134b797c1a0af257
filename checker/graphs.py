"""State graphs and sequence charts: built from an exploration, written as DOT, Mermaid, GraphML, SVG.

Generic: the model is seen through ``Model.describe_state`` / ``describe_action`` and the suite's
optional presentation hooks (``Suite.machine_diagrams``, ``project``, ``sequence``; see
``checker/spec.py``). Three kinds of graph:

* ``machine``: each side's machine, as the suite draws it from its transition tables.
* ``reachable``: the reachable graph, condensed: states whose ``describe_state`` summary is the
  same once list-valued fields (message queues) are ignored become one node, clustered by the
  suite's projection. The graph says how many states were merged.
* ``product``: the projection (e.g. source status x destination status): which pairs coexist,
  which actions move between them, and in red the pairs holding a state that violates an
  ``always`` property.

All output is deterministic (sorted, no timestamps), so reports built from it are byte-identical
run to run. SVG/PNG need Graphviz's ``dot``; everything else is pure Python.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from checker.explore import Exploration
from checker.kinds import meaning, violated_here
from checker.spec import Suite

__all__ = (
    "GRAPHVIZ_HINT",
    "Graph",
    "graphviz_version",
    "machine_graphs",
    "product_graph",
    "reachable_graph",
    "render",
    "sequence_chart",
    "sequence_mermaid",
    "sequence_svg",
    "to_dot",
    "to_graphml",
    "to_mermaid",
)

GRAPHVIZ_HINT = ("no pictures: Graphviz `dot` is not installed (apt-get install graphviz); "
                 "DOT and Mermaid written")

_COLORS = {
    "normal": "#333333",
    "fault": "#c62828",
    "error": "#e65100",
    "bad": "#c62828",
    "dim": "#9e9e9e",
}
_FILLS = {"normal": "#ffffff", "bad": "#ffcdd2", "initial": "#e3f2fd", "final": "#e8f5e9"}


@dataclass
class Graph:
    """A small directed graph ready to print: nodes ``(id, label, style)``, edges
    ``(src, dst, label, style, tooltip)``, optional clusters (title -> node ids) and notes."""

    title: str
    nodes: list[tuple[str, str, str]] = field(default_factory=list)
    edges: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    clusters: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    rankdir: str = "LR"


# ---------------------------------------------------------------------------------------------
# Building graphs.


def machine_graphs(suite: Suite, config: Any, exploration: Exploration | None) -> dict[str, Graph]:
    """One ``Graph`` per side machine the suite draws (empty when the suite has no hook)."""
    if suite.presentation.machine_diagrams is None:
        return {}
    fired = frozenset(exploration.actions) if exploration is not None else None
    seen: dict[str, set[str]] = {}
    if exploration is not None and suite.presentation.project is not None:
        pairs = set(_project(suite, exploration))
        for k, axis in enumerate(suite.presentation.project_axes):
            seen[axis] = {p[k] for p in pairs}
    out: dict[str, Graph] = {}
    for side, spec in suite.presentation.machine_diagrams(config, fired).items():
        g = Graph(title=f"{side} machine", rankdir="TB")
        merged: dict[tuple[str, str, str], list[str]] = {}
        names: set[str] = {spec["initial"]}
        observed = seen.get(side)
        dropped: set[str] = set()
        for src, dst, label, style in spec["edges"]:
            if observed is not None and src != "*" and (src not in observed or dst not in observed):
                dropped.update({src, dst} - observed)
                continue
            merged.setdefault((src, dst, style), []).append(label)
            names.update((src, dst))
        for name in sorted(names):
            g.nodes.append((name, name, "initial" if name == spec["initial"] else "normal"))
        for (src, dst, style), labels in sorted(merged.items()):
            g.edges.append((src, dst, "\n".join(labels), style, ""))
        if spec.get("note"):
            g.notes.append(str(spec["note"]))
        if dropped:
            g.notes.append(f"never reached here, left out: {', '.join(sorted(dropped))}")
        out[side] = g
    return out


def _summary_key(summary: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((k, str(v)) for k, v in summary.items() if not isinstance(v, list | tuple | dict))


def _bad_mask(exploration: Exploration, verdicts: Sequence[Any]) -> tuple[Any, dict[int, list[str]]]:
    """States violating some violated ``always`` property, and which properties each violates."""
    bad = np.zeros(exploration.state_count, dtype=np.bool_)
    which: dict[int, list[str]] = {}
    for v in verdicts:
        prop = v.property
        if not meaning(prop.kind).local or v.holds:
            continue
        for i, s in enumerate(exploration.states):
            if violated_here(prop, s):
                bad[i] = True
                which.setdefault(i, []).append(prop.name)
    return bad, which


def _project(suite: Suite, exploration: Exploration) -> list[tuple[str, str]]:
    if suite.presentation.project is not None:
        return [suite.presentation.project(s) for s in exploration.states]
    model = exploration.model
    out = []
    for s in exploration.states:
        d = model.describe_state(s)
        vals = [*(str(v) for v in d.values()), "", ""]
        out.append((vals[0], vals[1]))
    return out


def _action_name(exploration: Exploration, act: int) -> str:
    d = exploration.model.describe_action(exploration.actions[act])
    return str(d.get("action", exploration.actions[act]))


def _join_names(names: list[str], limit: int = 3) -> str:
    if len(names) <= limit:
        return "\n".join(names)
    return "\n".join(names[:limit]) + f"\n+{len(names) - limit} more"


def _node_id(prefix: str, i: int) -> str:
    return f"{prefix}{i}"


def reachable_graph(suite: Suite, exploration: Exploration, verdicts: Sequence[Any] = ()) -> Graph:
    """The reachable graph, states with the same queue-less summary merged, clustered by the
    projection; nodes holding an ``always`` violation in red."""
    model = exploration.model
    keys: dict[tuple[tuple[str, str], ...], int] = {}
    node_of = np.zeros(exploration.state_count, dtype=np.intc)
    members: list[int] = []
    for i, s in enumerate(exploration.states):
        k = _summary_key(model.describe_state(s))
        n = keys.setdefault(k, len(keys))
        if n == len(members):
            members.append(0)
        members[n] += 1
        node_of[i] = n
    bad, _ = _bad_mask(exploration, verdicts)
    bad_nodes = set(node_of[bad].tolist())
    init_nodes = {int(node_of[i]) for i in exploration.init}
    final_nodes = {int(node_of[i]) for i, s in enumerate(exploration.states) if model.is_final(s)}
    pairs = _project(suite, exploration)
    g = Graph(title="reachable states (condensed)")
    cluster_of: dict[int, str] = {}
    for i in range(exploration.state_count):
        cluster_of.setdefault(int(node_of[i]), " / ".join(pairs[i]))
    for k, n in keys.items():
        label = "\n".join(v for _, v in k) + f"\n({members[n]} states)"
        style = ("bad" if n in bad_nodes else "initial" if n in init_nodes
                 else "final" if n in final_nodes else "normal")
        g.nodes.append((_node_id("r", n), label, style))
        g.clusters.setdefault(cluster_of[n], []).append(_node_id("r", n))
    edges: dict[tuple[int, int], set[str]] = {}
    src_nodes = node_of[exploration.edge_src]
    dst_nodes = node_of[exploration.edge_dst]
    for a, b, act in zip(src_nodes.tolist(), dst_nodes.tolist(), exploration.edge_act.tolist(), strict=True):
        if a != b:
            edges.setdefault((a, b), set()).add(_action_name(exploration, act))
    for (a, b), names in sorted(edges.items()):
        g.edges.append((_node_id("r", a), _node_id("r", b), "", "normal", _join_names(sorted(names), 8)))
    axes = " x ".join(suite.presentation.project_axes)
    g.notes.append(
        f"{exploration.state_count:,} states merged into {len(keys):,} nodes "
        f"({exploration.state_count - len(keys):,} merged: same summary once message queues are ignored), "
        f"{exploration.edge_count:,} edges into {len(edges):,} (self-loops dropped), "
        f"clustered by {axes}; red: holds a state violating an always property"
    )
    return g


def product_graph(suite: Suite, exploration: Exploration, verdicts: Sequence[Any] = ()) -> Graph:
    """The projection: pairs that coexist, edges labelled with the actions moving between them."""
    pairs = _project(suite, exploration)
    ids: dict[tuple[str, str], int] = {}
    count: dict[int, int] = {}
    node_of = np.zeros(exploration.state_count, dtype=np.intc)
    for i, p in enumerate(pairs):
        n = ids.setdefault(p, len(ids))
        count[n] = count.get(n, 0) + 1
        node_of[i] = n
    _, which = _bad_mask(exploration, verdicts)
    violated: dict[int, set[str]] = {}
    for i, failing in which.items():
        violated.setdefault(int(node_of[i]), set()).update(failing)
    init_nodes = {int(node_of[i]) for i in exploration.init}
    a0, a1 = suite.presentation.project_axes
    g = Graph(title=f"product: {a0} x {a1}", rankdir="TB")
    for p, n in sorted(ids.items(), key=lambda kv: kv[1]):
        label = f"{a0}: {p[0]}\n{a1}: {p[1]}\n({count[n]} states)"
        if n in violated:
            label += "\nviolates " + ", ".join(sorted(violated[n]))
        style = "bad" if n in violated else "initial" if n in init_nodes else "normal"
        g.nodes.append((_node_id("p", n), label, style))
    edges: dict[tuple[int, int], set[str]] = {}
    for a, b, act in zip(node_of[exploration.edge_src].tolist(), node_of[exploration.edge_dst].tolist(),
                         exploration.edge_act.tolist(), strict=True):
        if a != b:
            edges.setdefault((a, b), set()).add(_action_name(exploration, act))
    for (a, b), names in sorted(edges.items()):
        style = "bad" if b in violated and a not in violated else "normal"
        g.edges.append((_node_id("p", a), _node_id("p", b), _join_names(sorted(names)), style,
                        "\n".join(sorted(names))))
    g.notes.append(f"{len(ids)} ({a0}, {a1}) pairs reachable, {len(edges)} moves between them; "
                   f"red: {len(violated)} pairs with a state violating an always property")
    return g


# ---------------------------------------------------------------------------------------------
# Writing graphs.


def _dot_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(g: Graph) -> str:
    caption = "\n".join([g.title, *g.notes])
    lines = [f"digraph {_dot_str(g.title)} {{",
             f"  rankdir={g.rankdir}; fontname=\"Helvetica\"; fontsize=12;",
             f"  label={_dot_str(caption)}; labelloc=t;",
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=8];']
    style_of = {n: s for n, _, s in g.nodes}
    label_of = {n: lab for n, lab, _ in g.nodes}

    def node_line(n: str) -> str:
        s = style_of[n]
        color = _COLORS["bad"] if s == "bad" else "#555555"
        width = ", penwidth=2" if s in ("initial", "bad") else ""
        return (f"  {_dot_str(n)} [label={_dot_str(label_of[n])}, fillcolor=\"{_FILLS.get(s, '#ffffff')}\", "
                f"color=\"{color}\"{width}];")

    clustered: set[str] = set()
    for i, (title, members) in enumerate(g.clusters.items()):
        lines.append(f"  subgraph cluster_{i} {{ label={_dot_str(title)}; style=dashed; color=\"#90a4ae\";")
        for n in members:
            lines.append("  " + node_line(n))
            clustered.add(n)
        lines.append("  }")
    for n, _, _ in g.nodes:
        if n not in clustered:
            lines.append(node_line(n))
    for a, b, label, style, tip in g.edges:
        attrs = [f"color=\"{_COLORS.get(style, _COLORS['normal'])}\""]
        if label:
            attrs.append(f"label={_dot_str(label)}")
            attrs.append(f"fontcolor=\"{_COLORS.get(style, _COLORS['normal'])}\"")
        if tip:
            attrs.append(f"tooltip={_dot_str(tip)}")
        if style == "fault":
            attrs.append("style=dashed")
        lines.append(f"  {_dot_str(a)} -> {_dot_str(b)} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mm(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", "<br/>")


def _mm_id(n: str) -> str:
    return "n_" + re.sub(r"[^A-Za-z0-9_]", "_", n)


def to_mermaid(g: Graph) -> str:
    lines = ["---", f"title: {g.title}", "---", f"flowchart {g.rankdir}"]
    for note in g.notes:
        lines.append(f"  %% {note}")
    label_of = {n: lab for n, lab, _ in g.nodes}
    clustered: set[str] = set()
    for i, (title, members) in enumerate(g.clusters.items()):
        lines.append(f"  subgraph c{i} [\"{_mm(title)}\"]")
        for n in members:
            lines.append(f"    {_mm_id(n)}[\"{_mm(label_of[n])}\"]")
            clustered.add(n)
        lines.append("  end")
    for n, label, _ in g.nodes:
        if n not in clustered:
            lines.append(f"  {_mm_id(n)}[\"{_mm(label)}\"]")
    for k, (a, b, label, style, _) in enumerate(g.edges):
        arrow = "-.->" if style == "fault" else "-->"
        text = f"|\"{_mm(label)}\"|" if label else ""
        lines.append(f"  {_mm_id(a)} {arrow}{text} {_mm_id(b)}")
        if style in ("fault", "error", "bad"):
            lines.append(f"  linkStyle {k} stroke:{_COLORS[style]}")
    for n, _, s in g.nodes:
        if s in _FILLS and s != "normal":
            stroke = f",stroke:{_COLORS['bad']}" if s == "bad" else ""
            lines.append(f"  style {_mm_id(n)} fill:{_FILLS[s]}{stroke}")
    return "\n".join(lines) + "\n"


def to_graphml(g: Graph) -> str:
    """GraphML (as networkx would write it: string attributes declared as ``key`` elements),
    written with the standard library so that exporting needs no graph package."""
    from xml.etree import ElementTree as ET

    ns = "http://graphml.graphdrawing.org/xmlns"
    root = ET.Element("graphml", {"xmlns": ns})
    fields = (("graph", ("title", "notes")), ("node", ("label", "style", "cluster")),
              ("edge", ("label", "style", "actions")))
    ids: dict[tuple[str, str], str] = {}
    for domain, names in fields:
        for name in names:
            ids[(domain, name)] = key = f"d{len(ids)}"
            ET.SubElement(root, "key", {"id": key, "for": domain, "attr.name": name, "attr.type": "string"})
    graph = ET.SubElement(root, "graph", {"edgedefault": "directed"})

    def data(parent: ET.Element, domain: str, values: dict[str, str]) -> None:
        for name, value in values.items():
            ET.SubElement(parent, "data", {"key": ids[(domain, name)]}).text = value

    data(graph, "graph", {"title": g.title, "notes": "\n".join(g.notes)})
    cluster_of = {n: t for t, ms in g.clusters.items() for n in ms}
    for n, label, style in g.nodes:
        node = ET.SubElement(graph, "node", {"id": str(n)})
        data(node, "node", {"label": label, "style": style, "cluster": cluster_of.get(n, "")})
    for a, b, label, style, tip in g.edges:
        edge = ET.SubElement(graph, "edge", {"source": str(a), "target": str(b)})
        data(edge, "edge", {"label": label, "style": style, "actions": tip})
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def graphviz_version() -> str | None:
    """``dot -V`` (e.g. "dot - graphviz version 2.43.0 (0)"), or None when Graphviz is absent."""
    exe = shutil.which("dot")
    if exe is None:
        return None
    out = subprocess.run([exe, "-V"], capture_output=True, text=True, check=False)
    return (out.stderr or out.stdout).strip() or None


def render(dot_text: str, fmt: str = "svg") -> bytes | None:
    """Lay out DOT with Graphviz into ``fmt`` (svg, png); None when ``dot`` is not installed."""
    exe = shutil.which("dot")
    if exe is None:
        return None
    out = subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode(), capture_output=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"dot failed: {out.stderr.decode(errors='replace').strip()}")
    return out.stdout


def inline_svg(svg: bytes, prefix: str) -> str:
    """A Graphviz SVG ready to sit inside HTML: no XML prolog, ids made unique with ``prefix``."""
    text = svg.decode()
    text = text[text.index("<svg"):]
    text = re.sub(r"<!--.*?-->\n?", "", text, flags=re.S)
    text = re.sub(r"<title>[^<]*</title>\n?", "", text)
    text = re.sub(r"(-?\d+)\.\d+", r"\1", text)  # whole points are plenty on screen
    text = re.sub(r'\bid="([^"]*)"', lambda m: f'id="{prefix}-{m.group(1)}"', text)
    text = re.sub(r'<svg width="([0-9.]+)pt" height="([0-9.]+)pt"',
                  lambda m: f'<svg class="graph" width="{m.group(1)}pt" height="{m.group(2)}pt"', text)
    return text


# ---------------------------------------------------------------------------------------------
# Sequence charts.


def sequence_chart(suite: Suite, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The suite's chart of ``steps`` (``steps_to_json`` output), or a generic one: one lane per
    actor, each step a note on its actor's lane."""
    if suite.presentation.sequence is not None:
        return suite.presentation.sequence(steps)
    lanes: list[str] = []
    events = []
    for s in steps:
        actor = str(s.get("actor", "")) or "init"
        if actor not in lanes:
            lanes.append(actor)
        events.append({"step": s["step"], "kind": "fault" if actor == "fault" else "note",
                       "from": actor, "to": actor, "text": str(s.get("action", ""))})
    return {"lanes": lanes, "events": events}


def annotate_chart(chart: dict[str, Any], changed: Sequence[Sequence[str]], final: Sequence[str]) -> dict[str, Any]:
    """The chart with, per step, the state fields that step changed (``checker.stepinfo.changed_keys``)
    and a closing note on how the run ends (``checker.stepinfo.final_state_lines``)."""
    return {**chart, "changed": {i: list(keys) for i, keys in enumerate(changed) if keys}, "final": list(final)}


def _wrap(words: Sequence[str], width: int) -> list[str]:
    lines: list[str] = []
    for word in words:
        if lines and len(lines[-1]) + 2 + len(word) <= width:
            lines[-1] += ", " + word
        else:
            lines.append(word)
    return lines


def _mm_seq(text: str) -> str:
    return text.replace(";", ",").replace("#", "").replace("\n", "<br/>")


def sequence_mermaid(chart: dict[str, Any], title: str = "") -> str:
    lanes: list[str] = chart["lanes"]
    ids = {lane: f"L{i}" for i, lane in enumerate(lanes)}
    lines = ["sequenceDiagram"]
    if title:
        lines.append(f"  title {_mm_seq(title)}")
    lines.extend(f"  participant {ids[lane]} as {lane}" for lane in lanes)
    changed: dict[int, list[str]] = chart.get("changed", {})
    marked: set[int] = set()
    for e in chart["events"]:
        a, b = ids[e["from"]], ids[e["to"]]
        text = f"{e['step']}: {_mm_seq(e['text'])}"
        if e["step"] in changed and e["step"] not in marked:
            marked.add(e["step"])
            text += f" [changed: {', '.join(changed[e['step']])}]"
        if e["kind"] == "message":
            lines.append(f"  {a}->>{b}: {text}")
        elif e["kind"] == "lost":
            lines.append(f"  {a}-x{b}: {text}")
        elif e["kind"] == "fault":
            lines.append("  rect rgb(255, 205, 210)")
            lines.append(f"  Note over {a},{b}: {text}")
            lines.append("  end")
        else:
            lines.append(f"  Note over {a}{',' + b if b != e['from'] else ''}: {text}")
    if chart.get("final"):
        body = "<br/>".join(_mm_seq(line) for line in chart["final"])
        lines.append(f"  Note over {ids[lanes[0]]},{ids[lanes[-1]]}: how it ends<br/>{body}")
    return "\n".join(lines) + "\n"


_LANE_W, _ROW_H, _LEFT, _TOP, _CHAR_W = 190, 20, 112, 46, 6.4


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def sequence_svg(chart: dict[str, Any], title: str = "") -> str:
    """A hand-laid-out SVG of the chart: one column per lane, one row per event (text lines).

    The left margin holds each step's number and the state fields it changed (``annotate_chart``);
    a closing box under all lanes says how the run ends."""
    lanes: list[str] = chart["lanes"]
    x = {lane: _LEFT + _LANE_W // 2 + i * _LANE_W for i, lane in enumerate(lanes)}
    width = _LEFT + _LANE_W * len(lanes) + 10
    changed: dict[int, list[str]] = chart.get("changed", {})
    body: list[str] = []
    y = _TOP + 12
    last_step = None
    for e in chart["events"]:
        lines = str(e["text"]).split("\n")
        height = _ROW_H + 12 * (len(lines) - 1)
        if e["step"] != last_step:
            body.append(f'<line x1="0" y1="{y - 6}" x2="{width}" y2="{y - 6}" class="sep"/>')
            body.append(f'<text x="6" y="{y + 9}" class="step">{e["step"]}</text>')
            delta = _wrap(changed.get(e["step"], []), 15)
            for k, line in enumerate(delta):
                mark = "\u0394 " if k == 0 else ""
                body.append(f'<text x="24" y="{y + 9 + 11 * k}" class="chg">{mark}{_esc(line)}</text>')
            height = max(height, 11 * len(delta) + 4)
            last_step = e["step"]
        a, b = x[e["from"]], x[e["to"]]
        kind = e["kind"]
        if kind in ("message",) and a != b:
            half = max(len(line) for line in lines) * _CHAR_W / 2
            mid = min(max((a + b) / 2, half + 2), width - half - 2)
            body.append(f'<line x1="{a}" y1="{y + height - 6}" x2="{b}" y2="{y + height - 6}" class="msg" '
                        'marker-end="url(#arrow)"/>')
            for k, line in enumerate(lines):
                body.append(f'<text x="{mid}" y="{y + 6 + 12 * k}" class="mt">{_esc(line)}</text>')
        elif kind == "lost":
            body.append(f'<text x="{a}" y="{y + 9}" class="lost">\u2716 {_esc(lines[0])}</text>')
        else:
            lo, hi = min(a, b), max(a, b)
            text_w = max(len(line) for line in lines) * _CHAR_W + 10
            box_w = max(hi - lo + 40, text_w)
            cx = (lo + hi) / 2
            x0 = max(2, min(cx - box_w / 2, width - box_w - 2))
            cls = "fault" if kind == "fault" else "note"
            body.append(f'<rect x="{x0:.0f}" y="{y - 3}" width="{box_w:.0f}" height="{height - 2}" rx="3" '
                        f'class="{cls}"/>')
            for k, line in enumerate(lines):
                body.append(f'<text x="{x0 + box_w / 2:.0f}" y="{y + 9 + 12 * k}" class="nt">'
                            f"{_esc(line)}</text>")
        y += height + 6
    final: list[str] = chart.get("final", [])
    if final:
        body.append(f'<line x1="0" y1="{y - 6}" x2="{width}" y2="{y - 6}" class="sep"/>')
        box_h = 14 * (len(final) + 1) + 8
        body.append(f'<rect x="{_LEFT - 4}" y="{y}" width="{width - _LEFT - 2}" height="{box_h}" rx="3" '
                    'class="end"/>')
        body.append(f'<text x="{_LEFT + 4}" y="{y + 15}" class="eh">How it ends</text>')
        limit = int((width - _LEFT - 16) / _CHAR_W)
        for k, line in enumerate(final):
            shown = line if len(line) <= limit else line[: limit - 1] + "\u2026"
            body.append(f'<text x="{_LEFT + 4}" y="{y + 29 + 14 * k}" class="et">{_esc(shown)}</text>')
        y += box_h + 8
    total_h = y + 10
    head = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="seq" width="{width}" height="{total_h}" '
        f'viewBox="0 0 {width} {total_h}" font-family="Helvetica, Arial, sans-serif" font-size="11">',
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" "
        "markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#1565c0\"/>"
        "</marker></defs>",
        "<style>.sep{stroke:#eeeeee}.step{fill:#9e9e9e;font-size:10px}.msg{stroke:#1565c0;stroke-width:1.3}"
        ".mt{text-anchor:middle;fill:#0d47a1}.nt{text-anchor:middle;fill:#212121}"
        ".note{fill:#fffde7;stroke:#bdbdbd}.fault{fill:#ffcdd2;stroke:#c62828}"
        ".lost{text-anchor:middle;fill:#c62828;font-weight:bold}.lane{stroke:#90a4ae;stroke-dasharray:4 3}"
        ".lh{text-anchor:middle;font-weight:bold;fill:#263238}.lb{fill:#eceff1;stroke:#90a4ae}"
        ".chg{fill:#6a1b9a;font-size:9px}.end{fill:#e3f2fd;stroke:#1565c0}.eh{font-weight:bold;fill:#0d47a1}"
        ".et{fill:#212121}</style>",
    ]
    if title:
        head.append(f'<title>{_esc(title)}</title>')
    for lane in lanes:
        head.append(f'<line x1="{x[lane]}" y1="{_TOP - 8}" x2="{x[lane]}" y2="{total_h - 4}" class="lane"/>')
        head.append(f'<rect x="{x[lane] - 70}" y="8" width="140" height="24" rx="4" class="lb"/>')
        head.append(f'<text x="{x[lane]}" y="24" class="lh">{_esc(lane)}</text>')
    return "\n".join([*head, *body, "</svg>"]) + "\n"

