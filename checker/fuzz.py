"""Hypothesis stateful search of a model's interleavings: the second driver over the same model.

``explore`` enumerates every reachable state; ``fuzz`` walks the same ``Model.successors`` at
random with a Hypothesis ``RuleBasedStateMachine`` (public API only: every choice is an
``st.integers`` draw through ``st.data()``) and shortens what it finds. Nothing about the protocol
is restated here: the machine is built from the model and the properties alone, and each state is
judged by ``checker.kinds`` (the same meaning of each property kind as the exhaustive judges).

- The *alphabet* is the set of action labels (``"actor: action"``, as ``migmodel simulate
  --script`` replays them), learnt by a breadth-first search bounded by ``alphabet_limit``. One
  rule takes one step: it draws a label (an index into the fixed alphabet, so a label keeps its
  meaning when Hypothesis deletes other steps), else one of the allowed labels. One rule rather
  than one per label because Hypothesis evaluates every rule's precondition at every step.
- *Swarm subsets, per walk*: each walk defers every label with a drawn probability; a deferred
  label is taken only where nothing else is enabled, so a walk is never killed by its subset
  (Hypothesis's own swarm rejects such runs, which makes deep races rarer).
- *Walks*: at a dead end a run walks again from the initial state instead of standing still.
- *Environment* labels (actions some property's ``via`` refuses: faults) are taken by one run in
  ``ENV_ODDS``; every state is judged with its environment lookahead instead (``LOOKAHEAD``: each
  state one fault away, and each state one more system step after that), so a fault is not spent
  long before the narrow windows, and a window that a fault opens and the next step closes (a
  process that exits once its connection is yanked) is judged from the state before it.
- Reachability (ALWAYS_POSSIBLE, EVENTUALLY) is a bounded, memoised breadth-first search; a search
  that hits its bound is inconclusive, never a violation (``FuzzResult.inconclusive``).
- Choices are drawn far above any constant Hypothesis injects into draws. A seed gives the same
  runs (no example database) for one Hypothesis version and one set of *local* modules: Hypothesis
  also steers generation with constants it reads from modules that are not installed in
  site-packages (an editable install of this project is such a module), so editing the source can
  change what a seed does; it does not change how likely a run is to find something.

Hypothesis's shrinker is off by default: it minimises the choice sequence, not the walk, and was
slower and no shorter than ``shorten``, which cuts cycles, drops steps and splices in shortcuts
found by small breadth-first searches, then looks for a nearer violation by a bounded
breadth-first search from the initial state, and checks that the result is a real path of the
model ending in a violating state. Measurements: ``benchmarks/bench_fuzz.py``.
"""

from __future__ import annotations

import itertools
import random
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
    rule,
    run_state_machine_as_test,
)

from checker.analysis import steps_to_json
from checker.explore import Exploration, Step
from checker.kinds import meaning
from checker.simulate import action_text
from checker.spec import Action, Model, Property, State

__all__ = (
    "Alphabet",
    "Coverage",
    "FuzzResult",
    "Violation",
    "coverage",
    "cut_cycles",
    "discover_alphabet",
    "fuzz",
    "machine_class",
    "replay_script",
    "result_to_json",
    "shorten",
)

ALPHABET_LIMIT = 50_000
"""States the breadth-first search that learns the action labels may visit."""

_CACHE_LIMIT = 500_000
"""States whose successors are remembered (the cache is cleared when it is full)."""

ENV_ODDS = 16
"""One run in ``ENV_ODDS`` may take environment actions (faults) itself; every run judges the states
they lead to (``LOOKAHEAD``)."""

SWARM_DEFER = (0.25, 0.35, 0.45)
"""Each walk defers every label with probability ``p``, drawn from these (the subset comes from one
drawn key). A deferred label is taken only in a state where no other allowed label is enabled, so
a walk never dies of its subset (unlike Hypothesis's own swarm, which rejects such a run)."""

LOOKAHEAD = 2
"""Environment lookahead: 1 judges every state one environment step away from each state of a run;
2 also every state one system step after that (needed where the violating state is one step past
the fault: see ``benchmarks/bench_fuzz.py``)."""

RESTART = True
"""A run that reaches a state where it may take no step walks again from the initial state (so its
remaining steps are not spent standing still); a violation is reported with the current walk."""

SHORTCUT_DEPTH = 5
"""Depth of the breadth-first searches that shorten a counterexample (see ``shorten``)."""

