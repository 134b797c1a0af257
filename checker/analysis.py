"""Judging properties over an explored graph.

Every judge works on the compact arrays of an ``Exploration`` and composes whole-graph algorithms
(numpy masks, strong components and breadth-first search of ``checker.digraph``) instead of
looping over states in Python, so judging stays cheap next to the search even at millions of
states. Predicates are evaluated once per state and ``via`` filters once per distinct action, and
both are cached for the duration of one ``check`` call, so properties sharing a predicate share
the work.

Counterexamples are shortest: states are numbered in BFS order, so the lowest-numbered offending
state is one nearest to an initial state, and its BFS parent chain is a shortest path to it.

The kinds (see ``checker.spec.Kind``) and the fields each one reads:

- ALWAYS(predicate): the first reachable state violating it is the counterexample.
- SOMETIMES(predicate): the first reachable state satisfying it is the witness.
- ALWAYS_POSSIBLE(where, predicate, via): reverse reachability from all goal states at once
  over ``via`` edges; a reachable ``where`` state outside that set is a violation.
- EVENTUALLY(predicate, via): in the ``via`` graph with goal states made absorbing, a bottom
  strongly connected component without a goal state is a violation; the verdict also carries a
  shortest ``loop`` inside the component, so the counterexample is a lasso. Every reachable state
  counts as a place where faults may stop, including states only reachable through a goal state,
  so this is "from every reachable state the goal is inevitable" (CTL ``AG AF``), stronger than
  "every run from an initial state passes the goal once" when goal states have successors.
  Fairness is strong: a run that could leave a cycle infinitely often eventually does.
- DEADLOCK_FREE(via): a non-final state whose only ``via`` successors are itself is a violation.

A property that sets a field its kind does not read is rejected with ``ValueError``, because a
silently ignored ``via`` or ``where`` would make the verdict mean something other than its claim.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from checker.digraph import reverse_reachable, strong_components
from checker.explore import Exploration, Step, explore
from checker.spec import Kind, Model, Property

__all__ = (
    "PropertyError",
    "Verdict",
    "check",
    "judge",
    "steps_to_json",
    "verdict_to_json",
)

BoolArray = npt.NDArray[np.bool_]

_FIELDS_READ: dict[Kind, frozenset[str]] = {
    Kind.ALWAYS: frozenset({"predicate"}),
    Kind.SOMETIMES: frozenset({"predicate"}),
    Kind.ALWAYS_POSSIBLE: frozenset({"where", "predicate", "via"}),
    Kind.EVENTUALLY: frozenset({"predicate", "via"}),
    Kind.DEADLOCK_FREE: frozenset({"via"}),
}
_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in dataclasses.fields(Property) if f.name in ("predicate", "where", "via")
}


class PropertyError(Exception):
    """A property is malformed or one of its functions raised; the message names the property."""


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
        self._state_masks: dict[Callable[[Any], bool], BoolArray] = {}
        self._action_masks: dict[Callable[[Any], bool], BoolArray] = {}

    # -- masks -------------------------------------------------------------------------------

    def state_mask(self, fn: Callable[[Any], bool], prop: Property, role: str) -> BoolArray:
        """``fn`` applied to every state, in state order (cached per function)."""
        mask = self._state_masks.get(fn)
        if mask is None:
            mask = self._evaluate(fn, self.ex.states, prop, role, "state")
            self._state_masks[fn] = mask
        return mask

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
            return np.fromiter((bool(fn(v)) for v in values), dtype=np.bool_, count=len(values))
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
            mask = np.fromiter((bool(fn(s)) for s in self.ex.states), dtype=np.bool_, count=len(self.ex.states))
            self._state_masks[fn] = mask
        return mask

    # -- graph algorithms ----------------------------------------------------------------------

    def reverse_reachable(self, goal: BoolArray, edges: BoolArray) -> BoolArray:
        """States from which some goal state is reachable using only the edges in ``edges``
        (one backward search from all goal states at once)."""
        return reverse_reachable(self.n, self.ex.edge_src[edges], self.ex.edge_dst[edges], goal)

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
        return [Step(ex.actions[act[e]], ex.states[dst[e]]) for e in chain]

    # -- the kinds -----------------------------------------------------------------------------

    def judge(self, prop: Property) -> Verdict:
        _validate(prop)
        handler = {
            Kind.ALWAYS: self._always,
            Kind.SOMETIMES: self._sometimes,
            Kind.ALWAYS_POSSIBLE: self._always_possible,
            Kind.EVENTUALLY: self._eventually,
            Kind.DEADLOCK_FREE: self._deadlock_free,
        }[prop.kind]
        return handler(prop)

    def _counterexample(self, prop: Property, bad: BoolArray, note: str) -> Verdict:
        first = int(np.argmax(bad))
        path = self.ex.path_to(first)
        return Verdict(
            prop,
            holds=False,
            counterexample=path,
            note=f"{note}; shortest counterexample: {_plural(len(path) - 1, 'step')}",
        )

    def _always(self, prop: Property) -> Verdict:
        bad = ~self.state_mask(prop.predicate, prop, "predicate")
        count = int(bad.sum())
        if count == 0:
            return Verdict(prop, holds=True, note=f"holds in all {_plural(self.n, 'reachable state')}")
        return self._counterexample(prop, bad, f"fails in {count:,} of {_plural(self.n, 'reachable state')}")

    def _sometimes(self, prop: Property) -> Verdict:
        good = self.state_mask(prop.predicate, prop, "predicate")
        count = int(good.sum())
        if count == 0:
            return Verdict(prop, holds=False, note=f"no state satisfies it among {_plural(self.n, 'reachable state')}")
        path = self.ex.path_to(int(np.argmax(good)))
        return Verdict(
            prop,
            holds=True,
            witness=path,
            note=f"holds in {count:,} of {_plural(self.n, 'reachable state')}; "
            f"shortest witness: {_plural(len(path) - 1, 'step')}",
        )

    def _always_possible(self, prop: Property) -> Verdict:
        where = self.state_mask(prop.where, prop, "where")
        goal = self.state_mask(prop.predicate, prop, "predicate")
        can_reach = self.reverse_reachable(goal, self.edge_mask(prop.via, prop))
        bad = where & ~can_reach
        count, scope = int(bad.sum()), int(where.sum())
        goals = _plural(int(goal.sum()), "goal state")
        if count == 0:
            return Verdict(
                prop,
                holds=True,
                note=f"a goal is reachable from all {_plural(scope, '`where` state')} ({goals} in all)",
            )
        return self._counterexample(
            prop,
            bad,
            f"no goal is reachable from {count:,} of {_plural(scope, '`where` state')} ({goals} in all)",
        )

    def _eventually(self, prop: Property) -> Verdict:
        ex, n = self.ex, self.n
        goal = self.state_mask(prop.predicate, prop, "predicate")
        via = self.edge_mask(prop.via, prop)
        kept = via & ~goal[ex.edge_src]  # goal states become absorbing
        src, dst = ex.edge_src[kept], ex.edge_dst[kept]
        if n == 0:
            return Verdict(prop, holds=True, note="holds vacuously: no reachable state")
        count, labels = strong_components(n, src, dst)
        leaves = labels[src] != labels[dst]
        bottom = np.ones(count, dtype=np.bool_)
        bottom[labels[src[leaves]]] = False
        reaches_goal = np.zeros(count, dtype=np.bool_)
        reaches_goal[labels[goal]] = True
        bad_component = bottom & ~reaches_goal
        bad = bad_component[labels]
        if not bad.any():
            return Verdict(
                prop,
                holds=True,
                note=f"every run of `via` steps from all {_plural(n, 'reachable state')} reaches the goal",
            )
        first = int(np.argmax(bad))
        size = int((labels == labels[first]).sum())
        loop = self.shortest_loop(first, kept)
        if size > 1:
            shape = f"a cycle through {_plural(size, 'state')} (loop of {_plural(len(loop), 'step')} shown)"
        elif loop:
            shape = "a single state that only loops on itself"
        else:
            shape = "a single dead state with no `via` successor"
        verdict = self._counterexample(
            prop,
            bad,
            f"{_plural(int(bad_component.sum()), 'component')} ({int(bad.sum()):,} states) "
            f"never reach the goal once only `via` actions run; the first is {shape}",
        )
        return dataclasses.replace(verdict, loop=loop)

    def _deadlock_free(self, prop: Property) -> Verdict:
        ex = self.ex
        moving = self.edge_mask(prop.via, prop) & (ex.edge_src != ex.edge_dst)
        progresses = np.zeros(self.n, dtype=np.bool_)
        progresses[ex.edge_src[moving]] = True
        final = self.final_mask()
        bad = ~progresses & ~final
        count = int(bad.sum())
        finals = _plural(int(final.sum()), "final state")
        if count == 0:
            return Verdict(prop, holds=True, note=f"no deadlock among {_plural(self.n, 'reachable state')} ({finals})")
        return self._counterexample(
            prop, bad, f"{_plural(count, 'non-final state')} without a `via` step to another state ({finals})"
        )


def _validate(prop: Property) -> None:
    """Reject a property that sets a function its kind ignores."""
    read = _FIELDS_READ[prop.kind]
    for name, default in _DEFAULTS.items():
        if name not in read and getattr(prop, name) is not default:
            raise PropertyError(
                f"property {prop.name!r} is {prop.kind.value} but sets `{name}`, which {prop.kind.value} "
                f"does not read (it reads {', '.join(sorted(read))}); remove it or change the kind"
            )


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
