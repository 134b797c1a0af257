"""Exhaustive breadth-first exploration of a model's reachable state graph.

``explore`` visits every state reachable from ``Model.init_states`` through ``Model.successors``,
numbering states in the order they are discovered. Because the search is breadth-first, a state's
number never goes down as its depth goes up, so "the first state (lowest index) that does X" is
always one of the states nearest to an initial state, and the BFS parent links give a shortest
path to it. The property judges in ``checker.analysis`` rely on that.

The store is kept compact on purpose (millions of states fit in a few hundred MB): states live in
one list, every per-state and per-edge integer in a C ``array('i')`` during the search, exposed as
numpy arrays afterwards, and actions are interned (one id per distinct action value). The edges are
stored grouped by source in ascending order, so ``edge_start`` (CSR offsets) gives each state's
outgoing edges without a search.

The result is deterministic: numbering comes only from the order of ``init_states()`` and
``successors()``, never from hashing, so counterexamples and ``fingerprint()`` are reproducible.
"""

from __future__ import annotations

import gc
import hashlib
import sys
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from checker.compact import Codec, HashCollision, Packed, StateEncodingError
from checker.compact import search as compact_search
from checker.spec import Action, Model, State

__all__ = (
    "PROGRESS_EVERY",
    "Exploration",
    "IntArray",
    "StateLimitExceeded",
    "Step",
    "explore",
)

IntArray = npt.NDArray[np.intc]
"""A read-only view of the C ``int`` arrays filled during the search."""

PROGRESS_EVERY = 20_000
"""The ``progress`` callback runs each time this many new states have been found."""


class Step(NamedTuple):
    """One step of a path: the action taken (``None`` for the initial state) and the state reached."""

    action: Action | None
    state: State


class StateLimitExceeded(Exception):
    """The search found more distinct states than ``max_states`` allows.

    Raised instead of running on until memory runs out; the numbers say how far the search got so
    the user can choose a larger limit or a smaller configuration.
    """

    def __init__(self, states: int, edges: int, depth: int) -> None:
        self.states = states
        self.edges = edges
        self.depth = depth
        super().__init__(
            f"state limit of {states:,} reached after {states:,} states, {edges:,} edges, depth {depth}: "
            "raise --max-states or lower the fault budgets"
        )

    def __reduce__(self) -> tuple[type[StateLimitExceeded], tuple[int, int, int]]:
        return (type(self), (self.states, self.edges, self.depth))


