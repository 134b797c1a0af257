"""Hypothesis stateful search of a model's interleavings: the second driver over the same model.

``explore`` enumerates every reachable state; ``fuzz`` walks the same ``Model.successors`` at
random with Hypothesis (``RuleBasedStateMachine``) and shrinks what it finds to a short sequence
of actions. Nothing about the protocol is restated here: the machine is built from the model and
the properties alone.

The machine:

- One rule per *action label* (``"actor: action"``, as ``describe_action`` names it and
  ``migmodel simulate --script`` replays it). The alphabet is learnt up front by a breadth-first
  search bounded by ``alphabet_limit`` states (Hypothesis needs its rules when the class is made);
  on a model larger than that, labels first met deeper are simply not rules, and their actions
  are never taken (``FuzzResult.alphabet_complete`` says whether the search saw everything).
  Labels only ever seen on self-loops (refused commands) are not rules: they change nothing.
  A rule's ``@precondition`` is "an action with this label leads to another state"; its body
  takes it (if several successors share the label, it draws one).

  Why labels and not "the i-th enabled action": Hypothesis encodes the rule choice as an index
  into the fixed rule list, so deleting a step while shrinking leaves the *meaning* of every other
  step unchanged, and shrinking converges to short runs. And Hypothesis's swarm testing (it
  switches a random subset of rules off for each test case) silences distracting actions for a
  whole run (extra pages, the operator's refused or useless commands, other faults), which is
  what deep, specific interleavings need.
- Labels with an action that some property's ``via`` refuses (faults) are the *environment*. A run
  takes them itself only if it drew so (one run in ``ENV_ODDS``, shrinking to "no"); instead every
  environment successor of every state of the run is judged too (one step of lookahead), so a run
  of the system's own actions finds what one more fault would break. Measured: a fault taken at a
  random step spends the (usually single) fault budget long before the narrow windows.
- Swarm granularity is ``SWARM`` (default ``"none"``: measured, per-label swarm made the races
  4-40 times rarer).
- ``@invariant`` checks, judged on every state of the run, so a run fails at its first bad state:

  * ALWAYS: ``predicate`` holds.
  * ALWAYS_POSSIBLE: where ``where`` holds, a ``predicate`` state is reachable over ``via`` edges.
  * EVENTUALLY: a ``predicate`` state is reachable over ``via`` edges (with goal states absorbing
    this is exactly "no bottom component without a goal", the exhaustive checker's judgement).
  * DEADLOCK_FREE: the state is final or has a ``via`` successor other than itself.
  * SOMETIMES: nothing to falsify; the states satisfying it are counted as witnesses.

  Reachability is a breadth-first search over ``via`` edges bounded by ``search_limit`` states,
  memoised per state across all runs (a search that exhausts its region without a goal marks the
  whole region hopeless; one that finds a goal marks the path to it). A search that hits the bound
  is inconclusive: never reported as a violation, counted in ``FuzzResult.inconclusive``.
- ``hypothesis.target`` rewards runs that visit many distinct ``where`` states of the
  ALWAYS_POSSIBLE properties (the region where their violations live).

A failure is shrunk by Hypothesis, then cut of its cycles (a state visited twice), which keeps the
same final state and so the same violation. It is returned as ``Step`` values, printable with
``steps_to_json`` and replayable with ``checker.simulate.run_script`` through ``replay_script``.

Reproducible: the same ``seed`` gives the same runs (``hypothesis.seed``; no example database).
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import hypothesis.strategies as st
from hypothesis import HealthCheck, Phase, Verbosity
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from checker.analysis import steps_to_json
from checker.explore import Exploration, Step
from checker.simulate import action_text
from checker.spec import Action, Kind, Model, Property, State

__all__ = (
    "Alphabet",
    "Coverage",
    "FuzzResult",
    "Violation",
    "coverage",
    "discover_alphabet",
    "fuzz",
    "machine_class",
    "replay_script",
    "result_to_json",
)

ALPHABET_LIMIT = 50_000
"""States the breadth-first search that learns the action labels may visit."""

_CACHE_LIMIT = 500_000
"""States whose successors are remembered (the cache is cleared when it is full)."""


class Violation(AssertionError):
    """A property failed on the last state of ``steps``."""

    def __init__(self, prop: Property, steps: Sequence[Step], reason: str) -> None:
        self.property = prop
        self.steps = list(steps)
        self.reason = reason
        super().__init__(f"{prop.name}: {reason} (after {len(self.steps) - 1} steps)")


@dataclass(frozen=True)
class Alphabet:
    """The action labels a machine has rules for, learnt by a bounded breadth-first search."""

    labels: tuple[str, ...]
    """Labels with at least one edge to another state, in order of first appearance."""
    actions: dict[str, tuple[Action, ...]]
    """The distinct action values met under each label."""
    states: int
    """States the search visited."""
    complete: bool
    """Whether the search visited every reachable state (so no label can be missing)."""


def discover_alphabet(model: Model, limit: int = ALPHABET_LIMIT) -> Alphabet:
    """The labels (``actor: action``) of the actions met in a breadth-first search of at most
    ``limit`` states. Labels seen only on self-loops are left out."""
    labels: dict[str, dict[Action, None]] = {}
    init = list(model.init_states())
    seen = set(init)
    queue = deque(init)
    complete = True
    text: dict[Action, str] = {}
    while queue:
        state = queue.popleft()
        for action, succ in model.successors(state):
            if succ == state:
                continue
            label = text.get(action)
            if label is None:
                label = text[action] = action_text(model, action)
                labels.setdefault(label, {})[action] = None
            if succ not in seen:
                if len(seen) >= limit:
                    complete = False
                    continue
                seen.add(succ)
                queue.append(succ)
    return Alphabet(tuple(labels), {k: tuple(v) for k, v in labels.items()}, len(seen), complete)


@dataclass
class _Stats:
    examples: int = 0
    steps: int = 0
    inconclusive: int = 0
    started: float = field(default_factory=time.perf_counter)
    first_found: float | None = None
    examples_at_find: int = 0
    states: set[State] = field(default_factory=set)
    edges: set[tuple[State, Action, State]] = field(default_factory=set)
    witnessed: set[str] = field(default_factory=set)


Moves = dict[str, list[tuple[Action, State]]]


class _Oracle:
    """What all runs share: successors grouped by label, and memoised bounded reachability."""

    def __init__(self, model: Model, search_limit: int, stats: _Stats) -> None:
        self.model = model
        self.stats = stats
        self.search_limit = search_limit
        self._moves: dict[State, Moves] = {}
        self._successors: dict[State, Sequence[tuple[Action, State]]] = {}
        self._label: dict[Action, str] = {}
        self._via: dict[tuple[Callable[[Any], bool], Action], bool] = {}
        # (goal, via) -> state -> can reach a goal
        self._reach: dict[tuple[Callable[[Any], bool], Callable[[Any], bool]], dict[State, bool]] = {}

    def successors(self, state: State) -> Sequence[tuple[Action, State]]:
        found = self._successors.get(state)
        if found is None:
            if len(self._successors) >= _CACHE_LIMIT:
                self._successors.clear()
                self._moves.clear()
            found = self._successors[state] = tuple(self.model.successors(state))
        return found

    def moves(self, state: State) -> Moves:
        """The actions of ``state`` that lead to another state, with their successors, by label."""
        grouped = self._moves.get(state)
        if grouped is None:
            grouped = {}
            for action, succ in self.successors(state):
                if succ == state:
                    continue
                label = self._label.get(action)
                if label is None:
                    label = self._label[action] = action_text(self.model, action)
                grouped.setdefault(label, []).append((action, succ))
            self._moves[state] = grouped
        return grouped

    def admits(self, via: Callable[[Any], bool], action: Action) -> bool:
        key = (via, action)
        ok = self._via.get(key)
        if ok is None:
            ok = self._via[key] = bool(via(action))
        return ok

    def can_reach(self, state: State, goal: Callable[[Any], bool], via: Callable[[Any], bool]) -> bool | None:
        """Whether a ``goal`` state is reachable from ``state`` over ``via`` edges; ``None`` when the
        search reached ``search_limit`` states without an answer."""
        memo = self._reach.setdefault((goal, via), {})
        known = memo.get(state)
        if known is not None:
            return known
        parent: dict[State, State | None] = {state: None}
        queue = deque([state])
        while queue:
            node = queue.popleft()
            known = memo.get(node)
            if known is True or (known is None and goal(node)):
                link: State | None = node
                while link is not None:  # every state on the way reaches the goal too
                    memo[link] = True
                    link = parent[link]
                return True
            if known is False:
                continue  # a hopeless region: nothing beyond it reaches a goal either
            for action, succ in self.successors(node):
                if succ not in parent and self.admits(via, action):
                    if len(parent) >= self.search_limit:
                        self.stats.inconclusive += 1
                        return None
                    parent[succ] = node
                    queue.append(succ)
        for node in parent:  # the whole region closed under `via` has no goal
            memo[node] = False
        return False

    def judge(self, prop: Property, state: State) -> str | None:
        """Why ``prop`` fails in ``state``, or ``None`` (holds, or the search was inconclusive)."""
        kind = prop.kind
        if kind is Kind.ALWAYS:
            return None if prop.predicate(state) else "the predicate is false in this state"
        if kind is Kind.ALWAYS_POSSIBLE:
            if not prop.where(state):
                return None
            reach = self.can_reach(state, prop.predicate, prop.via)
            return "no goal state is reachable from this `where` state over `via` steps" if reach is False else None
        if kind is Kind.EVENTUALLY:
            reach = self.can_reach(state, prop.predicate, prop.via)
            return "no goal state is reachable from here over `via` steps" if reach is False else None
        if kind is Kind.DEADLOCK_FREE:
            if self.model.is_final(state):
                return None
            for action, succ in self.successors(state):
                if succ != state and self.admits(prop.via, action):
                    return None
            return "a non-final state without a `via` step to another state"
        return None


def _identifier(text: str, taken: set[str]) -> str:
    name = re.sub(r"\W+", "_", text).strip("_") or "x"
    name = name if not name[0].isdigit() else f"_{name}"
    unique, n = name, 2
    while unique in taken:
        unique, n = f"{name}_{n}", n + 1
    taken.add(unique)
    return unique


ENV_ODDS = 16
"""One run in ``ENV_ODDS`` may take environment actions itself (see ``machine_class``)."""

SWARM = "none"
"""The granularity of Hypothesis's swarm testing, which keys its feature flags by the rule
function's ``__name__``: ``"label"`` (each rule its own flag), ``"actor"`` (the rules of one actor
share a flag) or ``"none"`` (all rules share one flag). Measured on the QEMU configurations (see
benchmarks/bench_fuzz.py), per-label swarm makes runs that reach a narrow race 4 to 40 times rarer:
a deep interleaving needs ~15 specific labels enabled, and a run dies as soon as every enabled
label of its state is switched off."""

TARGET_LOOKAHEAD = True
"""The ``hypothesis.target`` score counts the ``where`` states one environment step away too."""


def machine_class(
    model: Model,
    properties: Sequence[Property],
    *,
    alphabet: Alphabet | None = None,
    search_limit: int = 20_000,
    target: bool = True,
    stats: _Stats | None = None,
) -> type[RuleBasedStateMachine]:
    """A ``RuleBasedStateMachine`` subclass that walks ``model`` from its first initial state and
    checks ``properties``.

    One rule per label of ``alphabet`` (default: ``discover_alphabet(model)``). Labels with an
    action that some property's ``via`` refuses are the *environment* (faults): their rules are
    enabled only in runs that drew so (one in ``ENV_ODDS``; it shrinks to "off"), and at every state
    of every run each environment successor is judged too (one step of lookahead), so a run of the
    system's own actions finds a violation that one more fault would cause. A violated property
    raises ``Violation`` carrying the run (plus the lookahead step). ``target``: steer generation
    with ``hypothesis.target`` (see the module doc). ``stats`` (internal) collects what runs visited.
    """
    found = alphabet if alphabet is not None else discover_alphabet(model)
    record = stats if stats is not None else _Stats()
    oracle = _Oracle(model, search_limit, record)
    checked = [p for p in properties if p.kind is not Kind.SOMETIMES]
    sometimes = [p for p in properties if p.kind is Kind.SOMETIMES]
    scoped = [p for p in checked if p.kind is Kind.ALWAYS_POSSIBLE]
    vias = list(dict.fromkeys(p.via for p in checked if p.kind is not Kind.ALWAYS))
    environment = frozenset(
        label for label in found.labels
        if any(not oracle.admits(via, a) for via in vias for a in found.actions.get(label, ()))
    )
    inits = list(model.init_states())
    if not inits:
        raise ValueError("the model has no initial state")
    first = inits[0]

    class ModelMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.state: State = first
            self.steps: list[Step] = [Step(None, first)]
            self.seen: set[State] = {first}
            self.scoped_seen: set[State] = set()
            self.environment = False
            record.examples += 1
            self._visit(first)

        def _visit(self, state: State) -> None:
            record.states.add(state)
            for p in scoped:
                if p.where(state):
                    self.scoped_seen.add(state)
                if TARGET_LOOKAHEAD:
                    for label, options in oracle.moves(state).items():
                        if label in environment:
                            for _, succ in options:
                                if p.where(succ):
                                    self.scoped_seen.add(succ)
            for p in sometimes:
                if p.name not in record.witnessed and p.predicate(state):
                    record.witnessed.add(p.name)

        def take(self, action: Action, succ: State) -> None:
            record.steps += 1
            record.edges.add((self.state, action, succ))
            self.state = succ
            self.steps.append(Step(action, succ))
            if succ not in self.seen:
                self.seen.add(succ)
                self._visit(succ)

        def teardown(self) -> None:
            if target and scoped:
                hypothesis.target(float(len(self.scoped_seen)), label="`where` states")

        def __repr__(self) -> str:
            return f"ModelMachine(after {len(self.steps) - 1} steps)"

    taken: set[str] = set()
    if environment:

        def choose_environment(self: ModelMachine, odds: int) -> None:
            self.environment = odds == ENV_ODDS - 1

        ModelMachine.choose_environment = initialize(odds=st.integers(0, ENV_ODDS - 1))(choose_environment)
        taken.add("choose_environment")

    def add_rule(label: str) -> None:
        if label in environment:

            def enabled(self: ModelMachine) -> bool:
                return self.environment and label in oracle.moves(self.state)
        else:

            def enabled(self: ModelMachine) -> bool:
                return label in oracle.moves(self.state)

        def step(self: ModelMachine, data: st.DataObject) -> None:
            options = oracle.moves(self.state)[label]
            i = data.draw(st.integers(0, len(options) - 1)) if len(options) > 1 else 0
            self.take(*options[i])

        attr = _identifier(label, taken)
        # Hypothesis's swarm testing keys its feature flags by the rule function's __name__
        group = {"label": attr, "actor": "actor_" + _identifier(label.split(":")[0], set()), "none": "step"}[SWARM]
        step.__name__ = step.__qualname__ = group
        enabled.__name__ = enabled.__qualname__ = f"{attr}_enabled"
        setattr(ModelMachine, attr, precondition(enabled)(rule(data=st.data())(step)))

    for label in found.labels:
        add_rule(label)

    def idle(self: ModelMachine) -> None:
        """No rule's action is enabled: the run stays put (Hypothesis needs some rule to run)."""

    idle.__name__ = idle.__qualname__ = _identifier("idle", taken)

    def stuck(self: ModelMachine) -> bool:
        moves = oracle.moves(self.state)
        return not any(label in moves and (self.environment or label not in environment) for label in moves)

    setattr(ModelMachine, idle.__name__, precondition(stuck)(rule()(idle)))

    def add_invariant(prop: Property) -> None:
        def check(self: ModelMachine) -> None:
            state = self.state
            reason = oracle.judge(prop, state)
            steps = self.steps
            if reason is None and environment:
                for label, options in oracle.moves(state).items():
                    if label in environment:
                        for action, succ in options:
                            reason = oracle.judge(prop, succ)
                            if reason is not None:
                                steps = [*steps, Step(action, succ)]
                                break
                    if reason is not None:
                        break
            if reason is not None:
                if record.first_found is None:
                    record.first_found = time.perf_counter()
                    record.examples_at_find = record.examples
                raise Violation(prop, steps, reason)

        check.__name__ = check.__qualname__ = _identifier(f"check {prop.name}", taken)
        setattr(ModelMachine, check.__name__, invariant()(check))

    for prop in checked:
        add_invariant(prop)

    ModelMachine.__name__ = ModelMachine.__qualname__ = "ModelMachine"
    return ModelMachine


