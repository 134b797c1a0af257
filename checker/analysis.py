"""Judging properties over an explored graph.

Every judge works on the compact arrays of an ``Exploration`` and composes whole-graph algorithms
(numpy masks, strong components and breadth-first search of ``checker.digraph``) instead of
looping over states in Python, so judging stays cheap next to the search even at millions of
states. Predicates are evaluated once per state and ``via`` filters once per distinct action, and
both are cached for the duration of one ``check`` call, so properties sharing a predicate share
the work.

Counterexamples are shortest: states are numbered in BFS order, so the lowest-numbered offending
state is one nearest to an initial state, and its BFS parent chain is a shortest path to it.

What each kind means, and the note its verdict carries, is defined once in ``checker.kinds``
(shared with the fuzz oracle); this module supplies the graph primitives and turns a kind's
judgement into a ``Verdict`` with a shortest path.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from checker.digraph import Predecessors, strong_components
from checker.explore import Exploration, IntArray, Step, explore
from checker.kinds import PropertyError, meaning, validate
from checker.reads import evaluate_by_reads
from checker.spec import Model, Property

__all__ = (
    "PropertyError",
    "Verdict",
    "check",
    "judge",
    "shortest_run",
    "steps_to_json",
    "verdict_to_json",
)

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Verdict:
    """The outcome of judging one property.

    ``counterexample`` is a shortest path to a violating state (ALWAYS, ALWAYS_POSSIBLE,
    EVENTUALLY, DEADLOCK_FREE when violated); ``witness`` a shortest path to a satisfying state
    (SOMETIMES when it holds). For an EVENTUALLY violation, ``loop`` continues the counterexample
    with a shortest run of ``via`` steps from its last state back to that state (one step for a
    self-loop; empty for a dead state), so the two together show a run that never reaches the goal.
    ``note`` says in one line what was found.
    """

    property: Property
    holds: bool
    counterexample: list[Step] | None = None
    witness: list[Step] | None = None
    note: str = ""
    loop: list[Step] | None = None


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


class _Judge:
    """Judges properties over one exploration, caching state and action masks by function."""

    def __init__(self, exploration: Exploration) -> None:
        self.ex = exploration
        self.n = exploration.state_count
        self.edge_src = exploration.edge_src
        self.edge_dst = exploration.edge_dst
        self._state_masks: dict[Callable[[Any], bool], BoolArray] = {}
        self._action_masks: dict[Callable[[Any], bool], BoolArray] = {}
        self._predecessors: Predecessors | None = None

    # -- masks -------------------------------------------------------------------------------

    def state_mask(self, fn: Callable[[Any], bool], prop: Property, role: str) -> BoolArray:
        """``fn`` applied to every state, in state order (cached per function)."""
        mask = self._state_masks.get(fn)
        if mask is None:
            mask = self._by_reads(fn)
            if mask is None:
                mask = self._evaluate(fn, self.ex.states, prop, role, "state")
            self._state_masks[fn] = mask
        return mask

    def _by_reads(self, fn: Callable[[Any], object]) -> BoolArray | None:
        """``fn`` over the packed states of a compact search, once per distinct run of ``fn``
        (``checker.reads``); ``None`` when that does not apply and every state must be asked."""
        ex = self.ex
        if ex.codec is None:
            return None
        splits = ex._graph_cache.setdefault("splits", {})
        return evaluate_by_reads(fn, ex.codec.fields, ex.codec.values, ex.column,  # type: ignore[arg-type]
                                 ex.state_count, splits)

    def edge_mask(self, via: Callable[[Any], bool], prop: Property) -> BoolArray:
        """Which edges ``via`` admits: ``via`` is evaluated once per distinct action."""
        by_action = self._action_masks.get(via)
        if by_action is None:
            by_action = self._evaluate(via, self.ex.actions, prop, "via", "action")
            self._action_masks[via] = by_action
        if by_action.all():
            return np.ones(self.ex.edge_count, dtype=np.bool_)
        result: BoolArray = by_action[self.ex.edge_act]
        return result

    @staticmethod
    def _evaluate(fn: Callable[[Any], bool], values: Sequence[Any], prop: Property, role: str, what: str) -> BoolArray:
        try:
            return np.fromiter(map(bool, map(fn, values)), dtype=np.bool_, count=len(values))
        except Exception as exc:
            for i, value in enumerate(values):
                try:
                    fn(value)
                except Exception:
                    raise PropertyError(
                        f"property {prop.name!r}: `{role}` raised {type(exc).__name__} on {what} {i}: {value!r}"
                    ) from exc
            raise

    def final_mask(self) -> BoolArray:
        """``Model.is_final`` for every state."""
        fn = self.ex.model.is_final
        mask = self._state_masks.get(fn)
        if mask is None:
            mask = self._by_reads(fn)
            if mask is None:
                mask = np.fromiter(map(bool, map(fn, self.ex.states)), dtype=np.bool_, count=self.n)
            self._state_masks[fn] = mask
        return mask

    # -- graph algorithms ----------------------------------------------------------------------

    def reverse_reachable(self, goal: BoolArray, edges: BoolArray) -> BoolArray:
        """States from which some goal state is reachable using only the edges in ``edges``
        (one backward search from all goal states at once)."""
        if self._predecessors is None:
            self._predecessors = Predecessors(self.n, self.ex.edge_src, self.ex.edge_dst)
        return self._predecessors.reachable(goal, edges)

    def shortest_loop(self, entry: int, edges: BoolArray) -> list[Step]:
        """A shortest run of ``edges`` from ``entry`` back to ``entry`` (empty if there is none).

        Plain BFS over the CSR rows; it is only run inside one bottom component, which the run
        cannot leave, so its cost is bounded by that component.
        """
        ex = self.ex
        start, dst, act = ex.edge_start, ex.edge_dst, ex.edge_act
        came_by: dict[int, int] = {}
        queue: deque[int] = deque([entry])
        closing = -1
        while queue and closing < 0:
            node = queue.popleft()
            for e in range(int(start[node]), int(start[node + 1])):
                if not edges[e]:
                    continue
                succ = int(dst[e])
                if succ == entry:
                    closing = e
                    break
                if succ not in came_by:
                    came_by[succ] = e
                    queue.append(succ)
        if closing < 0:
            return []
        chain = [closing]
        node = int(ex.edge_src[closing])
        while node != entry:
            e = came_by[node]
            chain.append(e)
            node = int(ex.edge_src[e])
        chain.reverse()
        return [Step(ex.actions[act[e]], ex.state(int(dst[e]))) for e in chain]

    def bottom_components(self, edges: BoolArray) -> tuple[IntArray, BoolArray]:
        """Strongly connected components over ``edges``: each state's label, and which are bottom."""
        ex, n = self.ex, self.n
        src, dst = ex.edge_src[edges], ex.edge_dst[edges]
        count, comp = strong_components(n, src, dst)
        labels: IntArray = comp.astype(np.intc)
        bottom = np.ones(count, dtype=np.bool_)
        leaves = labels[src] != labels[dst]
        bottom[labels[src[leaves]]] = False
        return labels, bottom

    # -- the kinds (``checker.kinds``) ----------------------------------------------------------

    def judge(self, prop: Property) -> Verdict:
        validate(prop)
        found = meaning(prop.kind).over_graph(self, prop)
        if found.good is not None:
            path = self.ex.path_to(int(np.argmax(found.good)))
            return Verdict(prop, holds=found.holds, witness=path,
                           note=f"{found.note}; shortest witness: {_plural(len(path) - 1, 'step')}")
        if found.bad is not None:
            path = self.ex.path_to(int(np.argmax(found.bad)))
            return Verdict(prop, holds=found.holds, counterexample=path, loop=found.loop,
                           note=f"{found.note}; shortest counterexample: {_plural(len(path) - 1, 'step')}")
        return Verdict(prop, holds=found.holds, note=found.note, loop=found.loop)


