"""``migmodel graph``: state graphs of one configuration, as DOT, Mermaid, SVG, PNG and GraphML.

  migmodel graph --config qemu-11.1 --out graphs/                  # every kind, DOT + Mermaid + SVG
  migmodel graph --config qemu-11.1 --kind product --format png --out graphs/

DOT and Mermaid are always written; SVG and PNG need Graphviz's ``dot`` (without it one line says
how to get them); GraphML comes from networkx. Files are named ``CONFIG-KIND[-SIDE].EXT``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Any

from checker import graphs as G
from checker.cli_base import EXIT_LIMIT, EXIT_OK, UsageError, add_command, at_least, load_suite, write_atomic

KINDS = ("machine", "reachable", "product")
FORMATS = ("svg", "png", "dot", "mermaid", "graphml")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower()


def build_graphs(suite: Any, name: str, config: Any, kinds: list[str], *, max_states: int | None = None
                 ) -> dict[str, G.Graph]:
    """``{file stem: Graph}`` for the chosen kinds, exploring the configuration once."""
    from checker import verify as V

    _, props = V.select(suite, [name], None)
    result = V.run_config(suite, name, config, props, max_states=max_states)
    out: dict[str, G.Graph] = {}
    if "machine" in kinds:
        machines = G.machine_graphs(suite, config, result.exploration)
        if not machines:
            print(f"migmodel graph: note: suite {suite.name!r} draws no machine diagrams", file=sys.stderr)
        for side, g in machines.items():
            out[f"{name}-machine-{_slug(side)}"] = g
    if "reachable" in kinds:
        out[f"{name}-reachable"] = G.reachable_graph(suite, result.exploration, result.verdicts)
    if "product" in kinds:
        out[f"{name}-product"] = G.product_graph(suite, result.exploration, result.verdicts)
    return out


def write_graph(folder: str, stem: str, g: G.Graph, formats: list[str]) -> tuple[list[str], bool]:
    """Write one graph; returns the paths written and whether a picture was skipped (no dot)."""
    written: list[str] = []
    dot = G.to_dot(g)
    for ext, text in (("dot", dot), ("mmd", G.to_mermaid(g))):
        path = os.path.join(folder, f"{stem}.{ext}")
        write_atomic(path, text)
        written.append(path)
    if "graphml" in formats:
        path = os.path.join(folder, f"{stem}.graphml")
        write_atomic(path, G.to_graphml(g))
        written.append(path)
    skipped = False
    for fmt in ("svg", "png"):
        if fmt not in formats:
            continue
        data = G.render(dot, fmt)
        if data is None:
            skipped = True
            continue
        path = os.path.join(folder, f"{stem}.{fmt}")
        write_atomic(path, data)
        written.append(path)
    return written, skipped


def cmd_graph(args: argparse.Namespace) -> int:
    suite = load_suite()
    configs = suite.configs()
    if args.config not in configs:
        raise UsageError(f"unknown configuration {args.config!r} (known: {', '.join(configs)})")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out {args.out!r} exists and is not a folder")
    kinds = [args.kind] if args.kind else list(KINDS)
    formats = args.format or ["svg"]
    graphs = build_graphs(suite, args.config, configs[args.config], kinds, max_states=args.max_states)
    any_skipped = False
    for stem, g in graphs.items():
        written, skipped = write_graph(args.out, stem, g, formats)
        any_skipped |= skipped
        for path in written:
            print(path)
        for note in g.notes:
            print(f"  {stem}: {note}")
    if any_skipped:
        print(f"migmodel graph: note: {G.GRAPHVIZ_HINT}", file=sys.stderr)
    return EXIT_OK


def register(sub: Any, name: str) -> None:
    p = add_command(sub, name, help="draw state graphs (machine, reachable, product)",
                    description="Draw one configuration's state graphs: each side's machine, the reachable "
                    "graph and its product projection, as DOT and Mermaid (always), SVG/PNG (with Graphviz) "
                    "and GraphML. Files are named CONFIG-KIND[-SIDE].EXT and printed one per line.",
                    examples=["migmodel graph --config qemu-11.1 --out graphs/",
                              "migmodel graph --config qemu-11.1 --kind product --format png --out graphs/"],
                    exits={EXIT_OK: "the graphs were written",
                           EXIT_LIMIT: "the state limit (--max-states) was reached"})
    p.add_argument("--config", required=True, metavar="NAME", help="the configuration to draw")
    p.add_argument("--kind", choices=KINDS, help="one kind of graph (default: all three)")
    p.add_argument("--format", choices=FORMATS, action="append",
                   help="svg, png, dot, mermaid or graphml (repeatable; default svg). DOT and Mermaid "
                        "are always written")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write into (created if needed)")
    p.add_argument("--max-states", type=at_least(1), default=5_000_000, metavar="N",
                   help="stop with exit code 3 beyond N states (default 5,000,000)")
    p.set_defaults(func=cmd_graph)