def cut_cycles(steps: Sequence[Step]) -> list[Step]:
    """The same run without its cycles: from each state, jump to the last time it was visited.
    The result ends in the same state and never visits a state twice."""
    last = {step.state: i for i, step in enumerate(steps)}
    out = [steps[0]]
    i = last[steps[0].state]
    while i < len(steps) - 1:
        nxt = steps[i + 1]
        out.append(nxt)
        i = last[nxt.state]
    return out


@dataclass
class FuzzResult:
    """What one fuzz run found and how much of the model it saw."""

    found: bool
    violated: Property | None
    """The property the counterexample violates."""
    counterexample: list[Step] | None
    reason: str
    examples: int
    steps: int
    seconds: float
    seed: int
    visited_states: set[State]
    visited_edges: set[tuple[State, Action, State]]
    witnessed: set[str]
    seconds_to_find: float | None = None
    """Time from the start (alphabet search included) to the first failing run, before shrinking."""
    shrunk_by_hypothesis: int | None = None
    """Length of the counterexample as Hypothesis shrank it, before cycles were cut."""
    inconclusive: int = 0
    """Reachability searches that hit ``search_limit`` (counted as no violation)."""
    alphabet: Alphabet | None = None
    examples_to_find: int | None = None
    """Runs started up to and including the first failing one."""

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else 0.0