def _view(values: array[int]) -> IntArray:
    """Expose a filled ``array('i')`` to numpy without copying it."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.intc)
    view: IntArray = np.frombuffer(values, dtype=np.intc)
    view.flags.writeable = False
    return view


@dataclass(eq=False)
class Exploration:
    """The reachable graph of a model, as found by ``explore``.

    States are numbered 0..n-1 in BFS discovery order; edge ``e`` goes from ``edge_src[e]`` to
    ``edge_dst[e]`` by action ``actions[edge_act[e]]``. Edges are sorted by source, and the edges
    leaving state ``i`` are ``edge_start[i]:edge_start[i + 1]``, in ``successors()`` order.
    """

    model: Model
    stored: Any
    """What the search stored per state: the states themselves, or their packed form (``codec``)."""
    stored_index: dict[Any, int]
    """Stored value -> state number."""
    init: list[int]
    """Numbers of the distinct initial states, in ``init_states()`` order."""
    actions: list[Action]
    """Distinct action values, in order of first appearance; an action id indexes this list."""
    edge_start: IntArray
    edge_src: IntArray
    edge_dst: IntArray
    edge_act: IntArray
    parent: IntArray
    """BFS parent of each state (-1 for initial states)."""
    parent_edge: IntArray
    """Edge by which each state was first reached (-1 for initial states)."""
    depth: IntArray
    """Length of a shortest path from an initial state."""
    max_depth: int
    seconds: float
    """Wall-clock time of the search itself."""
    codec: Codec | None = None
    """For a compact search (the model offered a ``Factoring``): how states were packed."""
    memo_misses: int = 0
    """For a compact search: how many times a component's moves were computed, not looked up."""
    _graph_cache: dict[str, Any] = field(default_factory=dict, repr=False)
    _states: list[State] | None = field(default=None, repr=False)
    _index: dict[State, int] | None = field(default=None, repr=False)

    @property
    def states(self) -> list[State]:
        """Every reachable state, by number (unpacked on first use after a compact search)."""
        if self.codec is None:
            plain: list[State] = self.stored
            return plain
        if self._states is None:
            self._states = self.codec.decode(self.stored)
        return self._states

    def state(self, index: int) -> State:
        """State ``index`` (after a compact search, unpacked alone unless every state already is)."""
        if self.codec is None or self._states is not None:
            return self.states[index]
        rows: npt.NDArray[np.uint64] = self.stored
        return self.codec.decode_one(rows[index].tolist())

    def column(self, field: int) -> npt.NDArray[np.intp] | None:
        """After a compact search, the code of field ``field`` in every state (``codec.values``
        gives the values); ``None`` after a plain search. Cached: the judges ask for each field
        of each predicate."""
        if self.codec is None:
            return None
        columns: dict[int, npt.NDArray[np.intp]] = self._graph_cache.setdefault("columns", {})
        col = columns.get(field)
        if col is None:
            col = columns[field] = self.codec.column(self.stored, field)
        return col

    @property
    def index(self) -> dict[State, int]:
        """State value -> its number; ``index_of`` is the cheaper way to look one up."""
        if self.codec is None:
            return self.stored_index
        if self._index is None:
            self._index = {s: i for i, s in enumerate(self.states)}
        return self._index

    @property
    def state_count(self) -> int:
        """Number of distinct reachable states."""
        return len(self.stored)

    @property
    def edge_count(self) -> int:
        """Number of edges (one per ``(state, action, successor)`` that ``successors`` returned)."""
        return len(self.edge_dst)

    def index_of(self, state: State) -> int:
        """The number of a reachable state; ``KeyError`` if the search never reached it."""
        if self.codec is None:
            return self.stored_index[state]
        if not self.stored_index:
            rows = np.ascontiguousarray(self.stored)
            keys = rows.view(np.dtype((np.void, rows.shape[1] * 8))).ravel().tolist()
            self.stored_index.update(zip(keys, range(len(keys)), strict=True))
        return self.stored_index[self.codec.encode_known(state)]

    def path_to(self, index: int) -> list[Step]:
        """A shortest path from an initial state to state ``index``, following BFS parents.

        The first step carries the initial state and ``action=None``; each later step carries the
        action taken and the state it led to.
        """
        if not 0 <= index < len(self.stored):
            raise IndexError(f"no state {index}: the exploration has {len(self.stored):,} states")
        parent, parent_edge = self.parent, self.parent_edge
        edge_act, actions, state = self.edge_act, self.actions, self.state
        reversed_steps: list[Step] = []
        node = index
        while True:
            edge = int(parent_edge[node])
            if edge < 0:
                reversed_steps.append(Step(None, state(node)))
                break
            reversed_steps.append(Step(actions[edge_act[edge]], state(node)))
            node = int(parent[node])
        reversed_steps.reverse()
        return reversed_steps

    def successors_of(self, index: int) -> list[tuple[Action, int]]:
        """The recorded outgoing edges of state ``index`` as ``(action, successor number)`` pairs,
        in the order ``successors()`` returned them (without calling the model again)."""
        lo, hi = int(self.edge_start[index]), int(self.edge_start[index + 1])
        actions = self.actions
        return [
            (actions[a], d) for a, d in zip(self.edge_act[lo:hi].tolist(), self.edge_dst[lo:hi].tolist(), strict=True)
        ]

    def to_networkx(self) -> Any:
        """The graph as a ``networkx.DiGraph``: node ``i`` has attribute ``state``; an edge has
        ``action`` (the first action, in exploration order, joining that pair) and ``actions``
        (all of them, in order). Costs about 1 KB per edge: meant for small graphs and exports.
        networkx is not a dependency of the tool: install it (``pip install networkx``) to use this."""
        import networkx as nx

        graph = nx.DiGraph()
        graph.add_nodes_from((i, {"state": s}) for i, s in enumerate(self.states))
        actions = self.actions
        adjacency: dict[tuple[int, int], list[Action]] = {}
        for s, d, a in zip(self.edge_src.tolist(), self.edge_dst.tolist(), self.edge_act.tolist(), strict=True):
            labels = adjacency.get((s, d))
            if labels is None:
                adjacency[(s, d)] = [actions[a]]
            else:
                labels.append(actions[a])
        graph.add_edges_from((s, d, {"action": labels[0], "actions": labels}) for (s, d), labels in adjacency.items())
        return graph

    def fingerprint(self) -> str:
        """A sha256 over a canonical encoding of the graph: a header with the counts, the initial
        state numbers, every state's ``repr`` and every action's ``repr`` (one per line, in number
        order), then the edges as little-endian int32 ``(src, dst, action id)`` triples in edge order.

        Identical across runs, machines and ``PYTHONHASHSEED`` values as long as the model's
        ``repr`` is (a ``frozenset`` of strings, for example, prints in hash order and is not). Pin
        it in a manifest to notice any change to the reachable graph. Computed once per exploration.
        """
        cached = self._graph_cache.get("fingerprint")
        if isinstance(cached, str):
            return cached
        digest = hashlib.sha256()
        update = digest.update
        update(f"migmodel-graph v2 states={len(self.stored)} edges={self.edge_count}\n".encode())
        update(("init " + " ".join(map(str, self.init)) + "\nstates\n").encode())
        for values in (self.states, self.actions):
            for lo in range(0, len(values), 65536):
                update("".join(map(_repr_line, values[lo : lo + 65536])).encode())
            update(b"--\n")
        triples = np.column_stack((self.edge_src, self.edge_dst, self.edge_act)).astype("<i4")
        update(triples.tobytes())
        result = digest.hexdigest()
        self._graph_cache["fingerprint"] = result
        return result


