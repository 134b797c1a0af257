"""What each property kind means: the one definition both drivers use.

A property (``checker.spec.Property``) has a kind. Its meaning is given here twice over the same
words, once per way of judging it, side by side so they cannot drift apart:

- ``over_graph``: over a whole explored graph (``checker.analysis``, the exhaustive judges), with
  the graph primitives a ``GraphView`` offers (numpy masks, reverse reachability, bottom strongly
  connected components). It says which states violate the claim (the counterexample ends in the
  lowest-numbered one, so it is a shortest one) or which satisfy it (the witness).
- ``at_state``: at one state met by a run (``checker.fuzz``, the random search), with what a
  ``StateView`` offers (successors, bounded reachability). It says why the state violates the
  claim, or ``None``. A bounded search that hits its limit is no violation.

Adding a kind touches only this module: a ``Kind`` member and its ``Meaning`` in ``MEANINGS``.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from checker.explore import Step
    from checker.spec import Property

__all__ = (
    "MEANINGS",
    "GraphView",
    "Judgement",
    "Kind",
    "Meaning",
    "PropertyError",
    "StateView",
    "falsifiable",
    "meaning",
    "validate",
    "violated_here",
)

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[Any]


class Kind(enum.Enum):
    """How a property is judged over the reachable graph."""

    ALWAYS = "always"
    """``predicate`` holds in every reachable state (an invariant)."""

    SOMETIMES = "sometimes"
    """``predicate`` holds in at least one reachable state (a witness that something is not vacuous)."""

    ALWAYS_POSSIBLE = "always-possible"
    """From every reachable state where ``where`` holds, some state satisfying ``predicate`` is
    reachable using only edges whose action satisfies ``via`` (reverse reachability)."""

    EVENTUALLY = "eventually"
    """Fair liveness: once the actions outside ``via`` (faults) stop, every run reaches a state
    satisfying ``predicate``. Judged by bottom strongly connected components of the ``via`` graph in
    which ``predicate`` states are made absorbing: a bottom component without such a state is a
    run that never gets there."""

    DEADLOCK_FREE = "deadlock-free"
    """Every reachable state is final (``Model.is_final``) or has a ``via`` successor other than
    itself."""


class PropertyError(Exception):
    """A property is malformed or one of its functions raised; the message names the property."""


class GraphView(Protocol):
    """What the exhaustive judge offers a kind: one explored graph, states and edges numbered."""

    n: int
    """Reachable states."""
    edge_src: IntArray
    edge_dst: IntArray

    def state_mask(self, fn: Callable[[Any], bool], prop: Property, role: str) -> BoolArray:
        """``fn`` on every state (``role`` names the field, for error messages)."""
        ...

    def edge_mask(self, via: Callable[[Any], bool], prop: Property) -> BoolArray:
        """Which edges ``via`` admits."""
        ...

    def final_mask(self) -> BoolArray:
        """``Model.is_final`` on every state."""
        ...

    def reverse_reachable(self, goal: BoolArray, edges: BoolArray) -> BoolArray:
        """States from which a ``goal`` state is reachable over ``edges``."""
        ...

    def bottom_components(self, edges: BoolArray) -> tuple[IntArray, BoolArray]:
        """Strongly connected components over ``edges``: each state's component label, and which
        components are bottom (no edge leaves them)."""
        ...

    def shortest_loop(self, entry: int, edges: BoolArray) -> list[Step]:
        """A shortest run over ``edges`` from state ``entry`` back to it (empty if none)."""
        ...


class StateView(Protocol):
    """What the random search offers a kind: successors of a state and bounded reachability."""

    def successors(self, state: Any) -> Sequence[tuple[Any, Any]]: ...

    def admits(self, via: Callable[[Any], bool], action: Any) -> bool: ...

    def is_final(self, state: Any) -> bool: ...

    def can_reach(self, state: Any, goal: Callable[[Any], bool], via: Callable[[Any], bool]) -> bool | None:
        """Whether a ``goal`` state is reachable over ``via`` edges; ``None`` if the search hit its bound."""
        ...


@dataclass(frozen=True)
class Judgement:
    """A kind's judgement over a graph. ``bad``: the states that violate the claim (the
    counterexample ends in the first); ``good``: the states that witness it (SOMETIMES); ``loop``
    (EVENTUALLY): a run of ``via`` steps from the first bad state back to itself."""

    holds: bool
    note: str
    bad: BoolArray | None = None
    good: BoolArray | None = None
    loop: list[Step] | None = None


@dataclass(frozen=True)
class Meaning:
    """One kind: the fields it reads, how it reads in a verdict, and its two judges."""

    kind: Kind
    reads: frozenset[str]
    """The ``Property`` fields it reads; a property setting another one is rejected."""
    falsifiable: bool
    """False for a witness (SOMETIMES): failing it is a finding about coverage, not a violation."""
    words: tuple[str, str]
    """How a verdict reads: (holds, fails)."""
    over_graph: Callable[[GraphView, Property], Judgement]
    at_state: Callable[[StateView, Property, Any], str | None]
    local: bool = False
    """The verdict at a state depends on that state alone (``at_state`` ignores the view)."""
    witness: Callable[[Property, Any], bool] | None = None
    """For a non-falsifiable kind: whether one state met by a run witnesses the claim."""


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


# -- ALWAYS ------------------------------------------------------------------------------------


def _always_graph(g: GraphView, prop: Property) -> Judgement:
    bad = ~g.state_mask(prop.predicate, prop, "predicate")
    count = int(bad.sum())
    if count == 0:
        return Judgement(True, f"holds in all {_plural(g.n, 'reachable state')}")
    return Judgement(False, f"fails in {count:,} of {_plural(g.n, 'reachable state')}", bad=bad)


def _always_state(_: StateView, prop: Property, state: Any) -> str | None:
    return None if prop.predicate(state) else "the predicate is false in this state"


# -- SOMETIMES ---------------------------------------------------------------------------------


def _sometimes_graph(g: GraphView, prop: Property) -> Judgement:
    good = g.state_mask(prop.predicate, prop, "predicate")
    count = int(good.sum())
    if count == 0:
        return Judgement(False, f"no state satisfies it among {_plural(g.n, 'reachable state')}")
    return Judgement(True, f"holds in {count:,} of {_plural(g.n, 'reachable state')}", good=good)


def _sometimes_state(_: StateView, prop: Property, state: Any) -> str | None:
    return None  # nothing to falsify at one state; ``_sometimes_witness`` counts what a run reached


def _sometimes_witness(prop: Property, state: Any) -> bool:
    return bool(prop.predicate(state))


# -- ALWAYS_POSSIBLE ---------------------------------------------------------------------------


def _always_possible_graph(g: GraphView, prop: Property) -> Judgement:
    where = g.state_mask(prop.where, prop, "where")
    goal = g.state_mask(prop.predicate, prop, "predicate")
    can_reach = g.reverse_reachable(goal, g.edge_mask(prop.via, prop))
    bad = where & ~can_reach
    count, scope = int(bad.sum()), int(where.sum())
    goals = _plural(int(goal.sum()), "goal state")
    if count == 0:
        return Judgement(True, f"a goal is reachable from all {_plural(scope, '`where` state')} ({goals} in all)")
    return Judgement(False, f"no goal is reachable from {count:,} of {_plural(scope, '`where` state')} "
                            f"({goals} in all)", bad=bad)


def _always_possible_state(v: StateView, prop: Property, state: Any) -> str | None:
    if not prop.where(state):
        return None
    reach = v.can_reach(state, prop.predicate, prop.via)
    return "no goal state is reachable from this `where` state over `via` steps" if reach is False else None


# -- EVENTUALLY --------------------------------------------------------------------------------


def _eventually_graph(g: GraphView, prop: Property) -> Judgement:
    # Every reachable state counts as a place where faults may stop, including states only reachable
    # through a goal state: "from every reachable state the goal is inevitable" (CTL AG AF), with
    # strong fairness (a run that could leave a cycle infinitely often eventually does).
    if g.n == 0:
        return Judgement(True, "holds vacuously: no reachable state")
    goal = g.state_mask(prop.predicate, prop, "predicate")
    kept = g.edge_mask(prop.via, prop) & ~goal[g.edge_src]  # goal states become absorbing
    labels, bottom = g.bottom_components(kept)
    reaches_goal = np.zeros(bottom.size, dtype=np.bool_)
    reaches_goal[labels[goal]] = True
    bad_component = bottom & ~reaches_goal
    bad = bad_component[labels]
    if not bad.any():
        return Judgement(True, f"every run of `via` steps from all {_plural(g.n, 'reachable state')} "
                               "reaches the goal")
    first = int(np.argmax(bad))
    size = int((labels == labels[first]).sum())
    loop = g.shortest_loop(first, kept)
    if size > 1:
        shape = f"a cycle through {_plural(size, 'state')} (loop of {_plural(len(loop), 'step')} shown)"
    elif loop:
        shape = "a single state that only loops on itself"
    else:
        shape = "a single dead state with no `via` successor"
    return Judgement(False, f"{_plural(int(bad_component.sum()), 'component')} ({int(bad.sum()):,} states) "
                            f"never reach the goal once only `via` actions run; the first is {shape}",
                     bad=bad, loop=loop)


def _eventually_state(v: StateView, prop: Property, state: Any) -> str | None:
    # With goal states absorbing, "no goal reachable over `via`" is exactly a state inside or
    # leading only into a bottom component without a goal; reachable goals are not proof of the
    # converse (a fair cycle may avoid them), so a run finds a subset of the violations.
    reach = v.can_reach(state, prop.predicate, prop.via)
    return "no goal state is reachable from here over `via` steps" if reach is False else None


# -- DEADLOCK_FREE -----------------------------------------------------------------------------


def _deadlock_free_graph(g: GraphView, prop: Property) -> Judgement:
    moving = g.edge_mask(prop.via, prop) & (g.edge_src != g.edge_dst)
    progresses = np.zeros(g.n, dtype=np.bool_)
    progresses[g.edge_src[moving]] = True
    final = g.final_mask()
    bad = ~progresses & ~final
    count = int(bad.sum())
    finals = _plural(int(final.sum()), "final state")
    if count == 0:
        return Judgement(True, f"no deadlock among {_plural(g.n, 'reachable state')} ({finals})")
    return Judgement(False, f"{_plural(count, 'non-final state')} without a `via` step to another state "
                            f"({finals})", bad=bad)


def _deadlock_free_state(v: StateView, prop: Property, state: Any) -> str | None:
    if v.is_final(state):
        return None
    for action, succ in v.successors(state):
        if succ != state and v.admits(prop.via, action):
            return None
    return "a non-final state without a `via` step to another state"


_CLAIM = ("holds", "VIOLATED")
MEANINGS: dict[Kind, Meaning] = {m.kind: m for m in (
    Meaning(Kind.ALWAYS, frozenset({"predicate"}), True, _CLAIM, _always_graph, _always_state, local=True),
    Meaning(Kind.SOMETIMES, frozenset({"predicate"}), False, ("reached", "never"), _sometimes_graph,
            _sometimes_state, witness=_sometimes_witness),
    Meaning(Kind.ALWAYS_POSSIBLE, frozenset({"where", "predicate", "via"}), True, _CLAIM, _always_possible_graph,
            _always_possible_state),
    Meaning(Kind.EVENTUALLY, frozenset({"predicate", "via"}), True, _CLAIM, _eventually_graph, _eventually_state),
    Meaning(Kind.DEADLOCK_FREE, frozenset({"via"}), True, _CLAIM, _deadlock_free_graph, _deadlock_free_state),
)}


def meaning(kind: Kind) -> Meaning:
    """The meaning of ``kind``."""
    return MEANINGS[kind]


def falsifiable(kind: Kind) -> bool:
    """Whether a failed verdict of ``kind`` is a violation (every kind but SOMETIMES)."""
    return MEANINGS[kind].falsifiable


class _NoView:
    """The view a local kind is judged with: it must not ask for anything."""

    def __getattr__(self, name: str) -> Any:
        raise TypeError(f"a local kind's judge asked for {name!r}")


def violated_here(prop: Property, state: Any) -> bool:
    """Whether ``state`` alone violates ``prop``, for a kind whose verdict is local (ALWAYS)."""
    m = MEANINGS[prop.kind]
    if not m.local:
        raise ValueError(f"a {prop.kind.value} verdict is not a property of one state")
    return m.at_state(_NoView(), prop, state) is not None


def validate(prop: Property) -> None:
    """Reject a property that sets a function its kind does not read: a silently ignored ``via`` or
    ``where`` would make the verdict mean something other than its claim."""
    read = MEANINGS[prop.kind].reads
    for f in dataclasses.fields(prop):
        if f.name in ("predicate", "where", "via") and f.name not in read and getattr(prop, f.name) is not f.default:
            raise PropertyError(
                f"property {prop.name!r} is {prop.kind.value} but sets `{f.name}`, which {prop.kind.value} "
                f"does not read (it reads {', '.join(sorted(read))}); remove it or change the kind"
            )


def goal_of(prop: Property, is_final: Callable[[Any], bool]) -> Callable[[Any], bool] | None:
    """What a run must reach to show a state is not stuck for ``prop``: its ``predicate`` for the
    kinds that promise a goal (ALWAYS_POSSIBLE, EVENTUALLY), a final state for DEADLOCK_FREE;
    None for the kinds about states alone. (Used to extend a counterexample into a witness.)"""
    if prop.kind is Kind.DEADLOCK_FREE:
        return is_final
    if prop.kind in (Kind.ALWAYS_POSSIBLE, Kind.EVENTUALLY):
        return prop.predicate
    return None