def judge(exploration: Exploration, prop: Property) -> Verdict:
    """Judge one property over an exploration."""
    return _Judge(exploration).judge(prop)


def check(
    target: Model | Exploration,
    properties: Sequence[Property],
    *,
    max_states: int | None = None,
) -> list[Verdict]:
    """Judge ``properties`` (in order) over ``target``, exploring it first if it is a model.

    Predicate and ``via`` evaluations are shared between the properties of one call.
    """
    exploration = target if isinstance(target, Exploration) else explore(target, max_states=max_states)
    judge_ = _Judge(exploration)
    return [judge_.judge(prop) for prop in properties]


def shortest_run(exploration: Exploration, prop: Property, admit: Callable[[Any], bool]) -> list[Step] | None:
    """A shortest run, taking only actions that ``admit`` lets through, from an initial state to a
    state that violates ``prop`` (a kind judged state by state, such as ``always``); ``None`` if
    there is none. Among the
    shortest, the one ending in the lowest-numbered state, reached by the lowest-numbered edges:
    deterministic, like every counterexample."""
    kind = meaning(prop.kind)
    if not (kind.local and kind.falsifiable):
        raise PropertyError(f"property {prop.name!r}: a named run needs a property judged state by state "
                            f"(such as `always`), not {prop.kind.value}")
    judge_ = _Judge(exploration)
    bad = kind.over_graph(judge_, prop).bad
    if bad is None:
        return None
    edges = judge_.edge_mask(admit, prop)
    ex = exploration
    came_by = np.full(ex.state_count, -2, dtype=np.int64)  # -2 unseen, -1 initial, else the edge
    frontier = np.array(sorted(set(ex.init)), dtype=np.intp)
    came_by[frontier] = -1
    while frontier.size:
        hits = frontier[bad[frontier]]
        if hits.size:
            node = int(hits.min())
            chain: list[Step] = []
            while came_by[node] >= 0:
                e = int(came_by[node])
                chain.append(Step(ex.actions[ex.edge_act[e]], ex.state(node)))
                node = int(ex.edge_src[e])
            chain.append(Step(None, ex.state(node)))
            chain.reverse()
            return chain
        lo, hi = ex.edge_start[frontier], ex.edge_start[frontier + 1]
        counts = hi - lo
        out = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
        out = out[edges[out]]
        targets = ex.edge_dst[out]
        fresh = came_by[targets] == -2
        out, targets = out[fresh], targets[fresh]
        found, first = np.unique(targets, return_index=True)  # the first edge in order reaches it
        came_by[found] = out[first]
        frontier = found.astype(np.intp)
    return None