SHORTCUT_STATES = 5_000
"""States each of those searches may visit."""

SHORTEN_BUDGET = 500_000
"""States all the searches and replays of one ``shorten`` may visit together."""


SHORTEST_STATES = 20_000
"""States the last breadth-first search of ``shorten`` (from the initial state, for a violating
state closer than the end of the shortened path) may visit."""


class Violation(AssertionError):
    """A property failed on the last state of ``steps``."""

    def __init__(self, prop: Property, steps: Sequence[Step], reason: str) -> None:
        self.property = prop
        self.steps = list(steps)
        self.reason = reason
        super().__init__(f"{prop.name}: {reason} (after {len(self.steps) - 1} steps)")


@dataclass(frozen=True)
class Alphabet:
    """The action labels a machine can choose from, learnt by a bounded breadth-first search."""

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
    walks: int = 0
    inconclusive: int = 0
    started: float = field(default_factory=time.perf_counter)
    cpu_started: float = field(default_factory=time.process_time)
    first_found: float | None = None
    first_found_cpu: float | None = None
    examples_at_find: int = 0
    steps_at_find: int = 0
    states: set[State] = field(default_factory=set)
    edges: set[tuple[State, Action, State]] = field(default_factory=set)
    witnessed: set[str] = field(default_factory=set)


Moves = dict[str, list[tuple[Action, State]]]
Verdict = tuple[str, tuple[Step, ...]] | None
"""Why a property fails at a state or just after it: the reason and the extra (lookahead) steps."""


class _Oracle:
    """What all runs share: successors grouped by label, memoised bounded reachability, and the
    verdict of each property at each state (with its environment lookahead)."""

    def __init__(self, model: Model, search_limit: int, stats: _Stats,
                 environment: frozenset[str] = frozenset(), lookahead: int | None = None) -> None:
        self.model = model
        self.stats = stats
        self.search_limit = search_limit
        self.environment = environment
        self.lookahead = LOOKAHEAD if lookahead is None else lookahead
        self._moves: dict[State, Moves] = {}
        self._successors: dict[State, Sequence[tuple[Action, State]]] = {}
        self._label: dict[Action, str] = {}
        self._via: dict[tuple[Callable[[Any], bool], Action], bool] = {}
        # (goal, via) -> state -> can reach a goal
        self._reach: dict[tuple[Callable[[Any], bool], Callable[[Any], bool]], dict[State, bool]] = {}
        self._verdicts: dict[tuple[int, State], Verdict] = {}

    def successors(self, state: State) -> Sequence[tuple[Action, State]]:
        found = self._successors.get(state)
        if found is None:
            if len(self._successors) >= _CACHE_LIMIT:
                self._successors.clear()
                self._moves.clear()
                self._verdicts.clear()
            found = self._successors[state] = tuple(self.model.successors(state))
        return found

    def label(self, action: Action) -> str:
        label = self._label.get(action)
        if label is None:
            label = self._label[action] = action_text(self.model, action)
        return label

    def moves(self, state: State) -> Moves:
        """The actions of ``state`` that lead to another state, with their successors, by label."""
        grouped = self._moves.get(state)
        if grouped is None:
            grouped = {}
            for action, succ in self.successors(state):
                if succ != state:
                    grouped.setdefault(self.label(action), []).append((action, succ))
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

    def is_final(self, state: State) -> bool:
        return bool(self.model.is_final(state))

    def judge(self, prop: Property, state: State) -> str | None:
        """Why ``prop`` fails in ``state``, or ``None`` (holds, or the search was inconclusive):
        the kind's meaning at one state (``checker.kinds``)."""
        return meaning(prop.kind).at_state(self, prop, state)

    def verdict(self, index: int, prop: Property, state: State) -> Verdict:
        """``judge`` at ``state``, else at the states of its environment lookahead (memoised;
        ``index`` names ``prop``)."""
        key = (index, state)
        if key in self._verdicts:
            return self._verdicts[key]
        found: Verdict = None
        reason = self.judge(prop, state)
        if reason is not None:
            found = (reason, ())
        elif self.environment and self.lookahead >= 1:
            env = [(a, s) for label, options in self.moves(state).items() if label in self.environment
                   for a, s in options]
            for action, succ in env:
                reason = self.judge(prop, succ)
                if reason is not None:
                    found = (reason, (Step(action, succ),))
                    break
            if found is None and self.lookahead >= 2:
                for action, succ in env:
                    for label, options in self.moves(succ).items():
                        if label in self.environment:
                            continue
                        for action2, succ2 in options:
                            reason = self.judge(prop, succ2)
                            if reason is not None:
                                found = (reason, (Step(action, succ), Step(action2, succ2)))
                                break
                        if found is not None:
                            break
                    if found is not None:
                        break
        self._verdicts[key] = found
        return found


