"""The compact search: packed states, memoised component moves, one BFS level at a time in numpy.

A model that offers a ``Factoring`` (``checker.spec``) is searched here instead of through its
``successors``. Three ideas, all generic:

* **Packing.** Every field of a state gets a fixed slot of bits in a row of 64-bit words; a
  field's values are numbered in the order they are first met (``Codec``). A row is a few
  machine words where a state is a tuple of dozens of Python objects.
* **Memoising by footprint.** A component (one thread, the operator, the fault injector) reads and
  writes only the fields of its footprint, so its moves from a state are a function of the bits of
  that footprint: ``memo[state & mask]`` holds, per enabled action, the footprint bits after the
  move, and the successor is ``(state & ~mask) | bits``. The component's own ``successors`` runs
  only the first time a footprint value is seen (a *miss*); on the QEMU model one thread sees the
  same footprint in 7 to 180 global states.
* **Whole levels at once.** Breadth-first search handles one depth at a time: the masking, the
  memo lookups (one per distinct footprint in the level), the successor rows, the duplicate
  detection (a 64-bit hash of each row, checked against the rows themselves) and the numbering of
  new states are array operations over the level.

The result is exactly what the plain search over ``Model.successors`` gives: the same states, the
same edges in the same order, the same numbering (a state is numbered at its first appearance in
(source, component, move) order, as a FIFO search does). The tests compare both searches'
fingerprints. It relies on the footprints being honest: writes outside a footprint are caught when
a move is first computed (``FootprintError``); a read outside it cannot be caught here (the
component sees the first state's values for every field outside its footprint), so a model proves
its footprints in a test. Two different rows with the same 64-bit hash would make the arrays
ambiguous: it is detected and the caller falls back to the plain search (``HashCollision``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import compress
from operator import and_, is_not, itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from checker.spec import Action, Component, Factoring, State

__all__ = (
    "Codec",
    "FootprintError",
    "HashCollision",
    "Packed",
    "StateEncodingError",
    "search",
)

Rows = npt.NDArray[np.uint64]
Ints = npt.NDArray[np.intp]

WIDE = 12
"""Bits for a field whose values are neither ``bool`` nor an ``Enum`` member (4,096 values)."""

_MIX = np.uint64(0x9E3779B97F4A7C15)


class StateEncodingError(Exception):
    """A field has more distinct values than its slot can number."""


class FootprintError(Exception):
    """A component changed a field outside its declared footprint."""


class HashCollision(Exception):
    """Two different packed states hashed alike; the caller searches the plain way instead."""


def _width(value: object) -> int:
    if isinstance(value, bool):
        return 1
    if isinstance(value, enum.Enum):
        return max(1, len(type(value)).bit_length())
    return WIDE


def _falsy(value: object) -> bool:
    return not value


def _getter(indices: tuple[int, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """``state -> tuple of the values at indices`` (always a tuple, whatever the count)."""
    if not indices:
        return lambda state: ()
    if len(indices) == 1:
        (only,) = indices
        return lambda state: (state[only],)
    return itemgetter(*indices)


class Codec:
    """Packs a state (a tuple of fields) into a row of 64-bit words and back.

    Slot widths come from the first state's values: 1 bit for a ``bool``, enough for every member
    of an ``Enum``, ``WIDE`` bits otherwise; no slot straddles two words. Codes are given in order
    of first appearance, so the packing is deterministic for a deterministic search.
    """

    def __init__(self, fields: Sequence[str], make: Callable[[Sequence[Any]], State], first: State) -> None:
        values: tuple[Any, ...] = tuple(first)  # type: ignore[arg-type]
        if len(values) != len(fields):
            raise StateEncodingError(f"a state has {len(values)} values for {len(fields)} fields")
        self.fields = tuple(fields)
        self.make = make
        self.widths = tuple(_width(v) for v in values)
        word, at = 0, 0
        place: list[tuple[int, int]] = []
        for w in self.widths:
            if at + w > 64:
                word, at = word + 1, 0
            place.append((word, at))
            at += w
        self.words = word + 1
        self.place = tuple(place)
        self.clear = tuple(~(((1 << w) - 1) << shift) for w, (_, shift) in zip(self.widths, place, strict=True))
        """Per field: its word with the field's bits cleared, as a mask."""
        self.codes: tuple[dict[Any, int], ...] = tuple({} for _ in fields)
        self.values: tuple[list[Any], ...] = tuple([] for _ in fields)

    def mask(self, names: frozenset[str]) -> list[int]:
        """The bits of the named fields, one ``int`` per word."""
        unknown = names - set(self.fields)
        if unknown:
            raise StateEncodingError(f"unknown field(s) {', '.join(sorted(unknown))}")
        m = [0] * self.words
        for i, name in enumerate(self.fields):
            if name in names:
                word, shift = self.place[i]
                m[word] |= ((1 << self.widths[i]) - 1) << shift
        return m

    def code(self, i: int, value: Any) -> int:
        """The code of ``value`` in field ``i``, numbering it if it is new."""
        codes = self.codes[i]
        c = codes.get(value)
        if c is None:
            c = len(codes)
            if c >> self.widths[i]:
                raise StateEncodingError(
                    f"field {self.fields[i]} has more than {1 << self.widths[i]:,} distinct values")
            codes[value] = c
            self.values[i].append(value)
        return c

    def encode(self, state: State) -> list[int]:
        """The packed row of ``state`` (numbering new values)."""
        row = [0] * self.words
        values: tuple[Any, ...] = tuple(state)  # type: ignore[arg-type]
        for i, value in enumerate(values):
            word, shift = self.place[i]
            row[word] |= self.code(i, value) << shift
        return row

    def encode_known(self, state: State) -> bytes:
        """The packed row of ``state`` as bytes, or ``KeyError`` if a field holds a value never
        seen (so no state the search reached can equal it)."""
        values: tuple[Any, ...] = tuple(state)  # type: ignore[arg-type]
        if len(values) != len(self.fields):
            raise KeyError(state)
        row = [0] * self.words
        for i, value in enumerate(values):
            word, shift = self.place[i]
            row[word] |= self.codes[i][value] << shift
        return np.array(row, dtype=np.uint64).tobytes()

    def column(self, rows: Rows, i: int) -> Ints:
        """The code of field ``i`` in each of ``rows``."""
        word, shift = self.place[i]
        codes: Ints = ((rows[:, word] >> np.uint64(shift)) & np.uint64((1 << self.widths[i]) - 1)).astype(np.intp)
        return codes

    def decode_one(self, row: Sequence[int]) -> State:
        """The state of one packed row (its words as ints)."""
        return self.make([self.values[i][(row[word] >> shift) & ((1 << self.widths[i]) - 1)]
                          for i, (word, shift) in enumerate(self.place)])

    def decode(self, rows: Rows) -> list[State]:
        """The states of packed ``rows``, in order."""
        columns = []
        for i, (word, shift) in enumerate(self.place):
            codes = (rows[:, word] >> np.uint64(shift)) & np.uint64((1 << self.widths[i]) - 1)
            table = np.empty(len(self.values[i]), dtype=object)
            table[:] = self.values[i]
            columns.append(table[codes.astype(np.intp)].tolist())
        make = self.make
        return [make(values) for values in zip(*columns, strict=True)]