def settings_for(max_examples: int, steps: int, *, shrink: bool = True) -> hypothesis.settings:
    """The Hypothesis settings of a fuzz run: no database, no deadline, quiet, no health checks."""
    phases = (Phase.generate, Phase.target, Phase.shrink) if shrink else (Phase.generate, Phase.target)
    return hypothesis.settings(
        max_examples=max_examples,
        stateful_step_count=steps,
        database=None,
        deadline=None,
        derandomize=False,
        phases=phases,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        print_blob=False,
    )


def fuzz(
    model: Model,
    properties: Sequence[Property],
    *,
    max_examples: int = 300,
    steps: int = 50,
    seed: int = 0,
    search_limit: int = 20_000,
    alphabet_limit: int = ALPHABET_LIMIT,
    target: bool = True,
    shrink: bool = True,
) -> FuzzResult:
    """Search for a run of ``model`` that violates one of ``properties``.

    Hypothesis makes ``max_examples`` runs of ``steps`` actions each from the first initial
    state. The same ``seed`` gives the same runs and the same result. A violation is shrunk by
    Hypothesis, then cut of its cycles.
    """
    if max_examples < 1:
        raise ValueError("max_examples must be >= 1")
    if steps < 1:
        raise ValueError("steps must be >= 1")
    stats = _Stats()
    alphabet = discover_alphabet(model, alphabet_limit)
    machine = machine_class(model, properties, alphabet=alphabet, search_limit=search_limit,
                            target=target, stats=stats)
    hypothesis.seed(seed)(machine)
    violation: Violation | None = None
    try:
        run_state_machine_as_test(machine, settings=settings_for(max_examples, steps, shrink=shrink))
    except Violation as exc:
        violation = exc
    seconds = time.perf_counter() - stats.started
    return FuzzResult(
        found=violation is not None,
        violated=violation.property if violation else None,
        counterexample=cut_cycles(violation.steps) if violation else None,
        reason=violation.reason if violation else "",
        examples=stats.examples,
        steps=stats.steps,
        seconds=seconds,
        seed=seed,
        visited_states=stats.states,
        visited_edges=stats.edges,
        witnessed=stats.witnessed,
        seconds_to_find=None if stats.first_found is None else stats.first_found - stats.started,
        shrunk_by_hypothesis=len(violation.steps) - 1 if violation else None,
        inconclusive=stats.inconclusive,
        alphabet=alphabet,
        examples_to_find=stats.examples_at_find if stats.first_found is not None else None,
    )