def _sources(edge_start: IntArray) -> IntArray:
    """Each edge's source state, from the CSR offsets (edges are grouped by source)."""
    src: IntArray = np.repeat(np.arange(len(edge_start) - 1, dtype=np.intc), np.diff(edge_start))
    src.flags.writeable = False
    return src


def _repr_line(value: object) -> str:
    return f"{value!r}\n"


def explore(
    model: Model,
    *,
    max_states: int | None = None,
    progress: Callable[[int, int, int], None] | None = None,
    compact: bool = True,
) -> Exploration:
    """Explore every state reachable in ``model``, breadth-first, and return the graph.

    ``max_states`` bounds the number of distinct states: finding one more raises
    ``StateLimitExceeded``, so a configuration that is too large fails fast with numbers instead of
    exhausting memory. ``progress(states, edges, depth)`` is called every ``PROGRESS_EVERY`` new
    states and once at the end.

    A model that offers ``factoring()`` is searched over packed states with memoised component
    moves (``checker.compact``): the same states, edges and numbering, much faster. ``compact=False``
    searches through ``model.successors`` instead (the tests compare the two).

    The garbage collector is disabled during either search: the store only grows and holds no
    cycles, and collections triggered by millions of new objects would otherwise dominate the run
    time (more so in a process that already holds a large heap).
    """
    limit = sys.maxsize if max_states is None else max_states
    if limit < 0:
        raise ValueError(f"max_states must be >= 0, not {max_states}")
    started = time.perf_counter()
    factoring = getattr(model, "factoring", None) if compact else None
    offered = factoring() if callable(factoring) else None
    if offered is not None:
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            return _explore_packed(model, Packed(model.init_states(), offered), limit, progress, started)
        except (HashCollision, StateEncodingError):
            # Two states hashed alike (astronomically rare), or a field has more values than its
            # slot holds: the plain search gives the same result, only slower.
            started = time.perf_counter()
        finally:
            if gc_was_enabled:
                gc.enable()
    search: Any = model
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        states: list[State] = []
        index: dict[State, int] = {}
        parent = array("i")
        parent_edge = array("i")
        depth = array("i")
        edge_start = array("i")
        edge_dst = array("i")
        edge_act = array("i")
        actions: list[Action] = []
        action_ids: dict[Action, int] = {}

        init: list[int] = []
        seen_init: set[int] = set()
        for state in search.init_states():
            number = index.get(state)
            if number is None:
                if len(states) >= limit:
                    raise StateLimitExceeded(len(states), 0, 0)
                number = index[state] = len(states)
                states.append(state)
                parent.append(-1)
                parent_edge.append(-1)
                depth.append(0)
            if number not in seen_init:
                seen_init.add(number)
                init.append(number)

        # The hot loop: locals only, one dict.setdefault per edge for the successor and one
        # dict.get per edge for the action id. ``checkpoint`` folds the state-limit test and the
        # progress schedule into one comparison per new state.
        successors = search.successors
        states_append = states.append
        setdefault = index.setdefault
        parent_append = parent.append
        parent_edge_append = parent_edge.append
        depth_append = depth.append
        start_append = edge_start.append
        dst_append = edge_dst.append
        act_append = edge_act.append
        act_get = action_ids.get
        report_every = PROGRESS_EVERY if progress is not None else sys.maxsize
        next_report = report_every
        count = len(states)
        checkpoint = min(next_report, limit)
        edges = 0
        head = 0
        current_depth = 0
        while head < count:
            state = states[head]
            start_append(edges)
            next_depth = depth[head] + 1
            for act, succ in successors(state):
                number = setdefault(succ, count)
                if number == count:
                    if count >= checkpoint:
                        if count >= limit:
                            raise StateLimitExceeded(count, edges, depth[count - 1])
                        if progress is not None:
                            progress(count, edges, depth[count - 1])
                        next_report += report_every
                        checkpoint = min(next_report, limit)
                    states_append(succ)
                    parent_append(head)
                    parent_edge_append(edges)
                    depth_append(next_depth)
                    count += 1
                dst_append(number)
                aid = act_get(act)
                if aid is None:
                    aid = action_ids[act] = len(actions)
                    actions.append(act)
                act_append(aid)
                edges += 1
            head += 1
        start_append(edges)
        current_depth = depth[count - 1] if count else 0
    finally:
        if gc_was_enabled:
            gc.enable()
    seconds = time.perf_counter() - started
    if progress is not None:
        progress(count, edges, current_depth)

    start_view = _view(edge_start)
    return Exploration(
        model=model,
        stored=states,
        stored_index=index,
        init=init,
        actions=actions,
        edge_start=start_view,
        edge_src=_sources(start_view),
        edge_dst=_view(edge_dst),
        edge_act=_view(edge_act),
        parent=_view(parent),
        parent_edge=_view(parent_edge),
        depth=_view(depth),
        max_depth=current_depth,
        seconds=seconds,
    )