@dataclass
class _Part:
    """One component, ready for the search."""

    component: Component
    mask: Rows
    keep: Rows
    inside: tuple[int, ...]
    outside: tuple[int, ...]
    view: Callable[[Sequence[int]], State]
    inside_of: Callable[[Any], tuple[Any, ...]]
    outside_of: Callable[[Any], tuple[Any, ...]]
    unchanged: tuple[Any, ...]
    """The template's values outside the footprint: every successor must keep them."""
    mask_words: list[int]
    gate: int | None
    """Index of the component's gate field (``Component.gate``), if any."""
    gate_mask: Rows
    idle: Callable[[Any], bool]
    """Whether a value of the gate field means "no moves" (``Component.idle``)."""


class Packed:
    """The packed form of a model: codec, components with their memos, interned actions."""

    def __init__(self, init: Sequence[State], factoring: Factoring) -> None:
        if not init:
            raise StateEncodingError("the model has no initial state")
        self.codec = codec = Codec(factoring.fields, factoring.make, init[0])
        self.init_rows = [codec.encode(s) for s in init]
        self.actions: list[Action] = []
        self._action_ids: dict[Action, int] = {}
        self.misses = 0
        # A component sees its footprint; every other field holds the first state's value. What
        # it does cannot depend on them (the footprint's promise).
        self._template: tuple[Any, ...] = tuple(init[0])  # type: ignore[arg-type]
        self.parts: list[_Part] = []
        for comp in factoring.components:
            mask = codec.mask(comp.footprint)
            inside = tuple(i for i, f in enumerate(codec.fields) if f in comp.footprint)
            outside = tuple(i for i, f in enumerate(codec.fields) if f not in comp.footprint)
            full = (1 << 64) - 1
            if comp.gate is not None and comp.gate not in comp.footprint:
                raise StateEncodingError(f"component {comp.name}: gate {comp.gate} is not in its footprint")
            self.parts.append(_Part(
                component=comp,
                mask=np.array(mask, dtype=np.uint64),
                keep=np.array([full ^ m for m in mask], dtype=np.uint64),
                inside=inside, outside=outside, view=self._viewer(inside),
                inside_of=_getter(inside), outside_of=_getter(outside),
                unchanged=_getter(outside)(self._template), mask_words=mask,
                gate=None if comp.gate is None else codec.fields.index(comp.gate),
                gate_mask=np.array(codec.mask(frozenset({comp.gate} if comp.gate else ())), dtype=np.uint64),
                idle=comp.idle or _falsy))

    def gated_off(self, part: _Part, rows: Rows) -> npt.NDArray[np.bool_]:
        """Which packed rows have the component's gate field falsy (so it has no moves)."""
        assert part.gate is not None
        codec = self.codec
        word, shift = codec.place[part.gate]
        codes = (rows[:, word] >> np.uint64(shift)) & np.uint64((1 << codec.widths[part.gate]) - 1)
        off = np.zeros(len(rows), dtype=bool)
        idle = part.idle
        for code, value in enumerate(codec.values[part.gate]):
            if idle(value):
                off |= codes == np.uint64(code)
        return off

    def _viewer(self, inside: tuple[int, ...]) -> Callable[[Sequence[int]], State]:
        """``row -> state`` with the fields ``inside`` unpacked from the row's words and the others
        from the template, as one generated expression (misses are the slow path of the search)."""
        codec = self.codec
        terms = []
        for i in range(len(codec.fields)):
            word, shift = codec.place[i]
            terms.append(f"V[{i}][(r[{word}] >> {shift}) & {(1 << codec.widths[i]) - 1}]"
                         if i in inside else f"T[{i}]")
        namespace = {"make": codec.make, "V": codec.values, "T": self._template}
        view: Callable[[Sequence[int]], State] = eval(f"lambda r: make(({', '.join(terms)},))", namespace)
        return view

    def views(self, part: _Part, rows: Rows) -> list[State]:
        """The states a component sees for packed ``rows``: its footprint unpacked, every other
        field from the template."""
        return list(map(part.view, rows.tolist()))

    def fill(self, part: _Part, row: Sequence[int], state: State) -> tuple[list[int], list[int]]:
        """A component's moves from the packed state ``row`` (word ints) seen as ``state``: the
        action ids, and the successors' footprint bits (``words`` ints per move)."""
        self.misses += 1
        codec = self.codec
        inside_of = part.inside_of
        before = inside_of(state)
        base = list(map(and_, row, part.mask_words))
        aids: list[int] = []
        bits: list[int] = []
        moves = part.component.successors(state)
        if moves and part.gate is not None and part.idle(state[part.gate]):  # type: ignore[index]
            raise FootprintError(f"component {part.component.name} moved while its gate "
                                 f"{codec.fields[part.gate]} was off (action {moves[0][0]!r})")
        codes, place, clear = codec.codes, codec.place, codec.clear
        for action, succ in moves:
            if part.outside_of(succ) != part.unchanged:
                changed = [codec.fields[i] for i in part.outside if succ[i] != state[i]]  # type: ignore[index]
                raise FootprintError(f"component {part.component.name} changed {', '.join(changed)} "
                                     f"outside its footprint (action {action!r})")
            out = base.copy()
            for i in compress(part.inside, map(is_not, inside_of(succ), before)):
                value = succ[i]  # type: ignore[index]
                code = codes[i].get(value)
                if code is None:
                    code = codec.code(i, value)
                word, shift = place[i]
                out[word] = (out[word] & clear[i]) | (code << shift)
            aid = self._action_ids.get(action)
            if aid is None:
                aid = self._action_ids[action] = len(self.actions)
                self.actions.append(action)
            aids.append(aid)
            bits.extend(out)
        return aids, bits