@dataclass(frozen=True)
class Coverage:
    """How much of the exhaustively reachable graph a fuzz run visited."""

    states: int
    edges: int
    states_total: int
    edges_total: int

    def to_json(self) -> dict[str, int]:
        return {"states": self.states, "edges": self.edges,
                "states_total": self.states_total, "edges_total": self.edges_total}


def coverage(exploration: Exploration, result: FuzzResult) -> Coverage:
    """The visited states and edges that are in ``exploration`` (all of them, unless the fuzz went
    beyond a bounded exploration)."""
    index = exploration.index
    states = sum(1 for s in result.visited_states if s in index)
    action_id = {a: i for i, a in enumerate(exploration.actions)}
    wanted: set[tuple[int, int, int]] = set()
    for src, act, dst in result.visited_edges:
        s, a, d = index.get(src), action_id.get(act), index.get(dst)
        if s is not None and a is not None and d is not None:
            wanted.add((s, a, d))
    edges = 0
    for s, a, d in wanted:
        lo, hi = int(exploration.edge_start[s]), int(exploration.edge_start[s + 1])
        for e in range(lo, hi):
            if int(exploration.edge_act[e]) == a and int(exploration.edge_dst[e]) == d:
                edges += 1
                break
    return Coverage(states, edges, exploration.state_count, exploration.edge_count)


def replay_script(model: Model, steps: Sequence[Step]) -> list[str]:
    """The run as ``actor: action`` lines, which ``migmodel simulate --script`` replays."""
    return [action_text(model, step.action) for step in steps if step.action is not None]


def result_to_json(model: Model, config: str, result: FuzzResult, cov: Coverage | None) -> dict[str, Any]:
    """The ``migmodel fuzz --json`` object."""
    return {
        "config": config,
        "found": result.found,
        "property": result.violated.name if result.violated else None,
        "reason": result.reason or None,
        "counterexample": steps_to_json(model, result.counterexample) if result.counterexample else None,
        "replay": replay_script(model, result.counterexample) if result.counterexample else None,
        "examples": result.examples,
        "steps": result.steps,
        "seed": result.seed,
        "seconds": round(result.seconds, 3),
        "seconds_to_find": None if result.seconds_to_find is None else round(result.seconds_to_find, 3),
        "inconclusive": result.inconclusive,
        "coverage": cov.to_json() if cov else None,
    }
