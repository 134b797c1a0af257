"""``migmodel mutants``: does the checker notice a broken model?

Generic: the suite provides the mutants (``Suite.variants_of("mutants")``: ``Variant`` values with
a doc, configuration names, build and ``equivalent``); this module only explores and compares
verdicts.

A mutant is **killed** on a configuration when some property gets a *worse* verdict on the mutant
than on the unmodified model of the same configuration:

* a property of any kind but SOMETIMES that holds on the model is violated on the mutant (the
  mutant breaks a claim; the verdict comes with a counterexample), or
* a SOMETIMES property reached on the model is never reached on the mutant (the mutant makes a
  situation the model exhibits impossible; there is no counterexample, only the model's witness).

A verdict that gets *better* on the mutant (a violated property now holds) does not count: the
mutant may remove a behaviour without adding a wrong one. A mutant is killed when it is killed on at
least one of its configurations; ``killed_by`` is the union of the killing properties over its
configurations, and ``cex_len`` the number of steps of the shortest counterexample among them
(``null`` when only SOMETIMES witnesses disappeared). Equivalent mutants are reported but do not
count. Exit code 0 iff every mutant that is not equivalent is killed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from checker.analysis import Verdict, check
from checker.cli_base import EXIT_LIMIT, EXIT_OK, UsageError, add_command, at_least, columns, load_suite
from checker.explore import explore
from checker.kinds import falsifiable
from checker.spec import Model, Property, Suite

__all__ = ("ConfigKill", "MutantResult", "kills", "register", "run_mutants")

EXIT_SURVIVORS = 1


@dataclass
class ConfigKill:
    """One mutant on one configuration."""

    config: str
    states: int
    killed_by: list[str]
    cex_len: int | None
    """Steps of the shortest counterexample among the killing verdicts (None: none has one)."""
    counterexamples: dict[str, int] = field(default_factory=dict)
    """Killing property -> counterexample length in steps (SOMETIMES kills are absent)."""


@dataclass
class MutantResult:
    name: str
    doc: str
    equivalent: bool
    configs: list[ConfigKill]
    seconds: float

    @property
    def killed(self) -> bool:
        return any(c.killed_by for c in self.configs)

    @property
    def killed_by(self) -> list[str]:
        out: list[str] = []
        for c in self.configs:
            out.extend(p for p in c.killed_by if p not in out)
        return out

    @property
    def cex_len(self) -> int | None:
        lengths = [c.cex_len for c in self.configs if c.cex_len is not None]
        return min(lengths) if lengths else None

    def to_json(self) -> dict[str, Any]:
        return {
            "killed": self.killed,
            "equivalent": self.equivalent,
            "killed_by": self.killed_by,
            "cex_len": self.cex_len,
            "configs": [c.config for c in self.configs],
            "per_config": {
                c.config: {"killed_by": c.killed_by, "cex_len": c.cex_len, "states": c.states,
                           "counterexamples": c.counterexamples}
                for c in self.configs
            },
            "doc": self.doc,
        }


def kills(base: Sequence[Verdict], mutant: Sequence[Verdict]) -> list[Verdict]:
    """The mutant's verdicts that are worse than the model's (same properties, same order)."""
    out = []
    for b, m in zip(base, mutant, strict=True):
        if b.property.name != m.property.name:
            raise ValueError(f"verdicts out of order: {b.property.name} vs {m.property.name}")
        if b.holds and not m.holds:
            out.append(m)
    return out


def _cex_steps(v: Verdict) -> int | None:
    if not falsifiable(v.property.kind) or v.counterexample is None:
        return None
    return len(v.counterexample) - 1


def run_mutants(
    suite: Suite,
    names: Sequence[str] | None = None,
    *,
    max_states: int | None = None,
    progress: Callable[[str, str], None] | None = None,
) -> list[MutantResult]:
    """Explore every selected mutant on its configurations and compare with the model."""
    catalogue = suite.variants_of("mutants")
    if catalogue is None:
        raise UsageError(f"model suite {suite.name!r} defines no mutants")
    for n in names or []:
        if n not in catalogue:
            raise UsageError(f"unknown mutant {n!r} (known: {', '.join(catalogue)})")
    chosen = list(dict.fromkeys(names)) if names else list(catalogue)
    all_configs = suite.configs()
    props: list[Property] = list(suite.properties())
    base_cache: dict[str, list[Verdict]] = {}
    results: list[MutantResult] = []
    for name in chosen:
        variant = catalogue[name]
        doc, config_names, build, equivalent = variant.doc, variant.configs, variant.build, variant.equivalent
        started = time.perf_counter()
        per_config: list[ConfigKill] = []
        for cname in config_names:
            if cname not in all_configs:
                raise UsageError(f"mutant {name!r} names an unknown configuration {cname!r}")
            if progress is not None:
                progress(name, cname)
            cfg = all_configs[cname]
            if cname not in base_cache:
                base_model: Model = suite.build(cfg)
                base_cache[cname] = check(explore(base_model, max_states=max_states), props)
            exploration = explore(build(cfg), max_states=max_states)
            worse = kills(base_cache[cname], check(exploration, props))
            lengths = {v.property.name: steps for v in worse if (steps := _cex_steps(v)) is not None}
            per_config.append(ConfigKill(
                config=cname,
                states=exploration.state_count,
                killed_by=[v.property.name for v in worse],
                cex_len=min(lengths.values()) if lengths else None,
                counterexamples=lengths,
            ))
        results.append(MutantResult(name, doc, equivalent, per_config, time.perf_counter() - started))
    return results


def table_lines(results: Sequence[MutantResult], width: int = 120) -> list[str]:
    from checker.render import table_lines as fit

    rows = []
    for r in results:
        verdict = "killed" if r.killed else ("equivalent" if r.equivalent else "SURVIVED")
        if r.killed and r.equivalent:
            verdict = "killed (marked equivalent)"
        cex = "-" if r.cex_len is None else str(r.cex_len)
        rows.append([r.name, verdict, cex, ", ".join(c.config for c in r.configs), ", ".join(r.killed_by) or "-"])
    out = fit(["mutant", "verdict", "cex", "configurations", "killed by"], rows, width=width, max_lines=50)
    counted = [r for r in results if not r.equivalent]
    killed = sum(r.killed for r in counted)
    out.append("")
    out.append(f"{killed} of {len(counted)} mutants killed"
               + (f" ({len(results) - len(counted)} equivalent, not counted)" if len(counted) < len(results)
                  else ""))
    return out


def cmd_mutants(args: argparse.Namespace) -> int:
    suite = load_suite()
    results = run_mutants(suite, args.mutant, max_states=args.max_states)
    if args.json:
        print(json.dumps({"mutants": {r.name: r.to_json() for r in results}}, indent=2))
    else:
        for line in table_lines(results, columns()):
            print(line)
    survivors = [r for r in results if not r.equivalent and not r.killed]
    return EXIT_SURVIVORS if survivors else EXIT_OK


def register(sub: Any, name: str) -> None:
    p = add_command(sub, name, help="run the checker on known-bad variants of the model",
                    description="Does the checker notice a broken model? Each mutant (a known-bad variant of "
                    "the model) is explored on its configurations; it is killed when some property gets a worse "
                    "verdict than on the model.",
                    examples=["migmodel mutants", "migmodel mutants --mutant ignore-shut-1 --json"],
                    exits={EXIT_OK: "every mutant that is not equivalent is killed",
                           EXIT_SURVIVORS: "some mutant survived",
                           EXIT_LIMIT: "the state limit (--max-states) was reached"})
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--mutant", action="append", metavar="NAME", help="a mutant (repeatable; default: all)")
    p.add_argument("--max-states", type=at_least(1), default=5_000_000, metavar="N",
                   help="stop with exit code 3 beyond N states per exploration (default 5,000,000)")
    p.set_defaults(func=cmd_mutants)