_OFFSET = 2**80
"""Every choice is drawn as an integer in ``[_OFFSET, _OFFSET + n)``: no constant Hypothesis knows
lies there, so its constant injection (integers collected from whatever local modules are loaded)
never replaces one of our choices (see the module doc for what a seed does and does not fix)."""

_CHOICE_BITS = 6
"""Wider choices are drawn in pieces of this many bits: ``st.integers`` favours the ends of a range
wider than 128 values, which would make some swarm keys far likelier than others."""

_RANGES: dict[int, st.SearchStrategy[int]] = {}


def _draw(data: st.DataObject, n: int) -> int:
    """A choice in ``range(n)``, shrinking towards 0; uniform up to 128 values (wider ranges favour
    their ends, as ``st.integers`` does)."""
    strategy = _RANGES.get(n)
    if strategy is None:
        strategy = _RANGES[n] = st.integers(_OFFSET, _OFFSET + n - 1)
    return data.draw(strategy) - _OFFSET


def _draw_bits(data: st.DataObject, bits: int) -> int:
    """A uniform choice in ``range(2 ** bits)``, drawn ``_CHOICE_BITS`` bits at a time."""
    value = 0
    for _ in range(0, bits, _CHOICE_BITS):
        value = (value << _CHOICE_BITS) | _draw(data, 1 << _CHOICE_BITS)
    return value


def environment_labels(oracle: _Oracle, alphabet: Alphabet, properties: Sequence[Property]) -> frozenset[str]:
    """Labels with an action that some property's ``via`` refuses (faults)."""
    vias = list(dict.fromkeys(p.via for p in properties if "via" in meaning(p.kind).reads))
    return frozenset(
        label for label in alphabet.labels
        if any(not oracle.admits(via, a) for via in vias for a in alphabet.actions.get(label, ()))
    )


def machine_class(
    model: Model,
    properties: Sequence[Property],
    *,
    alphabet: Alphabet | None = None,
    search_limit: int = 20_000,
    stats: _Stats | None = None,
    oracle: _Oracle | None = None,
) -> type[RuleBasedStateMachine]:
    """A ``RuleBasedStateMachine`` subclass that walks ``model`` from its first initial state and
    checks ``properties`` (see the module doc). ``alphabet`` defaults to ``discover_alphabet(model)``;
    ``stats`` and ``oracle`` (internal) collect what runs visited and share the memoised searches.
    A violated property raises ``Violation`` carrying the run (plus the lookahead steps)."""
    found = alphabet if alphabet is not None else discover_alphabet(model)
    record = stats if stats is not None else _Stats()
    if oracle is None:
        oracle = _Oracle(model, search_limit, record)
        oracle.environment = environment_labels(oracle, found, properties)
    shared: _Oracle = oracle
    environment = shared.environment
    checked = [p for p in properties if meaning(p.kind).falsifiable]
    sometimes = [(p, w) for p in properties if (w := meaning(p.kind).witness) is not None]
    inits = list(model.init_states())
    if not inits:
        raise ValueError("the model has no initial state")
    first = inits[0]
    labels = found.labels
    swarmable = [label for label in labels if label not in environment]
    order = {label: i for i, label in enumerate(labels)}

    class ModelMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.state: State = first
            self.steps: list[Step] = [Step(None, first)]
            self.seen: set[State] = {first}
            self.environment = False
            self.deferred: frozenset[str] = frozenset()
            self._allowed: dict[State, tuple[str, ...]] = {}
            record.examples += 1
            record.walks += 1
            self._visit(first)

        def _visit(self, state: State) -> None:
            record.states.add(state)
            for p, witness in sometimes:
                if p.name not in record.witnessed and witness(p, state):
                    record.witnessed.add(p.name)

        def allowed(self) -> tuple[str, ...]:
            """The labels this run may take in its current state, in alphabet order."""
            found = self._allowed.get(self.state)
            if found is None:
                enabled = [label for label in shared.moves(self.state)
                           if label in order and (self.environment or label not in environment)]
                preferred = [label for label in enabled if label not in self.deferred]
                found = self._allowed[self.state] = tuple(sorted(preferred or enabled, key=order.__getitem__))
            return found

        def take(self, action: Action, succ: State) -> None:
            record.steps += 1
            record.edges.add((self.state, action, succ))
            self.state = succ
            self.steps.append(Step(action, succ))
            if succ not in self.seen:
                self.seen.add(succ)
                self._visit(succ)

        def new_walk(self, data: st.DataObject) -> None:
            """Draw the labels this walk defers (its swarm subset)."""
            rng = random.Random(_draw_bits(data, 24))
            p = rng.choice(SWARM_DEFER)
            self.deferred = frozenset(label for label in swarmable if rng.random() < p)
            self._allowed.clear()

        @initialize(data=st.data())
        def setup(self, data: st.DataObject) -> None:
            if environment:
                self.environment = _draw(data, ENV_ODDS) == ENV_ODDS - 1
            self.new_walk(data)

        @rule(data=st.data())
        def step(self, data: st.DataObject) -> None:
            allowed = self.allowed()
            if not allowed:
                if RESTART and self.state != first:  # a dead end: walk again from the start
                    self.state = first
                    self.steps = [Step(None, first)]
                    record.walks += 1
                    self.new_walk(data)
                return
            label = labels[_draw(data, len(labels))]
            if label not in allowed:
                label = allowed[_draw(data, len(allowed))] if len(allowed) > 1 else allowed[0]
            options = shared.moves(self.state)[label]
            self.take(*options[_draw(data, len(options))] if len(options) > 1 else options[0])

        @invariant()
        def check(self) -> None:
            for index, prop in enumerate(checked):
                verdict = shared.verdict(index, prop, self.state)
                if verdict is not None:
                    if record.first_found is None:
                        record.first_found = time.perf_counter()
                        record.first_found_cpu = time.process_time()
                        record.examples_at_find = record.examples
                        record.steps_at_find = record.steps
                    reason, extra = verdict
                    raise Violation(prop, [*self.steps, *extra], reason)

        def __repr__(self) -> str:
            return f"ModelMachine(after {len(self.steps) - 1} steps)"

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


