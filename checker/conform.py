"""Conformance: is a recorded trace a behaviour of the model?

Generic like the rest of ``checker/``: it knows the model only through ``Model`` and the trace only
as observations, ``(side, label)`` pairs in the order they were recorded. The suite supplies
``observe(before, action, after)``, the observations one model step makes (on any side; an
unobservable step observes nothing), and turns its own trace files into a :class:`Case`.

The question is trace inclusion with one relaxation per side: each side's observations must come
in the recorded order, but the interleaving of the two sides is free (the recorder's cross-side
order is only as good as its clocks). The search is a breadth-first search over
``(model state, position in each side's observations)``:

* a step that observes nothing is free (internal steps, faults, accepted commands);
* a step that observes something must match, side by side, the next observations of that side;
  the observations of one step match in any order (the model's step is atomic, the real system
  emits them one after the other);
* the trace is accepted once every side's observations are consumed. The model need not be final
  there (a recording ends when the recorder stops); ``Case.can_stop`` may demand more.

When no run matches, the divergence is reported at the furthest progress (most observations
consumed): the observation no run could match next, and what the model could observe there
instead (the observations of the successors of every state reached at that progress).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from checker.spec import Action, Model, State

Observation = tuple[str, Hashable]
"""(side, label): something a recording shows, e.g. ("src", "MIGRATION active")."""

Observe = Callable[[Any, Any, Any], Sequence[Observation]]
"""(state before, action, state after) -> what the step shows, in any order."""

Node = tuple[State, tuple[int, ...]]
"""A search node: a model state and how many observations of each side are matched."""

DEFAULT_MAX_STATES = 2_000_000


@dataclass(frozen=True)
class Case:
    """One recorded trace, ready to check: the model of its configuration and its observations."""

    title: str
    model: Model
    observe: Observe
    observations: Sequence[Observation]
    """Everything the recording shows, in recorded order (sides interleaved)."""
    sides: tuple[str, ...]
    config: str = ""
    """What model it is checked against (one line, for the report)."""
    can_stop: Callable[[Any], bool] | None = None
    """If given, accept only where this holds of the model state (after all observations)."""
    notes: tuple[str, ...] = ()
    """What the suite left out of the recording, and why (one line each)."""
    cache: dict[Any, Any] | None = field(default=None, compare=False, repr=False)
    """Memo of ``model.successors`` with their observations, by state. Cases with the same model
    and ``observe`` may share one (the suite decides); None: a fresh one per search."""


@dataclass(frozen=True)
class Divergence:
    """Where no run of the model could follow the recording any further."""

    side: str
    index: int
    """Position of the unmatched observation in ``side``'s own sequence."""
    expected: Hashable
    consumed: dict[str, int]
    """How many observations of each side some run matched before getting stuck."""
    allowed: tuple[tuple[Observation, ...], ...]
    """What the model could observe next at that progress, one tuple per distinct step."""
    others: tuple[tuple[str, int, Hashable], ...] = ()
    """The other sides' next unmatched observations at that progress (side, index, label)."""


@dataclass
class Result:
    accepted: bool
    states: int
    """Search nodes visited: (model state, positions) pairs."""
    limit_reached: bool = False
    divergence: Divergence | None = None
    run: list[tuple[State, Action, State]] = field(default_factory=list)
    """A matching run, step by step (state before, action, state after), when accepted."""


def _per_side(case: Case) -> dict[str, list[Hashable]]:
    per: dict[str, list[Hashable]] = {s: [] for s in case.sides}
    for side, label in case.observations:
        if side not in per:
            raise ValueError(f"observation on unknown side {side!r} (sides: {', '.join(case.sides)})")
        per[side].append(label)
    return per


def conform(case: Case, max_states: int = DEFAULT_MAX_STATES) -> Result:
    """Search the model for a run showing exactly ``case.observations`` (per side, in order)."""
    expected = _per_side(case)
    sides = case.sides
    ends = tuple(len(expected[s]) for s in sides)
    index_of = {s: k for k, s in enumerate(sides)}
    model = case.model
    observe = case.observe

    parent: dict[Node, tuple[Node, Action] | None] = {}
    queue: deque[Node] = deque()
    for s0 in model.init_states():
        node: Node = (s0, (0,) * len(sides))
        if node not in parent:
            parent[node] = None
            queue.append(node)

    best = -1
    frontier: list[Node] = []
    limit = False
    # Successor observations are needed twice (matching, then the divergence report); memoise
    # per model state, not per node.
    succ_cache: dict[Any, Any] = {} if case.cache is None else case.cache

    def steps(state: State) -> list[tuple[Action, State, tuple[Observation, ...]]]:
        got = succ_cache.get(state)
        if got is None:
            got = [(a, t, tuple(observe(state, a, t))) for a, t in model.successors(state)]
            succ_cache[state] = got
        return got

    def advance(pos: tuple[int, ...], obs: tuple[Observation, ...]) -> tuple[int, ...] | None:
        if not obs:
            return pos
        by_side: dict[str, list[Hashable]] = {}
        for side, label in obs:
            by_side.setdefault(side, []).append(label)
        new = list(pos)
        for side, labels in by_side.items():
            k = index_of.get(side)
            if k is None:
                return None
            i, n = pos[k], len(labels)
            want = expected[side][i:i + n]
            if len(want) < n:
                return None
            if n == 1:
                if want[0] != labels[0]:
                    return None
            elif Counter(want) != Counter(labels):
                return None
            new[k] = i + n
        return tuple(new)

    found: Node | None = None
    while queue:
        node = queue.popleft()
        state, pos = node
        progress = sum(pos)
        if progress > best:
            best, frontier = progress, [node]
        elif progress == best:
            frontier.append(node)
        if pos == ends and (case.can_stop is None or case.can_stop(state)):
            found = node
            break
        for action, nxt, obs in steps(state):
            npos = advance(pos, obs)
            if npos is None:
                continue
            child = (nxt, npos)
            if child in parent:
                continue
            if len(parent) >= max_states:
                limit = True
                queue.clear()
                break
            parent[child] = (node, action)
            queue.append(child)

    if found is not None:
        run: list[tuple[State, Action, State]] = []
        cur: Node = found
        while True:
            link = parent[cur]
            if link is None:
                break
            prev, action = link
            run.append((prev[0], action, cur[0]))
            cur = prev
        run.reverse()
        return Result(True, len(parent), limit, None, run)
    return Result(False, len(parent), limit, _divergence(case, expected, frontier, steps, ends))


