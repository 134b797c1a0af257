"""What the checker needs from a model, and what a property is.

The checker is generic (Stateright's ``Model`` trait is the pattern): it knows a model only through
``init_states``, ``successors`` and ``is_final``, and properties only as predicates over states and
actions. Nothing in ``checker/`` may import the QEMU model; the model plugs in through a ``Suite``
(a model factory plus its properties), found by the CLI via the ``migmodel.suites`` entry point.

States and actions are opaque, hashable, immutable values. ``successors`` must be a pure function
with a deterministic order, so that counterexamples are reproducible run to run.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

State = Hashable
Action = Hashable


class Model(Protocol):
    """A transition system: Stateright's ``init_states`` / ``actions`` + ``next_state`` in one call."""

    def init_states(self) -> Sequence[State]:
        """The initial states, in a fixed order."""
        ...

    def successors(self, state: State) -> Sequence[tuple[Action, State]]:
        """Every enabled action with the state it leads to, in a fixed order.

        An action that changes nothing (for example a command the system refuses) appears as a
        self-loop: it is a visible step, not a missing edge.
        """
        ...

    def is_final(self, state: State) -> bool:
        """True for states where the system is meant to stop (not a deadlock)."""
        ...

    def describe_action(self, action: Action) -> dict[str, Any]:
        """A JSON-ready description of an action (at least ``{"action": str, "actor": str}``)."""
        ...

    def describe_state(self, state: State) -> dict[str, Any]:
        """A JSON-ready summary of a state, used in counterexample steps."""
        ...

    # Optional: ``def factoring(self) -> Factoring | None`` (see ``Factoring``); ``explore`` uses
    # it when present and not None. Not part of the protocol, so a model without it is a Model.


@dataclass(frozen=True)
class Component:
    """One independent part of a model's next-state relation, for the compact search.

    ``successors(state)`` gives this component's enabled actions and the states they lead to
    (the model's ``successors`` is the concatenation of its components', in order). The promise
    that makes memoisation sound: what a component does depends only on the fields in
    ``footprint``, and it changes no field outside it (TLA+'s ``UNCHANGED`` for every other
    variable). Fields are named as in ``Factoring.fields``.
    """

    name: str
    footprint: frozenset[str]
    successors: Callable[[Any], Sequence[tuple[Action, State]]]
    gate: str | None = None
    """A field of the footprint while whose value is falsy the component has no moves at all
    (a dead process's threads): all such states then share one memo entry."""


@dataclass(frozen=True)
class Factoring:
    """How a model's states and steps decompose, offered by ``Model.factoring()`` (optional).

    A state is a tuple of ``fields`` (a ``NamedTuple`` for instance) that ``make`` rebuilds from
    its values in field order. With it, ``explore`` searches over states packed into a few machine
    words and remembers each component's moves per value of its footprint (``checker.compact``):
    the same search, several times faster on large models, because a thread's moves are computed
    once for all the global states that agree on what that thread can see.
    """

    fields: tuple[str, ...]
    make: Callable[[Sequence[Any]], State]
    components: tuple[Component, ...]


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


def _true(_: Any) -> bool:
    return True


@dataclass(frozen=True)
class Property:
    """A named claim, judged by the checker.

    ``claim`` is one English sentence a reader of a report understands without the code.
    ``partner`` names the SOMETIMES property that shows an ALWAYS-style property is not vacuous.
    """

    name: str
    kind: Kind
    claim: str
    predicate: Callable[[Any], bool] = _true
    where: Callable[[Any], bool] = _true
    via: Callable[[Any], bool] = _true
    partner: str | None = None
    reference: str = ""


@dataclass(frozen=True)
class Suite:
    """A family of models (one per named configuration) with the properties to check on them."""

    name: str
    configs: Callable[[], dict[str, Any]]
    """Named configurations, in display order: name -> configuration value."""
    build: Callable[[Any], Model]
    """Configuration -> model."""
    properties: Callable[[], Sequence[Property]]
    describe_config: Callable[[Any], str] = field(default=lambda c: str(c))

    # Optional presentation hooks (graphs and reports, ``checker/graphs.py`` and
    # ``checker/report.py``). Each may be left out; the checker then falls back to a generic view.
    machine_diagrams: Callable[[Any, frozenset[Any] | None], dict[str, dict[str, Any]]] | None = None
    """(configuration, actions seen in its exploration or None) -> one machine per side:
    ``{"initial": state, "edges": [(from, to, label, style), ...], "note": str}``; ``style`` is
    "normal", "fault" or "error"."""
    project: Callable[[Any], tuple[str, str]] | None = None
    """State -> a pair of names (the product projection), e.g. (source status, destination status)."""
    project_axes: tuple[str, str] = ("first", "second")
    """What the two names of ``project`` are."""
    explain: Callable[[list[dict[str, Any]]], str] | None = None
    """A counterexample (``steps_to_json`` output) -> one plain-English paragraph."""
    sequence: Callable[[list[dict[str, Any]]], dict[str, Any]] | None = None
    """Steps (``steps_to_json`` output) -> a sequence chart: ``{"lanes": [name, ...], "events":
    [{"step": i, "kind": "message" | "note" | "fault" | "lost", "from": lane, "to": lane,
    "text": str}, ...]}``."""
    questions: Callable[[], Sequence[tuple[str, str]]] | None = None
    """Headline questions a report answers from the verdicts: (question, property name)."""
    mutants: Callable[[], dict[str, tuple[str, Sequence[str], Callable[[Any], Model], bool]]] | None = None
    """Known-bad variants of the model, for ``migmodel mutants``: name -> (doc, names of the
    configurations to check it on, configuration -> mutated model, equivalent). An equivalent
    mutant cannot be told apart from the model (its doc says why): reported, not counted."""
    real_runs: Callable[[str, str], str] | None = None
    """(configuration name, property name) of a violated cell -> one line saying whether its
    counterexample was seen on a real system (and where its recording is), or why not."""
    conformance: Callable[..., Any] | None = None
    """For ``migmodel conform``: (trace path, configuration or None) -> a ``checker.conform.Case``
    (the model of the trace's configuration, or of the one given, and what the recording shows).
    Raises ``ValueError`` with a one-line message for a file that is not a checkable trace."""