class _Budget:
    """States the searches of ``shorten`` may still visit."""

    def __init__(self, states: int) -> None:
        self.left = states

    def spend(self, states: int = 1) -> bool:
        self.left -= states
        return self.left >= 0


def _replay(oracle: _Oracle, prop: Property, start: list[Step], actions: Sequence[Action],
            budget: _Budget) -> list[Step] | None:
    """``start`` continued by ``actions`` (each matched by value, else by label), cut at the first
    state that violates ``prop``; ``None`` if an action is not enabled or no state violates it."""
    out = list(start)
    state = out[-1].state
    for action in actions:
        if not budget.spend():
            return None
        options = [(a, s) for a, s in oracle.successors(state) if s != state]
        nxt = next((o for o in options if o[0] == action), None)
        if nxt is None:
            label = oracle.label(action)
            nxt = next((o for o in options if oracle.label(o[0]) == label), None)
            if nxt is None:
                return None
        out.append(Step(*nxt))
        state = nxt[1]
        if oracle.judge(prop, state) is not None:
            return out
    return None


def _drop(oracle: _Oracle, prop: Property, path: list[Step], budget: _Budget) -> list[Step] | None:
    """A shorter counterexample: ``path`` without one step, else without two (any two), the rest
    replayed."""
    for i in range(1, len(path)):
        found = _replay(oracle, prop, path[:i], [s.action for s in path[i + 1:]], budget)
        if found is not None:
            return cut_cycles(found)
    for i in range(1, len(path)):
        for j in range(i + 1, len(path)):
            rest = [s.action for k, s in enumerate(path[i + 1:], i + 1) if k != j]
            found = _replay(oracle, prop, path[:i], rest, budget)
            if found is not None:
                return cut_cycles(found)
    return None