def _hash(rows: Rows) -> Rows:
    """A 64-bit mix of each row (equal rows, equal hashes; users check the converse)."""
    h = np.zeros(len(rows), dtype=np.uint64)
    for w in range(rows.shape[1]):
        h = (h ^ rows[:, w]) * _MIX
        h ^= h >> np.uint64(29)
    return h


class _Grow:
    """An array that grows by doubling: ``view()`` is what was appended."""

    def __init__(self, dtype: Any, width: int = 0) -> None:
        self.data: npt.NDArray[Any] = np.empty((256, width) if width else 256, dtype=dtype)
        self.size = 0

    def extend(self, values: npt.NDArray[Any]) -> None:
        n = len(values)
        if self.size + n > len(self.data):
            grown = np.empty((max(2 * len(self.data), self.size + n), *self.data.shape[1:]), dtype=self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : self.size + n] = values
        self.size += n

    def view(self) -> npt.NDArray[Any]:
        return self.data[: self.size]


class _Index:
    """Rows -> numbers, by sorted 64-bit hashes checked against the rows themselves."""

    def __init__(self, words: int) -> None:
        self.rows = _Grow(np.uint64, words)
        self.hashes: Rows = np.empty(0, dtype=np.uint64)  # sorted
        self.numbers: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)  # row number of each hash

    def __len__(self) -> int:
        return self.rows.size

    def add(self, rows: Rows, hashes: Rows) -> None:
        """Store new rows (none stored yet, distinct hashes) under the next numbers."""
        first = self.rows.size
        self.rows.extend(rows)
        order = np.argsort(hashes, kind="stable")
        new = hashes[order]
        # merge the sorted new hashes in: their places, then the old ones around them
        place = np.searchsorted(self.hashes, new) + np.arange(len(new))
        old = np.ones(len(self.hashes) + len(new), dtype=bool)
        old[place] = False
        hashes_out = np.empty(len(old), dtype=np.uint64)
        hashes_out[place] = new
        hashes_out[old] = self.hashes
        numbers_out = np.empty(len(old), dtype=np.int64)
        numbers_out[place] = np.arange(first, first + len(rows), dtype=np.int64)[order]
        numbers_out[old] = self.numbers
        self.hashes, self.numbers = hashes_out, numbers_out

    def find(self, rows: Rows, hashes: Rows) -> npt.NDArray[np.int64]:
        """The number of each row, or -1 for a row not stored."""
        out = np.full(len(rows), -1, dtype=np.int64)
        if not len(self.hashes) or not len(rows):
            return out
        order = np.argsort(hashes)
        at = np.empty(len(hashes), dtype=np.intp)
        at[order] = np.searchsorted(self.hashes, hashes[order])  # sorted needles: cache-friendly
        at = np.minimum(at, len(self.hashes) - 1)
        hit = self.hashes[at] == hashes
        numbers = self.numbers[at[hit]]
        if not np.array_equal(self.rows.data[numbers], rows[hit]):
            raise HashCollision
        out[hit] = numbers
        return out


