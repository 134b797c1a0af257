"""What the checker needs from a model, and what a property is.

The checker is generic (Stateright's ``Model`` trait is the pattern): it knows a model only through
``init_states``, ``successors`` and ``is_final``, and properties only as predicates over states and
actions. Nothing in ``checker/`` may import the QEMU model; the model plugs in through a ``Suite``
(a model factory plus its properties), found by the CLI via the ``migmodel.suites`` entry point.

States and actions are opaque, hashable, immutable values. ``successors`` must be a pure function
with a deterministic order, so that counterexamples are reproducible run to run.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from checker.kinds import Kind

if TYPE_CHECKING:
    from checker.conform import Case

__all__ = ("Action", "Component", "Conformance", "Factoring", "Kind", "Model", "NamedRun", "Presentation", "Property",
           "State", "Suite", "Variant", "Variants")

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
    (a dead process's threads): all such states then share one memo entry per gate value."""
    idle: Callable[[Any], bool] | None = None
    """When the gate field's value means "no moves" (default: the value is falsy), e.g. a
    budget that is spent. The search checks it: a component that moves while idle is an error."""


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
class Presentation:
    """How a suite draws itself in graphs and reports (``checker/graphs.py``, ``checker/report.py``).
    Every hook may be left out; the checker then falls back to a generic view."""

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
    explain_state: Callable[[Any], Sequence[tuple[str, str]]] | None = None
    """A state -> what each actor is doing or blocked on, ``[(actor, text), ...]``: the end of a
    counterexample explained (``checker/stepinfo.py``)."""


class Conformance(Protocol):
    """For ``migmodel conform``: (trace path, configuration or None, ``tolerance=`` seconds within
    which lines of the two sides are not ordered) -> a ``checker.conform.Case`` (the model of the
    trace's configuration, or of the one given, and what the recording shows).
    Raises ``ValueError`` with a one-line message for a file that is not a checkable trace."""

    def __call__(self, path: str, config: Any | None = None, /, tolerance: float = ...) -> Case: ...


@dataclass(frozen=True)
class Variant:
    """A named variant of the model: a known-bad mutant (``migmodel mutants``), a proposed design
    (``migmodel whatif``), ... Each is checked on the configurations it names."""

    name: str
    doc: str
    """What it changes and why it matters (one paragraph)."""
    configs: tuple[str, ...]
    """Names of the configurations to check it on."""
    build: Callable[[Any], Model]
    """Configuration -> the varied model."""
    equivalent: bool = False
    """(Mutants) It cannot be told apart from the model; ``doc`` says why. Reported, not counted."""
    origin: str = ""
    """(Designs) Where the proposal comes from: a patch, an RFC, a review remark."""
    intends: tuple[str, ...] = ()
    """(Designs) The properties it means to fix."""
    own_configs: Mapping[str, Any] = field(default_factory=dict)
    """Configuration values by name for the names in ``configs`` the suite does not have (a
    design may bring a configuration of its own, e.g. with the fault its fix is about)."""


Variants = Callable[[], Sequence[Variant]]
"""A family of variants, built on demand (building one may be costly)."""


@dataclass(frozen=True)
class NamedRun:
    """A violation the report must show besides a property's shortest counterexample: the
    shortest run, using only the actions ``admit`` lets through, to a state that violates the
    (``always``) property ``prop`` on configuration ``config``. For a finding that a shorter run
    of another shape hides (the shortest counterexample is one of many)."""

    title: str
    """What the run shows, in a few words ("a silent partition, then a reset: both guests run")."""
    config: str
    prop: str
    admit: Callable[[Any], bool]
    """Which actions the run may take."""
    must: tuple[Callable[[Any], bool], ...] = ()
    """Each must match some action of the run (checked: a run without them is an error)."""


@dataclass(frozen=True)
class Suite:
    """A family of models (one per named configuration) with the properties to check on them.

    The core is ``configs``, ``build``, ``properties`` and ``describe_config``; the rest are
    optional capabilities, each its own small type: ``presentation``, ``conformance`` and the
    ``variants`` families (``"mutants"``, ``"designs"``, ...; see ``variants_of``).
    """

    name: str
    configs: Callable[[], dict[str, Any]]
    """Named configurations, in display order: name -> configuration value."""
    build: Callable[[Any], Model]
    """Configuration -> model."""
    properties: Callable[[], Sequence[Property]]
    describe_config: Callable[[Any], str] = field(default=lambda c: str(c))
    presentation: Presentation = Presentation()
    conformance: Conformance | None = None
    variants: Mapping[str, Variants] = field(default_factory=dict)
    real_runs: Callable[[str, str], str] | None = None
    """(configuration name, property name) of a violated cell -> one line saying whether its
    counterexample was seen on a real system (and where its recording is), or why not."""
    runs: Callable[[], Sequence[NamedRun]] | None = None
    """Violations the report shows besides the shortest counterexamples (``NamedRun``)."""
    """Families of variants of the model by name: ``"mutants"`` for ``migmodel mutants``."""

    def variants_of(self, family: str) -> dict[str, Variant] | None:
        """The variants of ``family`` by name, in the suite's order; None if the suite has none."""
        make = self.variants.get(family)
        return None if make is None else {v.name: v for v in make()}

    # Read-only aliases of the fields the suite had before the capabilities were split out.
    @property
    def machine_diagrams(self) -> Callable[[Any, frozenset[Any] | None], dict[str, dict[str, Any]]] | None:
        return self.presentation.machine_diagrams

    @property
    def project(self) -> Callable[[Any], tuple[str, str]] | None:
        return self.presentation.project

    @property
    def project_axes(self) -> tuple[str, str]:
        return self.presentation.project_axes

    @property
    def explain(self) -> Callable[[list[dict[str, Any]]], str] | None:
        return self.presentation.explain

    @property
    def sequence(self) -> Callable[[list[dict[str, Any]]], dict[str, Any]] | None:
        return self.presentation.sequence

    @property
    def explain_state(self) -> Callable[[Any], Sequence[tuple[str, str]]] | None:
        return self.presentation.explain_state

    @property
    def questions(self) -> Callable[[], Sequence[tuple[str, str]]] | None:
        return self.presentation.questions

    @property
    def mutants(self) -> Callable[[], dict[str, tuple[str, Sequence[str], Callable[[Any], Model], bool]]] | None:
        """The old shape of ``variants_of("mutants")``: name -> (doc, configs, build, equivalent)."""
        if "mutants" not in self.variants:
            return None

        def old() -> dict[str, tuple[str, Sequence[str], Callable[[Any], Model], bool]]:
            found = self.variants_of("mutants") or {}
            return {n: (v.doc, v.configs, v.build, v.equivalent) for n, v in found.items()}

        return old