def _shortcut(oracle: _Oracle, prop: Property, path: list[Step], depth: int, cap: int,
              budget: _Budget) -> list[Step] | None:
    """A shorter counterexample by a bounded breadth-first search from each state of ``path``: to
    a later state of the path in fewer steps than the path takes, or to any violating state."""
    position = {step.state: i for i, step in enumerate(path)}
    end = len(path) - 1
    for i, step in enumerate(path[:-1]):
        parent: dict[State, tuple[State, Action] | None] = {step.state: None}
        frontier = [step.state]
        best: tuple[int, State, int] | None = None  # (gain, reached, its index on the path or -1)
        for d in range(1, min(depth, end - i) + 1):
            nxt: list[State] = []
            for node in frontier:
                for action, succ in oracle.successors(node):
                    if succ in parent or len(parent) >= cap or not budget.spend():
                        continue
                    parent[succ] = (node, action)
                    nxt.append(succ)
                    j = position.get(succ, -1)
                    gain = j - i - d if j > i else -1
                    if gain < end - i - d and oracle.judge(prop, succ) is not None:
                        gain, j = end - i - d, -1
                    if gain > 0 and (best is None or gain > best[0]):
                        best = (gain, succ, j)
            frontier = nxt
        if best is not None:
            _, reached, j = best
            middle: list[Step] = []
            node = reached
            while True:
                link = parent[node]
                if link is None:
                    break
                middle.append(Step(link[1], node))
                node = link[0]
            middle.reverse()
            tail = path[j + 1:] if j >= 0 else []
            return cut_cycles([*path[:i + 1], *middle, *tail])
    return None


def _nearer(oracle: _Oracle, prop: Property, path: list[Step], cap: int) -> list[Step] | None:
    """A violating state fewer steps from the initial state than the end of ``path``, by a
    breadth-first search of at most ``cap`` states (so the shortest such run, if the search reaches
    it); ``None`` if there is none within the bound. The local moves of ``shorten`` keep to the
    violation the run found; this finds another one when it is nearer."""
    start = path[0].state
    parent: dict[State, tuple[State, Action] | None] = {start: None}
    frontier = [start]
    for _ in range(len(path) - 2):
        nxt: list[State] = []
        for node in frontier:
            for action, succ in oracle.successors(node):
                if succ in parent:
                    continue
                if len(parent) >= cap:
                    return None
                parent[succ] = (node, action)
                if oracle.judge(prop, succ) is not None:
                    steps: list[Step] = []
                    at = succ
                    while (link := parent[at]) is not None:
                        steps.append(Step(link[1], at))
                        at = link[0]
                    return [path[0], *reversed(steps)]
                nxt.append(succ)
        frontier = nxt
    return None


def _violates_at_end(oracle: _Oracle, prop: Property, path: Sequence[Step]) -> bool:
    """``path`` starts at an initial state, each step is a successor of the one before, and its
    last state violates ``prop``."""
    if path[0].action is not None or path[0].state not in oracle.model.init_states():
        return False
    for before, step in itertools.pairwise(path):
        if (step.action, step.state) not in oracle.successors(before.state):
            return False
    return oracle.judge(prop, path[-1].state) is not None


