"""The verdict matrix: every configuration of a suite explored, every property judged.

Generic: it works on a ``Suite`` (checker/spec.py) and never names a QEMU concept. The result is
plain JSON-ready data, the one structure that ``migmodel verify --json``, the pinned manifest and
the reports are all made from.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from checker.analysis import check, verdict_to_json
from checker.cli_base import UsageError
from checker.explore import Exploration, explore
from checker.kinds import Kind, meaning
from checker.spec import Model, Property, Suite

__all__ = ("ConfigResult", "UsageError", "diff_manifest", "load_manifest", "manifest_of", "result_to_json",
           "run_config", "select", "verdict_word")


@dataclass
class ConfigResult:
    name: str
    description: str
    model: Model
    exploration: Exploration
    verdicts: list[Any]
    seconds: float


def select(suite: Suite, configs: Sequence[str] | None, properties: Sequence[str] | None
           ) -> tuple[dict[str, Any], list[Property]]:
    """The configurations and properties named (all when none are), or a UsageError."""
    all_configs = suite.configs()
    all_props = list(suite.properties())
    names = {p.name: p for p in all_props}
    chosen_configs: dict[str, Any] = {}
    for name in configs or list(all_configs):
        if name not in all_configs:
            raise UsageError(f"unknown configuration {name!r} (known: {', '.join(all_configs)})")
        chosen_configs[name] = all_configs[name]
    chosen_props: list[Property] = []
    for pname in properties or []:
        if pname not in names:
            raise UsageError(f"unknown property {pname!r} (known: {', '.join(names)})")
        chosen_props.append(names[pname])
    if not properties:
        chosen_props = all_props
    else:  # a chosen property brings its non-vacuity partner along
        for p in list(chosen_props):
            if p.partner and names[p.partner] not in chosen_props:
                chosen_props.append(names[p.partner])
    return chosen_configs, chosen_props


def run_config(suite: Suite, name: str, config: Any, properties: Sequence[Property], *,
               max_states: int | None = None,
               progress: Callable[[int, int, int], None] | None = None) -> ConfigResult:
    started = time.perf_counter()
    model = suite.build(config)
    exploration = explore(model, max_states=max_states, progress=progress)
    verdicts = check(exploration, properties)
    return ConfigResult(name, suite.describe_config(config), model, exploration, verdicts,
                        time.perf_counter() - started)


# Worker processes inherit these through fork: the suite and properties hold functions that
# cannot be pickled, so only results travel back, with each verdict's property as an index.
_WORK: tuple[Suite, dict[str, Any], Sequence[Property], int | None, bool] | None = None


def _run_one(name: str) -> tuple[ConfigResult, list[int]]:
    assert _WORK is not None
    suite, configs, properties, max_states, fingerprints = _WORK
    r = run_config(suite, name, configs[name], properties, max_states=max_states)
    index = {id(p): i for i, p in enumerate(properties)}
    order = [index[id(v.property)] for v in r.verdicts]
    # The fingerprint (a repr of every state) is computed here, in parallel, and travels along.
    cache = {"fingerprint": r.exploration.fingerprint()} if fingerprints else {}
    exploration = replace(r.exploration, model=None, _graph_cache=cache,  # type: ignore[arg-type]
                          _states=None, _index=None)
    verdicts = [replace(v, property=None) for v in r.verdicts]
    return replace(r, model=None, exploration=exploration, verdicts=verdicts), order  # type: ignore[arg-type]


def _ignore_interrupts() -> None:
    """Ctrl-C is the parent's to handle: it leaves the pool, which terminates the workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def jobs_wanted(count: int) -> int:
    """How many worker processes a matrix of ``count`` configurations uses: one per core (at most
    one per configuration); ``MIGMODEL_JOBS`` overrides (1: no workers)."""
    env = os.environ.get("MIGMODEL_JOBS", "")
    jobs = int(env) if env.isdigit() and int(env) > 0 else (os.cpu_count() or 1)
    return max(1, min(jobs, count))


def run_configs(suite: Suite, configs: dict[str, Any], properties: Sequence[Property], *,
                max_states: int | None = None, jobs: int | None = None,
                fingerprints: bool = True) -> Iterator[ConfigResult]:
    """``run_config`` for each configuration, yielded in the order given. With more than one job
    the configurations are explored in forked worker processes; the results are the same values,
    in the same order, as a sequential run. An exception in a worker (``StateLimitExceeded``) is
    raised here as in a sequential run. ``fingerprints=False`` leaves each graph's fingerprint to
    be computed on demand (in this process) instead of in the workers: for a caller that does not
    show it (a ``repr`` of every state is a fifth of the work)."""
    jobs = jobs_wanted(len(configs)) if jobs is None else max(1, min(jobs, len(configs)))
    if jobs == 1 or "fork" not in multiprocessing.get_all_start_methods():
        for name, config in configs.items():
            yield run_config(suite, name, config, properties, max_states=max_states)
        return
    global _WORK
    _WORK = (suite, configs, properties, max_states, fingerprints)
    try:
        with multiprocessing.get_context("fork").Pool(jobs, initializer=_ignore_interrupts) as pool:
            pending = {name: pool.apply_async(_run_one, (name,)) for name in configs}
            for name, config in configs.items():
                r, order = pending[name].get()
                model = suite.build(config)
                verdicts = [replace(v, property=properties[i]) for v, i in zip(r.verdicts, order, strict=True)]
                yield replace(r, model=model, exploration=replace(r.exploration, model=model), verdicts=verdicts)
    finally:
        _WORK = None