def _distinct(rows: Rows, hashes: Rows) -> tuple[Rows, Ints, Ints]:
    """The hashes of the distinct rows, the first position of each, and each row's distinct
    index. Raises ``HashCollision`` if two different rows hash alike."""
    unique, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    if not np.array_equal(rows, rows[first[inverse]]):
        raise HashCollision
    return unique, first, inverse


class _Memo:
    """A component's memo: footprint rows -> entries; entry ``e``'s moves are
    ``acts/bits[start[e] : start[e] + size[e]]``."""

    def __init__(self, words: int) -> None:
        self.index = _Index(words)
        self.start = _Grow(np.intp)
        self.size = _Grow(np.intp)
        self.acts = _Grow(np.int32)
        self.bits = _Grow(np.uint64, words)

    def learn(self, keys: Rows, key_hashes: Rows, moves: list[tuple[list[int], list[int]]]) -> Ints:
        """Store the moves of new footprints (``Packed.fill`` results); returns their entries."""
        first = len(self.index)
        sizes = np.array([len(acts) for acts, _ in moves], dtype=np.intp)
        self.start.extend(self.acts.size + np.cumsum(sizes) - sizes)
        self.size.extend(sizes)
        self.acts.extend(np.array([a for acts, _ in moves for a in acts], dtype=np.int32))
        words = self.bits.data.shape[1]
        self.bits.extend(np.array([b for _, bits in moves for b in bits], dtype=np.uint64).reshape(-1, words))
        self.index.add(keys, key_hashes)
        return np.arange(first, first + len(moves), dtype=np.int64)