def _explore_packed(
    model: Model, packed: Packed, limit: int, progress: Callable[[int, int, int], None] | None, started: float,
) -> Exploration:
    """``explore`` through ``checker.compact``: same result, states stored packed."""
    next_report = [PROGRESS_EVERY]

    def on_level(states: int, edges: int, depth: int) -> None:
        if progress is not None and states >= next_report[0]:
            progress(states, edges, depth)
            next_report[0] = (states // PROGRESS_EVERY + 1) * PROGRESS_EVERY

    def state_limit(states: int, edges: int, depth: int) -> Exception:
        return StateLimitExceeded(states, edges, depth)

    rows, init, edge_start, edge_dst, edge_act, parent, parent_edge, depth = compact_search(
        packed, limit, on_level, state_limit)
    # Number actions by first appearance along the edges, as the plain search does.
    used, first = np.unique(edge_act, return_index=True)
    by_appearance = used[np.argsort(first, kind="stable")]
    renumber = np.zeros(max(len(packed.actions), 1), dtype=np.int32)
    renumber[by_appearance] = np.arange(len(by_appearance), dtype=np.int32)
    actions = [packed.actions[a] for a in by_appearance.tolist()]
    seconds = time.perf_counter() - started
    count = len(rows)
    max_depth = int(depth[-1]) if count else 0
    if progress is not None:
        progress(count, len(edge_dst), max_depth)

    def frozen(values: npt.NDArray[Any]) -> IntArray:
        view: IntArray = np.ascontiguousarray(values, dtype=np.intc)
        view.flags.writeable = False
        return view

    start_view = frozen(edge_start)
    return Exploration(
        model=model,
        stored=rows,
        stored_index={},
        init=init,
        actions=actions,
        edge_start=start_view,
        edge_src=_sources(start_view),
        edge_dst=frozen(edge_dst),
        edge_act=frozen(renumber[edge_act]),
        parent=frozen(parent),
        parent_edge=frozen(parent_edge),
        depth=frozen(depth),
        max_depth=max_depth,
        seconds=seconds,
        codec=packed.codec,
        memo_misses=packed.misses,
    )