def result_to_json(r: ConfigResult, *, timing: bool = True, fingerprint: bool = True) -> dict[str, Any]:
    """One configuration's row of the matrix. ``timing=False`` leaves out the wall time, for
    outputs that must be byte-identical run to run; ``fingerprint=False`` the graph's fingerprint
    (for a caller that does not show it: it costs a ``repr`` of every state)."""
    props: dict[str, Any] = {}
    for v in r.verdicts:
        d = verdict_to_json(r.model, v)
        d.setdefault("counterexample", None)
        props[v.property.name] = d
    out: dict[str, Any] = {
        "description": r.description,
        "states": r.exploration.state_count,
        "edges": r.exploration.edge_count,
        "depth": r.exploration.max_depth,
    }
    if fingerprint:
        out["fingerprint"] = r.exploration.fingerprint()
    out["properties"] = props
    if timing:
        out["seconds"] = round(r.seconds, 3)
    return out


def manifest_of(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What the pinned manifest records: counts and verdicts, nothing that varies run to run."""
    return {
        name: {
            "states": r["states"],
            "edges": r["edges"],
            "depth": r["depth"],
            "verdicts": {p: ("holds" if v["holds"] else "violated") for p, v in r["properties"].items()},
            "counterexample_lengths": {
                p: len(v["counterexample"]) - 1 for p, v in r["properties"].items() if v["counterexample"]
            },
        }
        for name, r in results.items()
    }


def diff_manifest(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Human-readable differences between a pinned manifest and a fresh one (only the
    configurations present in ``actual``)."""
    problems: list[str] = []
    for name, got in actual.items():
        want = expected.get(name)
        if want is None:
            problems.append(f"{name}: not in the manifest")
            continue
        for key in ("states", "edges", "depth"):
            if want.get(key) != got[key]:
                problems.append(f"{name}: {key} {want.get(key)} -> {got[key]}")
        for p, verdict in got["verdicts"].items():
            if want.get("verdicts", {}).get(p) != verdict:
                problems.append(f"{name}: {p} {want.get('verdicts', {}).get(p)} -> {verdict}")
        for p, n in got["counterexample_lengths"].items():
            if want.get("counterexample_lengths", {}).get(p) != n:
                problems.append(f"{name}: {p} counterexample length "
                                f"{want.get('counterexample_lengths', {}).get(p)} -> {n}")
    return problems


def load_manifest(path: str) -> dict[str, Any]:
    """A pinned manifest, checked for shape: a UsageError (one line) for anything unreadable or
    malformed, so a bad file is told apart from a manifest that merely disagrees."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise UsageError(f"cannot read manifest {path}: {e.strerror}") from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, a NUL in the path
        detail = f"{e.msg} (line {e.lineno})" if isinstance(e, json.JSONDecodeError) else str(e)
        raise UsageError(f"manifest {path} is not valid JSON: {detail}") from None
    except RecursionError:
        raise UsageError(f"manifest {path} is nested too deeply") from None
    if not isinstance(data, dict):
        raise UsageError(f"manifest {path} must hold a JSON object")
    for name, entry in data.items():
        problem = _manifest_entry_problem(entry)
        if problem:
            raise UsageError(f"manifest {path}: configuration {name!r}: {problem}")
    return data


def _manifest_entry_problem(entry: Any) -> str:
    """What is wrong with one configuration's manifest entry ("" if nothing)."""
    if not isinstance(entry, dict):
        return "must be a JSON object"
    for key in ("states", "edges", "depth"):
        if key in entry and (not isinstance(entry[key], int) or isinstance(entry[key], bool)):
            return f"{key!r} must be an integer"
    verdicts = entry.get("verdicts", {})
    if not isinstance(verdicts, dict) or not all(v in ("holds", "violated") for v in verdicts.values()):
        return "'verdicts' must map property names to \"holds\" or \"violated\""
    lengths = entry.get("counterexample_lengths", {})
    if not isinstance(lengths, dict) or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in lengths.values()):
        return "'counterexample_lengths' must map property names to integers"
    return ""


def verdict_word(kind: Kind, holds: bool) -> str:
    """How a verdict reads in the matrix: a SOMETIMES that fails means "never reached"."""
    held, failed = meaning(kind).words
    return held if holds else failed