def search(
    packed: Packed,
    limit: int,
    on_level: Callable[[int, int, int], None],
    state_limit: Callable[[int, int, int], Exception],
) -> tuple[Rows, list[int], Ints, Ints, Ints, Ints, Ints, Ints]:
    """Breadth-first search over packed states, one level at a time.

    Returns (rows, init numbers, edge_start, edge_dst, edge_act, parent, parent_edge, depth).
    ``on_level(states, edges, depth)`` runs after each level; ``state_limit(states, edges, depth)``
    builds the exception raised when more than ``limit`` states would be stored.
    """
    words = packed.codec.words
    store = _Index(words)
    memos = [_Memo(words) for _ in packed.parts]
    init: list[int] = []
    parent_parts: list[Ints] = []
    parent_edge_parts: list[Ints] = []
    depth_parts: list[Ints] = []
    for values in packed.init_rows:
        one = np.array([values], dtype=np.uint64)
        h = _hash(one)
        number = int(store.find(one, h)[0])
        if number < 0:
            if len(store) >= limit:
                raise state_limit(len(store), 0, 0)
            number = len(store)
            store.add(one, h)
            parent_parts.append(np.array([-1], dtype=np.intp))
            parent_edge_parts.append(np.array([-1], dtype=np.intp))
            depth_parts.append(np.array([0], dtype=np.intp))
        if number not in init:
            init.append(number)

    counts_parts: list[Ints] = []
    act_parts: list[npt.NDArray[np.int32]] = []
    dst_parts: list[npt.NDArray[np.int64]] = []
    edges = 0
    lo, hi, level = 0, len(store), 0
    while lo < hi:
        frontier = store.rows.data[lo:hi]
        n = hi - lo
        produced: list[tuple[Ints, Ints, Ints, npt.NDArray[np.int32], Rows]] = []
        total_per_state = np.zeros(n, dtype=np.intp)
        for part, memo in zip(packed.parts, memos, strict=True):
            # Each distinct footprint of the level: its memo entry, computed on a miss.
            keys = frontier & part.mask
            if part.gate is not None:
                # Every state whose gate is off shares one key: the component does nothing there.
                off = packed.gated_off(part, frontier)
                keys[off] = frontier[off] & part.gate_mask
            key_hashes = _hash(keys)
            entry = memo.index.find(keys, key_hashes)
            missing = np.flatnonzero(entry < 0)
            if len(missing):
                new_hashes, first, inverse = _distinct(keys[missing], key_hashes[missing])
                at = missing[first]
                rows = frontier[at]
                seen = zip(rows.tolist(), packed.views(part, rows), strict=True)
                moves = [packed.fill(part, row, state) for row, state in seen]
                entry[missing] = memo.learn(keys[at], new_hashes, moves)[inverse]
            # Each state's moves: its entry's, applied to the state's other fields.
            per_state = memo.size.data[entry]
            total = int(per_state.sum())
            if not total:
                continue
            src = np.repeat(np.arange(n, dtype=np.intp), per_state)
            offset = np.cumsum(per_state) - per_state
            rank = np.arange(total, dtype=np.intp) - offset[src]  # the move's place among its state's
            move = memo.start.data[entry][src] + rank
            # where these edges go among the state's: after the earlier components' edges
            produced.append((src, rank + total_per_state[src], per_state, memo.acts.data[move],
                             (frontier[src] & part.keep) | memo.bits.data[move]))
            total_per_state += per_state
        # The level's edges in (source, component, move) order, the order of a FIFO search.
        base = np.cumsum(total_per_state) - total_per_state
        count = int(total_per_state.sum())
        src = np.repeat(np.arange(n, dtype=np.intp), total_per_state)
        acts = np.empty(count, dtype=np.int32)
        succ = np.empty((count, words), dtype=np.uint64)
        for part_src, part_rank, _, part_acts, part_succ in produced:
            at = base[part_src] + part_rank
            acts[at] = part_acts
            succ[at] = part_succ
        numbers = np.empty(0, dtype=np.int64)
        if len(succ):
            # Number the new states in order of first appearance along the edges.
            hashes = _hash(succ)
            numbers = store.find(succ, hashes)
            missing = np.flatnonzero(numbers < 0)
            if len(missing):
                new_hashes, first, inverse = _distinct(succ[missing], hashes[missing])
                by_appearance = np.argsort(first, kind="stable")
                if len(store) + len(first) > limit:
                    raise state_limit(limit, edges, level)
                fresh = np.empty(len(first), dtype=np.int64)
                fresh[by_appearance] = np.arange(len(store), len(store) + len(first))
                numbers[missing] = fresh[inverse]
                appear = missing[first[by_appearance]]
                store.add(succ[appear], new_hashes[by_appearance])
                parent_parts.append(lo + src[appear])
                parent_edge_parts.append(edges + appear)
                depth_parts.append(np.full(len(appear), level + 1, dtype=np.intp))
        counts_parts.append(total_per_state)
        act_parts.append(acts)
        dst_parts.append(numbers)
        edges += len(src)
        lo, hi = hi, len(store)
        level += 1
        on_level(len(store), edges, level if lo < hi else level - 1)

    edge_start = np.zeros(len(store) + 1, dtype=np.intp)
    if counts_parts:
        np.cumsum(np.concatenate(counts_parts), out=edge_start[1:])
    cat = np.concatenate
    return (
        store.rows.view().copy(),
        init,
        edge_start,
        cat(dst_parts) if dst_parts else np.empty(0, dtype=np.int64),
        cat(act_parts) if act_parts else np.empty(0, dtype=np.int32),
        cat(parent_parts),
        cat(parent_edge_parts),
        cat(depth_parts),
    )