def _divergence(
    case: Case,
    expected: dict[str, list[Hashable]],
    frontier: list[Node],
    steps: Callable[[State], list[tuple[Action, State, tuple[Observation, ...]]]],
    ends: tuple[int, ...],
) -> Divergence:
    sides = case.sides
    # Positions reached at the furthest progress; pick the one whose first unmatched observation
    # comes latest in the recording (the run that followed the recording longest in time).
    order = _global_positions(case)
    positions = sorted({pos for _, pos in frontier})

    def first_pending(pos: tuple[int, ...]) -> tuple[int, int]:
        """(global index of the earliest unmatched observation, side number)."""
        cands = [(order[s][pos[k]], k) for k, s in enumerate(sides) if pos[k] < ends[k]]
        return min(cands) if cands else (len(case.observations), 0)

    pos = max(positions, key=first_pending) if positions else (0,) * len(sides)
    _, k = first_pending(pos)
    side = sides[k]
    allowed: set[tuple[Observation, ...]] = set()
    for state, p in frontier:
        if p != pos:
            continue
        for _, _, obs in steps(state):
            if obs:
                allowed.add(tuple(sorted(obs, key=repr)))
    idx = pos[k]
    # A step the model allowed may match the first few observations at idx (in any order) and
    # fail on a later one: point at the first observation no allowed step covers.
    idx += max((_covered(expected[side][idx:], [lb for s, lb in step if s == side]) for step in allowed),
               default=0)
    label: Hashable = expected[side][idx] if idx < len(expected[side]) else None
    others = tuple((s, pos[j], expected[s][pos[j]]) for j, s in enumerate(sides)
                   if j != k and pos[j] < ends[j])
    return Divergence(side, idx, label, {s: pos[j] for j, s in enumerate(sides)},
                      tuple(sorted(allowed, key=lambda step: (all(o[0] != side for o in step), repr(step)))),
                      others)


def _covered(want: Sequence[Hashable], labels: Sequence[Hashable]) -> int:
    """How many of ``want``'s first observations one step observing ``labels`` covers, if it
    fails on one of them (0 if it covers them all: then the trouble is elsewhere)."""
    left = Counter(labels)
    for n, w in enumerate(want[:len(labels)]):
        if left[w] <= 0:
            return n
        left[w] -= 1
    return 0


def _global_positions(case: Case) -> dict[str, list[int]]:
    """For each side, the index in ``case.observations`` of each of its observations (plus one
    past the end)."""
    out: dict[str, list[int]] = {s: [] for s in case.sides}
    for g, (side, _) in enumerate(case.observations):
        out[side].append(g)
    for s in case.sides:
        out[s].append(len(case.observations))
    return out


def format_observation(obs: Observation) -> str:
    return f"{obs[0]} {obs[1]}"


def format_result(case: Case, result: Result) -> str:
    """One line (plus indented detail lines for a divergence)."""
    if result.accepted:
        return f"{case.title}: accepted ({result.states:,} states searched)"
    d = result.divergence
    if d is None:  # pragma: no cover - conform always sets it on rejection
        return f"{case.title}: rejected"
    where = ", ".join(f"{s} {n}/{sum(1 for o in case.observations if o[0] == s)}" for s, n in d.consumed.items())
    if d.expected is None:
        head = f"{case.title}: rejected: every observation matched but the model cannot stop there"
    else:
        head = (f"{case.title}: rejected at {d.side} observation #{d.index + 1} `{d.expected}` "
                f"(matched so far: {where})")
    allowed = "; ".join(" + ".join(format_observation(o) for o in step) for step in d.allowed) or "nothing"
    lines = [head, f"  the model allowed there: {allowed}"]
    for s, i, label in d.others:
        lines.append(f"  also unmatched: {s} observation #{i + 1} `{label}`")
    if result.limit_reached:
        lines.append(f"  (search stopped at the limit of {result.states:,} states: the divergence may be later)")
    return "\n".join(lines)