def steps_to_json(model: Model, steps: Sequence[Step], *, start: int = 0) -> list[dict[str, Any]]:
    """A path as JSON-ready dicts, using the model's own descriptions of actions and states.

    Step ``i`` is ``{"step": i, **describe_action(action), "state": describe_state(state)}``; a
    step without an action (the initial state) is ``{"step": i, "action": "init", "state": ...}``.
    ``start`` numbers the first step (a lasso's loop continues its counterexample's numbering).
    """
    out: list[dict[str, Any]] = []
    for i, (action, state) in enumerate(steps, start):
        head: dict[str, Any] = {"action": "init"} if action is None else model.describe_action(action)
        out.append({"step": i, **head, "state": model.describe_state(state)})
    return out


def verdict_to_json(model: Model, verdict: Verdict) -> dict[str, Any]:
    """A verdict as a JSON-ready dict (paths rendered with ``steps_to_json``)."""
    prop = verdict.property
    result: dict[str, Any] = {
        "property": prop.name,
        "kind": prop.kind.value,
        "claim": prop.claim,
        "holds": verdict.holds,
        "note": verdict.note,
    }
    if verdict.counterexample is not None:
        result["counterexample"] = steps_to_json(model, verdict.counterexample)
    if verdict.witness is not None:
        result["witness"] = steps_to_json(model, verdict.witness)
    if verdict.loop is not None:
        start = len(verdict.counterexample) if verdict.counterexample else 0
        result["loop"] = steps_to_json(model, verdict.loop, start=start)
    return result