def shorten(oracle: _Oracle, prop: Property, steps: Sequence[Step], *, depth: int = SHORTCUT_DEPTH,
            cap: int = SHORTCUT_STATES, budget: int = SHORTEN_BUDGET,
            nearest: int = SHORTEST_STATES) -> list[Step]:
    """A counterexample no longer than ``steps`` (which must end in a state violating ``prop``):
    cycles cut and cut at the first violating state, then, to a fixpoint, one or two steps dropped
    (the rest replayed, stopping at the first violating state) and segments replaced by shortcuts
    that breadth-first searches of ``depth`` steps and ``cap`` states find from each state of the
    path. All searches together visit at most ``budget`` states. Last, a breadth-first search of at
    most ``nearest`` states from the initial state looks for a nearer violating state (another
    violation than the run's; 0 skips it). The result is checked: a path of the model from an
    initial state whose last state violates ``prop``."""
    path = cut_cycles(steps)
    for i, step in enumerate(path):  # the first violating state is enough
        if oracle.judge(prop, step.state) is not None:
            path = path[:i + 1]
            break
    left = _Budget(budget)
    while left.left > 0:
        better = _drop(oracle, prop, path, left) or _shortcut(oracle, prop, path, depth, cap, left)
        if better is None or len(better) >= len(path) or not _violates_at_end(oracle, prop, better):
            break
        path = better
    nearer = _nearer(oracle, prop, path, nearest) if nearest > 0 else None
    if nearer is not None and _violates_at_end(oracle, prop, nearer):
        path = nearer
    if not _violates_at_end(oracle, prop, path):  # never expected: keep what the run found
        return list(steps)
    return path


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
    cpu_seconds_to_find: float | None = None
    """The same in CPU time of this process (what a loaded machine does not inflate)."""
    found_length: int | None = None
    """Length of the failing run as Hypothesis reported it (shrunk by Hypothesis only with
    ``hypothesis_shrink``), before ``shorten``."""
    inconclusive: int = 0
    """Reachability searches that hit ``search_limit`` (counted as no violation)."""
    alphabet: Alphabet | None = None
    examples_to_find: int | None = None
    """Runs started up to and including the first failing one."""
    steps_to_find: int | None = None
    """Steps taken up to the first failing run."""
    walks: int = 0
    """Walks from the initial state (a run starts one, and one more at each dead end)."""

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
    steps: int = 60,
    seed: int = 0,
    search_limit: int = 20_000,
    alphabet_limit: int = ALPHABET_LIMIT,
    shrink: bool = True,
    hypothesis_shrink: bool = False,
) -> FuzzResult:
    """Search for a run of ``model`` that violates one of ``properties``.

    Hypothesis makes ``max_examples`` runs of ``steps`` steps each from the first initial state.
    The same ``seed`` gives the same runs and the same result. A violation is shrunk by Hypothesis
    only if ``hypothesis_shrink`` (slow, and no shorter in the measurements: see the module doc),
    then, if ``shrink``, by ``shorten``.
    """
    if max_examples < 1:
        raise ValueError("max_examples must be >= 1")
    if steps < 1:
        raise ValueError("steps must be >= 1")
    stats = _Stats()
    alphabet = discover_alphabet(model, alphabet_limit)
    oracle = _Oracle(model, search_limit, stats)
    oracle.environment = environment_labels(oracle, alphabet, properties)
    machine = machine_class(model, properties, alphabet=alphabet, search_limit=search_limit,
                            stats=stats, oracle=oracle)
    hypothesis.seed(seed)(machine)
    violation: Violation | None = None
    try:
        run_state_machine_as_test(machine, settings=settings_for(max_examples, steps, shrink=hypothesis_shrink))
    except Violation as exc:
        violation = exc
    counterexample: list[Step] | None = None
    reason = ""
    if violation is not None:
        counterexample = (shorten(oracle, violation.property, violation.steps) if shrink
                          else cut_cycles(violation.steps))
        reason = oracle.judge(violation.property, counterexample[-1].state) or violation.reason
    seconds = time.perf_counter() - stats.started
    return FuzzResult(
        found=violation is not None,
        violated=violation.property if violation else None,
        counterexample=counterexample,
        reason=reason,
        examples=stats.examples,
        steps=stats.steps,
        seconds=seconds,
        seed=seed,
        visited_states=stats.states,
        visited_edges=stats.edges,
        witnessed=stats.witnessed,
        seconds_to_find=None if stats.first_found is None else stats.first_found - stats.started,
        cpu_seconds_to_find=None if stats.first_found_cpu is None else stats.first_found_cpu - stats.cpu_started,
        found_length=len(violation.steps) - 1 if violation else None,
        inconclusive=stats.inconclusive,
        alphabet=alphabet,
        examples_to_find=stats.examples_at_find if stats.first_found is not None else None,
        steps_to_find=stats.steps_at_find if stats.first_found is not None else None,
        walks=stats.walks,
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

    def number(state: State) -> int | None:
        try:
            return exploration.index_of(state)
        except KeyError:
            return None

    numbers = {s: number(s) for s in result.visited_states}
    states = sum(1 for n in numbers.values() if n is not None)
    outgoing: dict[int, set[tuple[Action, int]]] = {}
    edges = 0
    for src, act, dst in result.visited_edges:
        s = numbers[src] if src in numbers else number(src)
        d = numbers[dst] if dst in numbers else number(dst)
        if s is None or d is None:
            continue
        known = outgoing.get(s)
        if known is None:
            known = outgoing[s] = set(exploration.successors_of(s))
        edges += (act, d) in known
    edges_total = sum(len(exploration.successors_of(i)) for i in range(exploration.state_count))
    return Coverage(states, edges, exploration.state_count, edges_total)


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
        "cpu_seconds_to_find": None if result.cpu_seconds_to_find is None else round(result.cpu_seconds_to_find, 3),
        "examples_to_find": result.examples_to_find,
        "steps_per_second": round(result.steps_per_second),
        "walks": result.walks,
        "found_length": result.found_length,
        "inconclusive": result.inconclusive,
        "coverage": cov.to_json() if cov else None,
    }
