"""Hypothesis stateful search of a model's interleavings: the second driver over the same model.

``explore`` enumerates every reachable state; ``fuzz`` walks the same ``Model.successors`` at
random with Hypothesis (``RuleBasedStateMachine``), so it can go deeper than an exhaustive bound
and shrinks what it finds to a short sequence of actions. Nothing about the protocol is restated
here: the machine is built from the model and the properties alone.

The machine:

- One rule per *actor* (``describe_action(a)["actor"]``: ``src/mig``, ``fault``, ...). A rule is
  enabled (``@precondition``) when some action of its actor is; it then draws one of them by
  index. Hypothesis's swarm testing switches whole rules off for some runs, so runs where an actor
  (the fault injector, say) stays quiet for a long time are common instead of astronomically rare.
  Actions of an actor not known when the machine was built fall under one ``other`` rule.
- One ``@invariant`` per property, named after it, judged on every state of the run:

  * ALWAYS: ``predicate`` holds.
  * ALWAYS_POSSIBLE: where ``where`` holds, a ``predicate`` state is reachable over ``via`` edges.
  * EVENTUALLY: a ``predicate`` state is reachable over ``via`` edges (with goal states absorbing
    this is exactly "no bottom component without a goal", the exhaustive checker's judgement).
  * DEADLOCK_FREE: the state is final or has a ``via`` successor other than itself.
  * SOMETIMES: nothing to falsify; the states satisfying it are counted as witnesses.

  Reachability is a breadth-first search bounded by ``search_limit`` states, memoised across runs
  (a search that exhausts its region without a goal marks the whole region hopeless). A search that
  hits the bound is inconclusive and never reported as a violation; the result counts them.
  Judging every step (not only at teardown) makes a run fail at the first bad state, so a failing
  run is as short as it can be before shrinking starts.
- ``hypothesis.target`` steers generation towards runs that visit many distinct states and many
  ``where`` states of the ALWAYS_POSSIBLE properties (the region where their violations live).

A failure is shrunk by Hypothesis and then cut of any cycle (a state visited twice), which keeps
the same final state and so the same violation. It is returned as ``Step`` values, printable with
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
from hypothesis.errors import HypothesisException
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
    "Coverage",
    "FuzzResult",
    "Violation",
    "coverage",
    "fuzz",
    "machine_class",
    "replay_script",
    "result_to_json",
)

OTHER = "other"
"""The rule that takes actions of actors not known when the machine was built."""

_SUCCESSOR_CACHE = 500_000
"""States whose grouped successors are remembered (the cache is cleared when it is full)."""


class Violation(AssertionError):
    """A property failed on the last state of ``steps``."""

    def __init__(self, prop: Property, steps: Sequence[Step], reason: str) -> None:
        self.property = prop
        self.steps = list(steps)
        self.reason = reason
        super().__init__(f"{prop.name}: {reason} (after {len(self.steps) - 1} steps)")


@dataclass
class _Stats:
    examples: int = 0
    steps: int = 0
    inconclusive: int = 0
    states: set[State] = field(default_factory=set)
    edges: set[tuple[State, Action, State]] = field(default_factory=set)
    witnessed: set[str] = field(default_factory=set)


class _Oracle:
    """What all runs share: successors grouped by actor, and memoised bounded reachability."""

    def __init__(self, model: Model, actors: Sequence[str], search_limit: int, stats: _Stats) -> None:
        self.model = model
        self.stats = stats
        self.actors = frozenset(actors)
        self.search_limit = search_limit
        self._grouped: dict[State, dict[str, list[tuple[Action, State]]]] = {}
        self._successors: dict[State, Sequence[tuple[Action, State]]] = {}
        self._actor_of: dict[Action, str] = {}
        self._via: dict[tuple[Callable[[Any], bool], Action], bool] = {}
        # (goal, via) -> state -> can reach a goal
        self._reach: dict[tuple[Callable[[Any], bool], Callable[[Any], bool]], dict[State, bool]] = {}

    def successors(self, state: State) -> Sequence[tuple[Action, State]]:
        found = self._successors.get(state)
        if found is None:
            if len(self._successors) >= _SUCCESSOR_CACHE:
                self._successors.clear()
                self._grouped.clear()
            found = self._successors[state] = tuple(self.model.successors(state))
        return found

    def actor(self, action: Action) -> str:
        name = self._actor_of.get(action)
        if name is None:
            name = str(self.model.describe_action(action).get("actor", OTHER))
            if name not in self.actors:
                name = OTHER
            self._actor_of[action] = name
        return name

    def enabled(self, state: State) -> dict[str, list[tuple[Action, State]]]:
        """The enabled actions of ``state`` and their successors, by rule (actor)."""
        grouped = self._grouped.get(state)
        if grouped is None:
            grouped = {}
            for action, succ in self.successors(state):
                grouped.setdefault(self.actor(action), []).append((action, succ))
            self._grouped[state] = grouped
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
        seen = {state}
        queue = deque([state])
        while queue:
            node = queue.popleft()
            known = memo.get(node)
            if known is True or (known is None and goal(node)):
                memo[state] = True
                return True
            if known is False:
                continue  # a hopeless region: nothing beyond it reaches a goal either
            for action, succ in self.successors(node):
                if succ not in seen and self.admits(via, action):
                    if len(seen) >= self.search_limit:
                        self.stats.inconclusive += 1
                        return None
                    seen.add(succ)
                    queue.append(succ)
        for node in seen:  # the whole region closed under `via` has no goal
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


def _identifier(text: str) -> str:
    name = re.sub(r"\W+", "_", text).strip("_") or "x"
    return name if not name[0].isdigit() else f"_{name}"


def discover_actors(model: Model, limit: int = 20_000) -> list[str]:
    """The actors of the actions met in a breadth-first prefix of ``limit`` states, in order of
    first appearance."""
    actors: dict[str, None] = {}
    init = list(model.init_states())
    seen = set(init)
    queue = deque(init)
    while queue:
        for action, succ in model.successors(queue.popleft()):
            actors.setdefault(str(model.describe_action(action).get("actor", OTHER)), None)
            if succ not in seen and len(seen) < limit:
                seen.add(succ)
                queue.append(succ)
    return list(actors)


def build_corpus(
    model: Model,
    *,
    steps: int,
    seed: int,
    walk: int = 10,
    successors: Callable[[State], Sequence[tuple[Action, State]]] | None = None,
    edges: set[tuple[State, Action, State]] | None = None,
) -> list[list[Step]]:
    """A corpus of start runs: a coverage-guided random walk (go-explore) of about ``steps`` steps.

    Repeatedly pick an already visited state at random and walk ``walk`` random steps from it
    (an actor uniformly, then one of its moves), remembering for every state the shortest run to
    it seen so far. Returns one run per visited state, shortest first (the initial states first).
    It judges nothing: it only gives the Hypothesis runs places to start from. ``edges``, when
    given, collects every ``(state, action, successor)`` the walk took.
    """
    import random

    rng = random.Random(seed)
    next_of = successors if successors is not None else model.successors
    describe = model.describe_action
    actor_of: dict[Action, str] = {}
    moves: dict[State, list[list[tuple[Action, State]]]] = {}
    parent: dict[State, tuple[State, Action] | None] = {}
    depth: dict[State, int] = {}
    archive: list[State] = []
    for s in model.init_states():
        if s not in depth:
            parent[s], depth[s] = None, 0
            archive.append(s)
    done = 0
    while done < steps and archive:
        state = archive[rng.randrange(len(archive))]
        for _ in range(walk):
            groups = moves.get(state)
            if groups is None:
                by: dict[str, list[tuple[Action, State]]] = {}
                for action, succ in next_of(state):
                    if succ != state:
                        actor = actor_of.get(action)
                        if actor is None:
                            actor = actor_of[action] = str(describe(action).get("actor", OTHER))
                        by.setdefault(actor, []).append((action, succ))
                groups = moves[state] = list(by.values())
            if not groups:
                break
            group = groups[rng.randrange(len(groups))]
            action, succ = group[rng.randrange(len(group))]
            done += 1
            if edges is not None:
                edges.add((state, action, succ))
            d = depth[state] + 1
            known = depth.get(succ)
            if known is None:
                archive.append(succ)
            if known is None or d < known:
                depth[succ], parent[succ] = d, (state, action)
            state = succ
    order = sorted(range(len(archive)), key=lambda i: (depth[archive[i]], i))

    def run_to(state: State) -> list[Step]:
        rev: list[Step] = []
        link = parent[state]
        while link is not None:
            rev.append(Step(link[1], state))
            state = link[0]
            link = parent[state]
        rev.append(Step(None, state))
        rev.reverse()
        return rev

    return [run_to(archive[i]) for i in order]


def machine_class(
    model: Model,
    properties: Sequence[Property],
    *,
    actors: Sequence[str] | None = None,
    search_limit: int = 20_000,
    corpus: Sequence[Sequence[Step]] | None = None,
    stats: _Stats | None = None,
) -> type[RuleBasedStateMachine]:
    """A ``RuleBasedStateMachine`` subclass that walks ``model`` and checks ``properties``.

    ``actors`` names the rules (default: ``discover_actors``). With a ``corpus`` (runs from an
    initial state, e.g. ``build_corpus``), each run starts by replaying one of them, drawn by an
    ``@initialize`` rule (it shrinks towards the first, shortest ones). A violated property raises
    ``Violation`` carrying the run so far. ``stats`` (internal) collects what the runs visited.
    """
    actor_list = list(actors) if actors is not None else discover_actors(model)
    record = stats if stats is not None else _Stats()
    oracle = _Oracle(model, actor_list, search_limit, record)
    checked = [p for p in properties if p.kind is not Kind.SOMETIMES]
    sometimes = [p for p in properties if p.kind is Kind.SOMETIMES]
    scoped = [p for p in checked if p.kind is Kind.ALWAYS_POSSIBLE]
    inits = list(model.init_states())
    if not inits:
        raise ValueError("the model has no initial state")

    class ModelMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.state: State = inits[0]
            self.steps: list[Step] = [Step(None, inits[0])]
            self.seen: set[State] = {inits[0]}
            self.scoped_seen: dict[str, set[State]] = {p.name: set() for p in scoped}
            record.examples += 1
            self._visit(inits[0])

        def _visit(self, state: State) -> None:
            record.states.add(state)
            for p in scoped:
                if p.where(state):
                    self.scoped_seen[p.name].add(state)
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
            hypothesis.target(float(len(self.seen)), label="distinct states")
            for name, states in self.scoped_seen.items():
                hypothesis.target(float(len(states)), label=f"{name}: `where` states")

        def __repr__(self) -> str:
            return f"ModelMachine(after {len(self.steps) - 1} steps)"

    def add_rule(actor: str) -> None:
        def enabled(self: ModelMachine) -> bool:
            return actor in oracle.enabled(self.state)

        def step(self: ModelMachine, data: st.DataObject) -> None:
            options = oracle.enabled(self.state)[actor]
            i = data.draw(st.integers(0, len(options) - 1)) if len(options) > 1 else 0
            self.take(*options[i])

        step.__name__ = step.__qualname__ = f"step_{_identifier(actor)}"
        setattr(ModelMachine, step.__name__, precondition(enabled)(rule(data=st.data())(step)))

    for actor in [*dict.fromkeys(actor_list), OTHER]:
        if actor != OTHER or OTHER not in actor_list:
            add_rule(actor)

    def idle(self: ModelMachine) -> None:
        """No action is enabled: the run stays put (Hypothesis needs some rule to run)."""

    ModelMachine.idle = precondition(lambda self: not oracle.enabled(self.state))(rule()(idle))

    starts = [list(run) for run in corpus] if corpus else [[Step(None, s)] for s in inits]
    if len(starts) > 1:

        def choose_start(self: ModelMachine, data: st.DataObject) -> None:
            run = starts[data.draw(st.integers(0, len(starts) - 1))]
            first = run[0].state
            self.state, self.steps, self.seen = first, [Step(None, first)], {first}
            self._visit(first)
            for action, succ in run[1:]:
                self.take(action, succ)

        ModelMachine.choose_start = initialize(data=st.data())(choose_start)

    def add_invariant(prop: Property) -> None:
        def check(self: ModelMachine) -> None:
            reason = oracle.judge(prop, self.state)
            if reason is not None:
                raise Violation(prop, _cut_cycles(self.steps), reason)

        check.__name__ = check.__qualname__ = _identifier(prop.name)
        setattr(ModelMachine, check.__name__, invariant()(check))

    for prop in checked:
        add_invariant(prop)

    ModelMachine.__name__ = ModelMachine.__qualname__ = "ModelMachine"
    return ModelMachine


def _cut_cycles(steps: Sequence[Step]) -> list[Step]:
    """The same run without its cycles: from each state, jump to the last time it was visited."""
    last = {step.state: i for i, step in enumerate(steps)}
    out = [steps[0]]
    i = last[steps[0].state]
    while i < len(steps) - 1:
        nxt = steps[i + 1]
        out.append(nxt)
        i = last[nxt.state]
    if i != last[steps[i].state]:
        raise AssertionError("cycle cutting lost its place")
    return out


def _shortcut(run: Sequence[Step], edges: set[tuple[State, Action, State]]) -> list[Step]:
    """A shortest run from ``run``'s first state to its last over ``edges`` (edges some run took),
    or ``run`` itself when it is no longer than that."""
    start, goal = run[0].state, run[-1].state
    out: dict[State, list[tuple[Action, State]]] = {}
    for src, action, dst in edges:
        out.setdefault(src, []).append((action, dst))
    for targets in out.values():
        targets.sort(key=repr)  # deterministic whatever the set order
    came: dict[State, tuple[State, Action] | None] = {start: None}
    queue = deque([start])
    while queue and goal not in came:
        node = queue.popleft()
        for action, succ in out.get(node, ()):
            if succ not in came:
                came[succ] = (node, action)
                queue.append(succ)
    if goal not in came:
        return list(run)
    rev: list[Step] = []
    node = goal
    link = came[node]
    while link is not None:
        rev.append(Step(link[1], node))
        node = link[0]
        link = came[node]
    rev.append(Step(None, node))
    rev.reverse()
    return rev if len(rev) < len(run) else list(run)


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

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else 0.0


def fuzz(
    model: Model,
    properties: Sequence[Property],
    *,
    max_examples: int = 300,
    steps: int = 50,
    seed: int = 0,
    search_limit: int = 20_000,
    corpus_steps: int = 20_000,
    actors: Sequence[str] | None = None,
) -> FuzzResult:
    """Search for a run of ``model`` that violates one of ``properties``.

    First ``build_corpus`` walks about ``corpus_steps`` steps (0: no corpus, every run starts at
    an initial state); then Hypothesis makes ``max_examples`` runs of at most ``steps`` actions
    after their corpus start. The same ``seed`` gives the same runs and the same result. A
    violation is shrunk by Hypothesis, cut of cycles, then replaced by a shortest run to the same
    state over the edges the search itself took, when that is shorter.
    """
    if max_examples < 1:
        raise ValueError("max_examples must be >= 1")
    if steps < 1:
        raise ValueError("steps must be >= 1")
    started = time.perf_counter()
    stats = _Stats()
    corpus = build_corpus(model, steps=corpus_steps, seed=seed, edges=stats.edges) if corpus_steps > 0 else None
    if corpus:
        stats.states.update(run[-1].state for run in corpus)
        stats.steps += corpus_steps
    machine = machine_class(model, properties, actors=actors, search_limit=search_limit,
                            corpus=corpus, stats=stats)
    hypothesis.seed(seed)(machine)
    config = hypothesis.settings(
        max_examples=max_examples,
        stateful_step_count=steps,
        database=None,
        deadline=None,
        derandomize=False,
        phases=(Phase.generate, Phase.target, Phase.shrink),
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        print_blob=False,
    )
    violation: Violation | None = None
    try:
        run_state_machine_as_test(machine, settings=config)
    except Violation as exc:
        violation = exc
    except HypothesisException:
        raise
    seconds = time.perf_counter() - started
    return FuzzResult(
        found=violation is not None,
        violated=violation.property if violation else None,
        counterexample=_shortcut(violation.steps, stats.edges) if violation else None,
        reason=violation.reason if violation else "",
        examples=stats.examples,
        steps=stats.steps,
        seconds=seconds,
        seed=seed,
        visited_states=stats.states,
        visited_edges=stats.edges,
        witnessed=stats.witnessed,
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
        "coverage": cov.to_json() if cov else None,
    }
