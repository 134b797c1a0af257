"""Conformance: is a recorded trace a behaviour of the model?

Generic like the rest of ``checker/``: it knows the model only through ``Model`` and the trace only
as observations, ``(side, label)`` pairs in the order they were recorded. The suite supplies
``observe(before, action, after)``, the observations one model step makes (on any side; an
unobservable step observes nothing), and turns its own trace files into a :class:`Case`.

The question is trace inclusion with one relaxation per side: each side's observations must come
in the recorded order, but the interleaving of the two sides is free (the recorder's cross-side
order is only as good as its clocks). Two more relaxations are the suite's to ask for:

* ``Case.spans``: when an observation was made is known only within an interval (a request whose
  effect happened somewhere between sending it and reading the reply). Within a side, an
  observation must then be matched before another only if its interval ends before the other's
  begins; observations with overlapping intervals may be matched in either order.
* ``Case.optional``: observations a run may also leave unmatched (the recording cannot tell
  whether the step happened at all); matched, they keep their place in the order.
* ``Case.leading``: observations no other observation of their step may wholly precede (a
  request and the events it causes: they may arrive before its reply, never before it was sent).

The search is a breadth-first search over ``(model state, observations matched on each side)``
(a bit set per side):

* a step that observes nothing is free (internal steps, faults, unobserved actions);
* a step that observes something must match, side by side, observations of that side whose
  predecessors are all matched (the next ones, without spans); the observations of one step match
  in any order (the model's step is atomic, the real system emits them one after the other);
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
"""A search node: a model state and, per side, the set of its observations matched (bit i: the
side's i-th observation)."""

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
    spans: Sequence[tuple[float, float]] | None = None
    """Parallel to ``observations``: (earliest, latest) moment each was made, on one clock. On one
    side, an observation precedes another iff its span ends before the other's begins; the
    recorded order must agree (a later observation never wholly precedes an earlier one). None:
    each side in strict recorded order."""
    optional: frozenset[int] = frozenset()
    """Indices into ``observations`` a run may leave unmatched."""
    leading: frozenset[int] = frozenset()
    """Indices into ``observations`` that come first among their step's observations on their side:
    the step may not also match one that wholly precedes it (by ``spans``). For a request: what
    it causes does not arrive before it was sent."""


@dataclass(frozen=True)
class Divergence:
    """Where no run of the model could follow the recording any further."""

    side: str
    index: int
    """Position of the unmatched observation in ``side``'s own sequence (its first unmatched one)."""
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


@dataclass(frozen=True)
class _Side:
    """One side's observations as a partial order: ``preds[j]``, the bit set of the mandatory
    observations that must be matched before ``j``; ``succs[j]``, those ``j`` must precede (kept for
    optional ``j``: it cannot be matched once one of them is)."""

    labels: list[Hashable]
    preds: list[int]
    succs: list[int]
    before: list[int]
    """For a leading ``j``: every observation wholly preceding it (optional ones included)."""
    by_label: dict[Hashable, list[int]]
    done: int
    """The mandatory observations: the side is done once these are matched."""
    optional: int


def _per_side(case: Case) -> dict[str, list[Hashable]]:
    per: dict[str, list[Hashable]] = {s: [] for s in case.sides}
    for side, label in case.observations:
        if side not in per:
            raise ValueError(f"observation on unknown side {side!r} (sides: {', '.join(case.sides)})")
        per[side].append(label)
    return per


def _sides(case: Case) -> dict[str, _Side]:
    if case.spans is not None and len(case.spans) != len(case.observations):
        raise ValueError(f"{len(case.spans)} spans for {len(case.observations)} observations")
    if any(not 0 <= g < len(case.observations) for g in case.optional | case.leading):
        raise ValueError("optional or leading observation index out of range")
    labels = _per_side(case)
    spans: dict[str, list[tuple[float, float]]] = {s: [] for s in case.sides}
    optional: dict[str, int] = dict.fromkeys(case.sides, 0)
    leading: dict[str, int] = dict.fromkeys(case.sides, 0)
    for g, (side, _) in enumerate(case.observations):
        if g in case.optional:
            optional[side] |= 1 << len(spans[side])
        if g in case.leading:
            leading[side] |= 1 << len(spans[side])
        if case.spans is None:
            spans[side].append((float(g), float(g)))
        else:
            lo, hi = case.spans[g]
            if lo > hi:
                raise ValueError(f"observation {g}: span ({lo}, {hi}) ends before it begins")
            spans[side].append((lo, hi))
    out: dict[str, _Side] = {}
    for side in case.sides:
        sp, n, opt = spans[side], len(spans[side]), optional[side]
        preds, succs, before = [0] * n, [0] * n, [0] * n
        for j in range(n):
            for i in range(n):
                if sp[i][1] < sp[j][0]:
                    if i > j:
                        raise ValueError(f"{side} observation #{i + 1} wholly precedes #{j + 1} but was "
                                         "recorded after it")
                    succs[i] |= 1 << j
                    if leading[side] >> j & 1:
                        before[j] |= 1 << i
                    if not opt >> i & 1:
                        preds[j] |= 1 << i
        by_label: dict[Hashable, list[int]] = {}
        for j, label in enumerate(labels[side]):
            by_label.setdefault(label, []).append(j)
        out[side] = _Side(labels[side], preds, succs, before, by_label, ((1 << n) - 1) & ~opt, opt)
    return out


def _extend(side: _Side, done: int, labels: list[Hashable]) -> list[int]:
    """The sets of matched observations after one step observing ``labels`` (in any order) on
    ``side``, from ``done``: usually one, none if the step does not fit."""
    if len(labels) == 1:
        got = []
        for j in side.by_label.get(labels[0], ()):
            if not done >> j & 1 and not side.preds[j] & ~done and not side.succs[j] & done:
                got.append(done | 1 << j)
        return got
    results: set[int] = set()
    chosen: list[int] = []

    def pick(k: int, cur: int) -> None:
        if k == len(labels):
            step = cur & ~done
            if all(not side.preds[j] & ~cur and not (side.optional >> j & 1 and side.succs[j] & done)
                   and not side.before[j] & step for j in chosen):
                results.add(cur)
            return
        for j in side.by_label.get(labels[k], ()):
            if not cur >> j & 1:
                chosen.append(j)
                pick(k + 1, cur | 1 << j)
                chosen.pop()

    pick(0, done)
    return sorted(results)


def _first_unmatched(side: _Side, done: int) -> int:
    """The index of the side's first observation still to match (its length if none)."""
    rest = ~(done | side.optional)
    low = (rest & -rest).bit_length() - 1
    return min(low, len(side.labels))


def conform(case: Case, max_states: int = DEFAULT_MAX_STATES) -> Result:
    """Search the model for a run showing exactly ``case.observations`` (per side, in order)."""
    per = _sides(case)
    sides = case.sides
    side_list = [per[s] for s in sides]
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

    def advance(pos: tuple[int, ...], obs: tuple[Observation, ...]) -> list[tuple[int, ...]]:
        if not obs:
            return [pos]
        by_side: dict[str, list[Hashable]] = {}
        for side, label in obs:
            by_side.setdefault(side, []).append(label)
        options: list[tuple[int, ...]] = [pos]
        for side, labels in by_side.items():
            k = index_of.get(side)
            if k is None:
                return []
            nxt = _extend(side_list[k], pos[k], labels)
            if not nxt:
                return []
            options = [(*p[:k], m, *p[k + 1:]) for p in options for m in nxt]
        return options

    def finished(pos: tuple[int, ...]) -> bool:
        return all(m & sd.done == sd.done for m, sd in zip(pos, side_list, strict=True))

    found: Node | None = None
    while queue:
        node = queue.popleft()
        state, pos = node
        progress = sum(m.bit_count() for m in pos)
        if progress > best:
            best, frontier = progress, [node]
        elif progress == best:
            frontier.append(node)
        if finished(pos) and (case.can_stop is None or case.can_stop(state)):
            found = node
            break
        for action, nxt, obs in steps(state):
            for npos in advance(pos, obs):
                child = (nxt, npos)
                if child in parent:
                    continue
                if len(parent) >= max_states:
                    limit = True
                    queue.clear()
                    break
                parent[child] = (node, action)
                queue.append(child)
            if limit:
                break

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
    return Result(False, len(parent), limit, _divergence(case, per, frontier, steps))


def _divergence(
    case: Case,
    per: dict[str, _Side],
    frontier: list[Node],
    steps: Callable[[State], list[tuple[Action, State, tuple[Observation, ...]]]],
) -> Divergence:
    sides = case.sides
    # Positions reached at the furthest progress; pick the one whose first unmatched observation
    # comes latest in the recording (the run that followed the recording longest in time).
    order = _global_positions(case)
    positions = sorted({pos for _, pos in frontier})

    def first_pending(pos: tuple[int, ...]) -> tuple[int, int]:
        """(global index of the earliest unmatched observation, side number)."""
        cands = [(order[s][i], k) for k, s in enumerate(sides)
                 if (i := _first_unmatched(per[s], pos[k])) < len(per[s].labels)]
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
    labels = per[side].labels
    idx = _first_unmatched(per[side], pos[k])
    # A step the model allowed may match the first few observations at idx (in any order) and
    # fail on a later one: point at the first observation no allowed step covers.
    idx += max((_covered(labels[idx:], [lb for s, lb in step if s == side]) for step in allowed), default=0)
    label: Hashable = labels[idx] if idx < len(labels) else None
    others = []
    for j, s in enumerate(sides):
        i = _first_unmatched(per[s], pos[j])
        if j != k and i < len(per[s].labels):
            others.append((s, i, per[s].labels[i]))
    return Divergence(side, idx, label, {s: pos[j].bit_count() for j, s in enumerate(sides)},
                      tuple(sorted(allowed, key=lambda step: (all(o[0] != side for o in step), repr(step)))),
                      tuple(others))


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
