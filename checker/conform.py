"""Conformance: is a recorded trace a behaviour of the model?

Generic like the rest of ``checker/``: it knows the model only through ``Model`` and the trace only
as observations, ``(side, label)`` pairs in recorded order. The suite supplies
``observe(before, action, after)``, the observations one model step makes (on any side; an
unobservable step observes nothing), and turns its own trace files into a :class:`Case`.

The question is trace validation as TLA+ trace validation asks it: a trace is accepted only when
one run of the model, from an initial state, explains *every* observation of the trace, with
steps that observe nothing (internal steps, unrecorded commands, hidden faults) in between.
Which observation may come before which is a partial order built from the case:

* **within a side**, recorded order (one QMP monitor delivers its events and replies in order),
  whatever the timestamps say; except that a ``leading`` observation (a request, recorded when
  its reply came) may be matched before the earlier-recorded observations of its side whose
  span ends at or after its own span begins (what arrived while it was in flight);
* **across sides**, observation ``i`` precedes ``j`` only if ``i``'s span ends more than
  ``Case.tolerance`` before ``j``'s begins (the sides' clocks and delivery are only that good);
  without ``spans`` the sides are independent;
* ``optional`` observations may be left unmatched (a request whose reply never came may or may
  not have taken effect); matched, they keep their place in the order;
* ``probes`` are observations of a state, not of a step (a ``query-*`` return): matched where
  ``Case.holds(state, side, label)`` is true, between steps;
* the observations of one step match in any order (the model's step is atomic, the real system
  emits them one after the other), except that a ``leading`` observation's step may not also
  match an observation that wholly precedes it (what a request causes does not arrive before it
  was sent).

The search explores ``(model state, progress)`` nodes, highest progress first (so an accepted
trace is usually followed straight through). Progress is, per side, a prefix length and a small
bit set of matched observations past it: every observation before the prefix is matched, or
optional and can no longer be; so a node stays small however long the trace is, and each step is
checked in time independent of the trace's length (near-linear search).

The trace is accepted once every mandatory observation is matched (and ``Case.can_stop`` holds,
if given). When no run matches, the divergence is reported at the furthest progress: the
observation no run could match next, and what the model could observe there instead.

:func:`consistent_states` answers the question a live advisor asks of a trace prefix: which model
states are consistent with everything observed so far, each with one run that leads there.
"""

from __future__ import annotations

import contextlib
import gc
import heapq
import itertools
import math
from bisect import bisect_left, bisect_right
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from checker.spec import Action, Model, State

Observation = tuple[str, Hashable]
"""(side, label): something a recording shows, e.g. ("src", "MIGRATION active")."""

Observe = Callable[[Any, Any, Any], Sequence[Observation]]
"""(state before, action, state after) -> what the step shows, in any order."""

Holds = Callable[[Any, str, Hashable], bool]
"""(state, side, label) -> does this state show what a probe observation says?"""

Frontier = tuple[tuple[int, int], ...]
"""Per side: (p, mask): every observation of the side before index p is done (matched, or
optional and past its chance); bit i of mask: observation p + i is matched."""

Node = tuple[State, Frontier]

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
    """Parallel to ``observations``: (earliest, latest) moment each was made, on one clock; the
    start may be ``-inf`` (known only to have happened by the end). Orders observations of
    different sides (see the module docstring) and lets a ``leading`` one reach back within its
    side. None: the sides are independent and each is in strict recorded order."""
    optional: frozenset[int] = frozenset()
    """Indices into ``observations`` a run may leave unmatched."""
    leading: frozenset[int] = frozenset()
    """Indices into ``observations`` of requests: recorded when their reply came, made when they
    were sent (their span's start)."""
    tolerance: float = 0.0
    """Across sides, spans order two observations only when they are further apart than this."""
    probes: frozenset[int] = frozenset()
    """Indices into ``observations`` that observe a state (matched by ``holds``), not a step."""
    holds: Holds | None = None
    probe_key: Callable[[Any], Hashable] | None = None
    """If given: states with equal keys agree on every ``holds`` (the part of a state a probe
    reads), so probe matching is computed once per key and frontier instead of once per state.
    None: each state is its own key."""
    where: Sequence[str] | None = None
    """Parallel to ``observations``: where each comes from (``"line 12"``), for messages."""
    info: dict[str, Any] = field(default_factory=dict, compare=False)
    """What the suite counted while reading the recording (ignored lines...), reported as is."""
    impossible: tuple[int, str] | None = None
    """(index into ``observations``, why): the suite knows no run can show this observation (a
    name the system never sends); the case is rejected there without a search."""


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
    where: str = ""
    """Where the unmatched observation comes from (``Case.where``), if known."""
    reason: str = ""
    """Why it cannot be matched, when known without a search (``Case.impossible``)."""


@dataclass
class Result:
    accepted: bool
    states: int
    """Search nodes visited: (model state, progress) pairs."""
    limit_reached: bool = False
    divergence: Divergence | None = None
    run: list[tuple[State, Action, State]] = field(default_factory=list)
    """A matching run, step by step (state before, action, state after), when accepted."""
    matched: dict[str, int] = field(default_factory=dict)
    """Observations the run matched, per side (optional ones it left out are not counted)."""
    hidden_steps: int = 0
    """Steps of the run that observe nothing (internal steps, hidden commands and faults)."""


@dataclass
class _Side:
    """One side's observations, indexed for the search."""

    labels: list[Hashable]
    glob: list[int]
    """Global index (into ``Case.observations``) of each."""
    need: list[tuple[int, ...]]
    """need[j][k]: every mandatory observation of side k before this index precedes j."""
    mand: list[bool]
    nextmand: list[int]
    """nextmand[i]: the first mandatory index >= i (n if none); length n + 1."""
    reach: list[int]
    """reach[f]: the largest j whose own-side need is <= f (what may be matched while f is the
    first unmatched mandatory observation); length n + 1."""
    leading: list[bool]
    probe: list[bool]
    by_label: dict[Hashable, list[int]]
    nextprobe: list[int]
    """nextprobe[i]: the first probe index >= i (n if none); length n + 1."""
    n: int


class _Index:
    """The case's observations as per-side sequences with their orders."""

    def __init__(self, case: Case) -> None:
        obs = case.observations
        n = len(obs)
        if case.spans is not None and len(case.spans) != n:
            raise ValueError(f"{len(case.spans)} spans for {n} observations")
        for g in case.optional | case.leading | case.probes:
            if not 0 <= g < n:
                raise ValueError("optional, leading or probe observation index out of range")
        if case.probes and case.holds is None:
            raise ValueError("probe observations need Case.holds")
        tol = float(case.tolerance)
        if not tol >= 0 or math.isinf(tol):
            raise ValueError(f"tolerance must be a finite number >= 0, not {case.tolerance!r}")
        self.sides = case.sides
        k_of = {s: k for k, s in enumerate(case.sides)}
        per_glob: list[list[int]] = [[] for _ in case.sides]
        for g, (side, _) in enumerate(obs):
            k = k_of.get(side)
            if k is None:
                raise ValueError(f"observation on unknown side {side!r} (sides: {', '.join(case.sides)})")
            per_glob[k].append(g)
        spans = case.spans
        if spans is not None:
            for g, (lo, hi) in enumerate(spans):
                if not (lo <= hi) or math.isnan(hi) or math.isinf(hi):
                    raise ValueError(f"observation {g}: bad span ({lo}, {hi})")
        # Per side: the running maximum of span ends (a side's spans should grow with recorded
        # order; the maximum keeps the cross-side needs prefixes even if they do not).
        cummax: list[list[float]] = []
        for k in range(len(case.sides)):
            acc, run = -math.inf, []
            for g in per_glob[k]:
                if spans is not None:
                    acc = max(acc, spans[g][1])
                run.append(acc)
            cummax.append(run)
        self.per: list[_Side] = []
        for k in range(len(case.sides)):
            gl = per_glob[k]
            m = len(gl)
            labels = [obs[g][1] for g in gl]
            lead = [g in case.leading for g in gl]
            own: list[int] = []
            for j, g in enumerate(gl):
                lo = j
                if lead[j] and spans is not None:
                    start = spans[g][0]
                    while lo > 0 and spans[gl[lo - 1]][1] >= start:
                        lo -= 1
                own.append(lo)
            need: list[tuple[int, ...]] = []
            for j, g in enumerate(gl):
                row = []
                for k2 in range(len(case.sides)):
                    if k2 == k:
                        row.append(own[j])
                    elif spans is None:
                        row.append(0)
                    else:
                        start = spans[g][0]
                        row.append(bisect_left(cummax[k2], start - tol) if start > -math.inf else 0)
                need.append(tuple(row))
            mand = [g not in case.optional for g in gl]
            nextmand = [m] * (m + 1)
            for j in range(m - 1, -1, -1):
                nextmand[j] = j if mand[j] else nextmand[j + 1]
            reach = [-1] * (m + 1)
            for j in range(m):
                reach[own[j]] = max(reach[own[j]], j)
            for f in range(1, m + 1):
                reach[f] = max(reach[f], reach[f - 1])
            by_label: dict[Hashable, list[int]] = {}
            for j, label in enumerate(labels):
                by_label.setdefault(label, []).append(j)
            probe = [g in case.probes for g in gl]
            nextprobe = [m] * (m + 1)
            for j in range(m - 1, -1, -1):
                nextprobe[j] = j if probe[j] else nextprobe[j + 1]
            self.per.append(_Side(labels, gl, need, mand, nextmand, reach, lead, probe, by_label, nextprobe, m))
        self.k_of = k_of
        self.start: Frontier = tuple(_normal(sd, 0, 0) for sd in self.per)
        self._firsts: dict[tuple[int, int, int], int] = {}

    def first_undone(self, k: int, p: int, mask: int) -> int:
        """The first mandatory observation of side k not yet matched (n if none)."""
        key = (k, p, mask)
        got = self._firsts.get(key)
        if got is not None:
            return got
        sd = self.per[k]
        i = sd.nextmand[p] if p <= sd.n else sd.n
        while i < sd.n and (mask >> (i - p)) & 1:
            i = sd.nextmand[i + 1]
        if len(self._firsts) > 1_000_000:
            self._firsts.clear()
        self._firsts[key] = i
        return i

    def finished(self, fr: Frontier) -> bool:
        return all(self.first_undone(k, p, m) >= self.per[k].n for k, (p, m) in enumerate(fr))

    def matched(self, fr: Frontier) -> int:
        """How many observations are done (matched, or optional and skipped) in all."""
        return sum(p + m.bit_count() for p, m in fr)

    def apply(self, fr: Frontier, chosen: Sequence[tuple[int, int]], strict: bool = False) -> Frontier | None:
        """Match the (side, index) pairs of one step at once; None if the order forbids it (or,
        ``strict``, if it would leave an optional observation unmatched for good)."""
        tent = list(fr)
        for k, j in chosen:
            p, m = tent[k]
            if j < p or (m >> (j - p)) & 1:
                return None
            tent[k] = (p, m | 1 << (j - p))
        firsts: list[int | None] = [None] * len(tent)
        advance = [p for p, _ in tent]
        for k, j in chosen:
            sd = self.per[k]
            need = sd.need[j]
            for k2, nd in enumerate(need):
                if nd > tent[k2][0]:
                    f = firsts[k2]
                    if f is None:
                        f = firsts[k2] = self.first_undone(k2, *tent[k2])
                    if nd > f:
                        return None
                if nd > advance[k2]:
                    advance[k2] = nd
            if sd.leading[j]:
                for k2, j2 in chosen:
                    if (k2, j2) != (k, j) and j2 < need[k2]:
                        return None
        out = []
        for k, (p, m) in enumerate(tent):
            q = advance[k]
            if q > p:
                if strict and m & ((1 << (q - p)) - 1) != (1 << (q - p)) - 1:
                    return None
                m >>= q - p
                p = q
            out.append(_normal(self.per[k], p, m))
        return tuple(out)

    def candidates(self, fr: Frontier, k: int, labels: Sequence[Hashable]) -> list[list[int]]:
        """Per label, the indices of side k it might match (a superset; ``apply`` decides)."""
        sd = self.per[k]
        p, m = fr[k]
        f = self.first_undone(k, p, m)
        for _ in range(len(labels) - 1):  # the step's other labels may fill the next holes
            if f < sd.n:
                m |= 1 << (f - p)
                f = self.first_undone(k, p, m)
        hi = sd.reach[min(f, sd.n)]
        out = []
        for label in labels:
            lst = sd.by_label.get(label)
            if not lst:
                return []
            a, b = bisect_left(lst, p), bisect_right(lst, hi)
            got = [j for j in lst[a:b] if not sd.probe[j]]
            if not got:
                return []
            out.append(got)
        return out


_LOOK = 4
"""``_Search.pending`` covers the steps of up to this many observations; larger ones are tried."""
_MEMO_LIMIT = 1_000_000
"""Entries per frontier memo of ``_Search`` before it is emptied (memory stays bounded)."""


def _normal(sd: _Side, p: int, m: int) -> tuple[int, int]:
    while m & 1:
        m >>= 1
        p += 1
    return p, m


Step = tuple[Action, State, tuple[Observation, ...]]
_Succ = tuple[list[tuple[Action, int, int, tuple[Observation, ...], frozenset[Observation] | None]],
              list[tuple[Action, int]]]
_FMASK = (1 << 32) - 1
"""A search node is ``state id << 32 | frontier id``."""


class _Search:
    """The search shared by :func:`conform` and :func:`consistent_states`.

    Its nodes are single ints, ``state id << 32 | frontier id``: model states and frontiers are
    numbered when first met (``states``, ``frs``), so a node is hashed and compared as an int
    instead of as a model state and a frontier at every set, dict and heap operation. What
    depends only on the frontier (and, for probes, on the state's ``Case.probe_key``) is
    computed once per frontier: a search that rejects a long trace visits every state consistent
    with each prefix, tens per frontier, and each of them asks the same questions.
    """

    def __init__(self, case: Case) -> None:
        self.case = case
        self.ix = _Index(case)
        self.cache: dict[Any, Any] = {} if case.cache is None else case.cache
        self.seen: set[int] = set()
        """Raw nodes (before ``settle``) already produced."""
        self.states: list[State] = []
        self._ids: dict[State, int] = {}
        self._succ: list[_Succ | None] = []
        """Per state id: its steps (action, next state id, observations id, observations, their
        set if ``pending`` can rule the step out), then the hidden ones alone."""
        self._pk: list[int] = []
        self._pk_ids: dict[Hashable, int] = {}
        self.key: Callable[[State], Hashable] = case.probe_key or (lambda state: state)
        self.frs: list[Frontier] = []
        self._fids: dict[Frontier, int] = {}
        self._obs_ids: dict[tuple[Observation, ...], int] = {}
        self._pending: list[int] = []
        """Per frontier id: the id of its ``pending`` set (-1: not yet computed)."""
        self._pending_sets: list[frozenset[Observation]] = []
        self._pending_ids: dict[frozenset[Observation], int] = {}
        self._matched: list[int] = []
        self._finished: list[int] = []
        """Per frontier id: 1 finished, 0 not, -1 not yet computed."""
        self._advance: dict[int, list[int]] = {}
        self._settle: dict[int, int] = {}
        self._probes: dict[int, list[tuple[str, int]]] = {}
        self._usable: dict[int, list[tuple[Action, int, int, tuple[Observation, ...]]]] = {}

    def sid(self, state: State) -> int:
        """The id of ``state`` in this search (given on first sight)."""
        got = self._ids.get(state)
        if got is None:
            got = self._ids[state] = len(self.states)
            self.states.append(state)
            self._succ.append(None)
            self._pk.append(self._pk_ids.setdefault(self.key(state), len(self._pk_ids)))
        return got

    def fid(self, fr: Frontier) -> int:
        """The id of frontier ``fr`` in this search (given on first sight)."""
        got = self._fids.get(fr)
        if got is None:
            got = self._fids[fr] = len(self.frs)
            self.frs.append(fr)
            self._pending.append(-1)
            self._matched.append(self.ix.matched(fr))
            self._finished.append(-1)
        return got

    def node(self, state: State, fr: Frontier) -> int:
        """The settled node of ``state`` at ``fr``."""
        i = self.sid(state)
        return i << 32 | self.settle(i, self.fid(fr))

    def matched(self, node: int) -> int:
        return self._matched[node & _FMASK]

    def finished(self, node: int) -> bool:
        f = node & _FMASK
        got = self._finished[f]
        if got < 0:
            got = self._finished[f] = int(self.ix.finished(self.frs[f]))
        return got == 1

    def steps(self, state: State) -> list[Step]:
        got = self.cache.get(state)
        if got is None:
            observe = self.case.observe
            got = [(a, t, tuple(observe(state, a, t))) for a, t in self.case.model.successors(state)]
            self.cache[state] = got
        result: list[Step] = got
        return result

    def _successors(self, sid: int) -> _Succ:
        succ = self._succ[sid]
        if succ is None:
            oids = self._obs_ids
            steps = [(a, self.sid(t), oids.setdefault(obs, len(oids)), obs,
                      frozenset(obs) if obs and len(obs) <= _LOOK else None)
                     for a, t, obs in self.steps(self.states[sid])]
            succ = self._succ[sid] = (steps, [(a, t) for a, t, _, obs, _ in steps if not obs])
        return succ

    def advance(self, fid: int, oid: int, obs: tuple[Observation, ...]) -> list[int]:
        """The frontier ids after a step observing ``obs`` (its id ``oid``) at frontier ``fid``."""
        key = oid << 32 | fid
        got = self._advance.get(key)
        if got is None:
            got = self._advance[key] = [self.fid(f) for f in self._advance_uncached(self.frs[fid], obs)]
            self._trim(self._advance)
        return got

    def children(self, node: int, observed: bool = True, hidden: bool = True) -> list[tuple[int, Any]]:
        """The nodes one step (or one probe) from ``node``, settled: through steps (and probes)
        that match observations if ``observed``, through steps that observe nothing if
        ``hidden``. A child already produced before (by any node) is left out: it was handled
        then."""
        sid, fid = node >> 32, node & _FMASK
        out: list[tuple[int, Any]] = []
        seen = self.seen
        settle = self.settle
        both, hidden_steps = self._successors(sid)
        if observed:
            for side, nf in self.probes(sid, fid):
                out.append((sid << 32 | settle(sid, nf), _Probe(side)))
            pid = self._pending[fid]
            if pid < 0:
                fs = frozenset(self._pending_uncached(self.frs[fid]))
                pid = self._pending[fid] = self._pending_ids.setdefault(fs, len(self._pending_ids))
                if pid == len(self._pending_sets):
                    self._pending_sets.append(fs)
            pending = self._pending_sets[pid]
            if hidden:  # both kinds, in the model's order
                todo = [(a, t, oid, obs) for a, t, oid, obs, need in both if need is None or need <= pending]
            else:
                key = sid << 32 | pid
                got = self._usable.get(key)
                if got is None:
                    got = self._usable[key] = [(a, t, oid, obs) for a, t, oid, obs, need in both
                                               if obs and (need is None or need <= pending)]
                    self._trim(self._usable)
                todo = got
            for action, nxt, oid, obs in todo:
                for nf in (self.advance(fid, oid, obs) if obs else (fid,)):
                    raw = nxt << 32 | nf
                    if raw in seen:
                        continue
                    seen.add(raw)
                    out.append((nxt << 32 | settle(nxt, nf), action))
        elif hidden:
            for action, nxt in hidden_steps:
                raw = nxt << 32 | fid
                if raw in seen:
                    continue
                seen.add(raw)
                out.append((nxt << 32 | settle(nxt, fid), action))
        return out

    @staticmethod
    def _trim(memo: dict[Any, Any]) -> None:
        if len(memo) > _MEMO_LIMIT:
            memo.clear()

    def _advance_uncached(self, fr: Frontier, obs: tuple[Observation, ...]) -> list[Frontier]:
        if not obs:
            return [fr]
        if len(obs) == 1:  # the common case, without the product below
            k = self.ix.k_of.get(obs[0][0])
            if k is None:
                return []
            cands = self.ix.candidates(fr, k, (obs[0][1],))
            got = {nfr for j in cands[0] if (nfr := self.ix.apply(fr, ((k, j),))) is not None} if cands else set()
            return sorted(got)
        by_side: dict[int, list[Hashable]] = {}
        for side, label in obs:
            k = self.ix.k_of.get(side)
            if k is None:
                return []
            by_side.setdefault(k, []).append(label)
        choices: list[list[list[tuple[int, int]]]] = []
        for k, labels in by_side.items():
            cands = self.ix.candidates(fr, k, labels)
            if not cands:
                return []
            opts = [[(k, j) for j in combo] for combo in itertools.product(*cands) if len(set(combo)) == len(combo)]
            if not opts:
                return []
            choices.append(opts)
        out: set[Frontier] = set()
        for parts in itertools.product(*choices):
            chosen = [c for part in parts for c in part]
            nfr = self.ix.apply(fr, chosen)
            if nfr is not None:
                out.add(nfr)
        return sorted(out)

    def _pending_uncached(self, fr: Frontier) -> set[Observation]:
        out: set[Observation] = set()
        ix = self.ix
        for k, sd in enumerate(ix.per):
            p, m = fr[k]
            if p >= sd.n:
                continue
            f, mm = ix.first_undone(k, p, m), m
            for _ in range(_LOOK - 1):  # as ``candidates`` does for a step of up to _LOOK labels
                if f < sd.n:
                    mm |= 1 << (f - p)
                    f = ix.first_undone(k, p, mm)
            hi = sd.reach[min(f, sd.n)]
            side = ix.sides[k]
            for j in range(p, min(hi, sd.n - 1) + 1):
                if not (m >> (j - p)) & 1:
                    out.add((side, sd.labels[j]))
        return out

    def settle(self, sid: int, fid: int) -> int:
        """Match every probe state ``sid`` shows that may be matched now without giving up an
        optional observation: matching it now loses no run (a probe changes no state, and
        whatever may follow it later may follow it now), and it keeps the search from trying
        each hidden step before and after each query. Frontier ids in and out."""
        if not self.case.probes:
            return fid
        key = self._pk[sid] << 32 | fid
        got = self._settle.get(key)
        if got is None:
            got = self._settle[key] = self.fid(self._settle_uncached(self.states[sid], self.frs[fid]))
            self._trim(self._settle)
        return got

    def _settle_uncached(self, state: State, fr: Frontier) -> Frontier:
        holds = self.case.holds
        assert holds is not None
        changed = True
        while changed:
            changed = False
            for k, sd in enumerate(self.ix.per):
                p, m = fr[k]
                j = sd.nextprobe[min(p, sd.n)]
                if j >= sd.n:
                    continue
                f = self.ix.first_undone(k, p, m)
                hi = sd.reach[min(f, sd.n)]
                while j <= hi:
                    if not (m >> (j - p)) & 1 and holds(state, self.ix.sides[k], sd.labels[j]):
                        nfr = self.ix.apply(fr, [(k, j)], strict=True)
                        if nfr is not None:
                            fr, changed = nfr, True
                            break
                    j = sd.nextprobe[j + 1]
        return fr

    def probes(self, sid: int, fid: int) -> list[tuple[str, int]]:
        """Frontier ids after matching one probe observation that state ``sid`` shows (those
        ``settle`` leaves: matching them gives up an optional observation)."""
        if not self.case.probes:
            return []
        key = self._pk[sid] << 32 | fid
        got = self._probes.get(key)
        if got is None:
            got = self._probes[key] = [(side, self.fid(f)) for side, f in
                                       self._probes_uncached(self.states[sid], self.frs[fid])]
            self._trim(self._probes)
        return got

    def _probes_uncached(self, state: State, fr: Frontier) -> list[tuple[str, Frontier]]:
        holds = self.case.holds
        assert holds is not None
        out = []
        for k, sd in enumerate(self.ix.per):
            p, m = fr[k]
            j = sd.nextprobe[min(p, sd.n)]
            if j >= sd.n:
                continue
            f = self.ix.first_undone(k, p, m)
            hi = sd.reach[min(f, sd.n)]
            while j <= hi:
                if not (m >> (j - p)) & 1 and holds(state, self.ix.sides[k], sd.labels[j]):
                    nfr = self.ix.apply(fr, [(k, j)])
                    if nfr is not None:
                        out.append((self.ix.sides[k], nfr))
                j = sd.nextprobe[j + 1]
        return out


def conform(case: Case, max_states: int = DEFAULT_MAX_STATES) -> Result:
    """Search the model for a run that explains every observation of ``case``."""
    with _no_gc():
        return _conform(case, max_states)


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """The cyclic garbage collector off during a search: the search makes no reference cycles
    (its nodes are ints, its memos tuples and lists), but the collector would still scan its
    hundreds of thousands of live objects again and again (a quarter of the time of rejecting
    a 100 k-line trace)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _conform(case: Case, max_states: int) -> Result:
    search = _Search(case)
    ix = search.ix
    if case.impossible is not None:
        return Result(False, 0, False, _impossible(case, ix, *case.impossible))
    parent: Parents = {}
    # (-progress, phase, order, node): a node is expanded twice, first through the steps that
    # match observations (phase 0), then, once nothing with more progress is left, through its
    # hidden steps (phase 1). An accepted trace is usually followed without ever taking the
    # hidden steps off every matched observation.
    heap: list[tuple[int, int, int, int]] = []
    seq = itertools.count()
    for s0 in case.model.init_states():
        node = search.node(s0, ix.start)
        if node not in parent:
            parent[node] = None
            heapq.heappush(heap, (-search.matched(node), 0, next(seq), node))
    best = -1
    frontier: list[int] = []
    limit = False
    found: int | None = None
    matched_of = search.matched
    push = heapq.heappush
    while heap:
        negp, phase, _, node = heapq.heappop(heap)
        if phase == 0:
            progress = -negp
            if progress > best:
                best, frontier = progress, [node]
            elif progress == best:
                frontier.append(node)
            if search.finished(node) and (case.can_stop is None or case.can_stop(search.states[node >> 32])):
                found = node
                break
            push(heap, (negp, 1, next(seq), node))
        for child, action in search.children(node, observed=phase == 0, hidden=phase == 1):
            if child in parent:
                continue
            if len(parent) >= max_states:
                limit = True
                break
            parent[child] = (node, action)
            push(heap, (-matched_of(child), 0, next(seq), child))
        if limit:
            break

    if found is not None:
        run = _path(parent, found, search.states)
        matched: dict[str, int] = dict.fromkeys(case.sides, 0)
        hidden = 0
        for before, action, after in run:
            seen = case.observe(before, action, after)
            hidden += not seen
            for side, _ in seen:
                matched[side] += 1
        for g in case.probes:  # all matched (mandatory), some by ``settle`` without a parent link
            matched[case.observations[g][0]] += 1
        return Result(True, len(parent), limit, None, run, matched, hidden)
    return Result(False, len(parent), limit,
                  _divergence(case, ix, search, [(search.states[n >> 32], search.frs[n & _FMASK]) for n in frontier]))


@dataclass(frozen=True)
class _Probe:
    """The pseudo-step of a matched probe observation (no model step)."""

    side: str


Parents = dict[int, tuple[int, Any] | None]
"""Each search node (``_Search``: state id << 32 | frontier id) with the node and action it was
first reached from (None for an initial node)."""


def _path(parent: Parents, node: int, states: list[State]) -> list[tuple[State, Action, State]]:
    run: list[tuple[State, Action, State]] = []
    cur = node
    while True:
        link = parent[cur]
        if link is None:
            break
        prev, action = link
        if not isinstance(action, _Probe):
            run.append((states[prev >> 32], action, states[cur >> 32]))
        cur = prev
    run.reverse()
    return run


@dataclass
class Consistent:
    """The model states consistent with a recording (all of its observations consumed)."""

    states: dict[State, list[tuple[State, Action, State]]]
    """Each state with one run from an initial state that explains every observation and ends
    there (the first found, breadth-first: a shortest one)."""
    nodes: int
    limit_reached: bool = False


def consistent_states(case: Case, max_states: int = DEFAULT_MAX_STATES) -> Consistent:
    """Every model state a run explaining all of ``case``'s observations can be in at its end.

    For a trace prefix (build the ``Case`` from the lines seen so far): the states the system may
    be in now, with the commands and faults the case leaves hidden possibly taken. ``can_stop``
    is not applied (the recording goes on). Breadth-first, so each witness run is a shortest one.
    Empty when no run explains the prefix (then :func:`conform` says where it diverges).
    """
    with _no_gc():
        return _consistent_states(case, max_states)


def _consistent_states(case: Case, max_states: int) -> Consistent:
    search = _Search(case)
    ix = search.ix
    parent: Parents = {}
    queue: deque[int] = deque()
    for s0 in case.model.init_states():
        node = search.node(s0, ix.start)
        if node not in parent:
            parent[node] = None
            queue.append(node)
    out: dict[State, list[tuple[State, Action, State]]] = {}
    limit = False
    while queue:
        node = queue.popleft()
        state = search.states[node >> 32]
        if search.finished(node) and state not in out:
            out[state] = _path(parent, node, search.states)
        for child, action in search.children(node):
            if child in parent:
                continue
            if len(parent) >= max_states:
                limit = True
                queue.clear()
                break
            parent[child] = (node, action)
            queue.append(child)
    return Consistent(out, len(parent), limit)


def _divergence(case: Case, ix: _Index, search: _Search, frontier: list[Node]) -> Divergence:
    sides = case.sides
    # Among the frontiers at the furthest progress, pick the one whose first unmatched
    # observation comes latest in the recording (the run that followed it longest).
    frs = sorted({fr for _, fr in frontier})

    def first_pending(fr: Frontier) -> tuple[int, int]:
        cands = []
        for k, (p, m) in enumerate(fr):
            i = ix.first_undone(k, p, m)
            if i < ix.per[k].n:
                cands.append((ix.per[k].glob[i], k))
        return min(cands) if cands else (len(case.observations), 0)

    fr = max(frs, key=first_pending) if frs else ix.start
    _, k = first_pending(fr)
    side = sides[k]
    allowed: set[tuple[Observation, ...]] = set()
    for state, f in frontier:
        if f != fr:
            continue
        for _, _, obs in search.steps(state):
            if obs:
                allowed.add(tuple(sorted(obs, key=repr)))
    sd = ix.per[k]
    p, m = fr[k]
    idx = ix.first_undone(k, p, m)
    if idx < sd.n:
        # A step the model allowed may match the first few observations at idx (in any order)
        # and fail on a later one: point at the first observation no allowed step covers.
        rest = [sd.labels[j] for j in range(idx, sd.n) if not (j >= p and (m >> (j - p)) & 1)]
        idx_extra = max((_covered(rest, [lb for s, lb in step if s == side]) for step in allowed), default=0)
        pending = [j for j in range(idx, sd.n) if not (m >> (j - p)) & 1]
        idx = pending[min(idx_extra, len(pending) - 1)]
    label: Hashable = sd.labels[idx] if idx < sd.n else None
    where = ""
    if case.where is not None and idx < sd.n:
        where = case.where[sd.glob[idx]]
    others = []
    for j, s in enumerate(sides):
        pj, mj = fr[j]
        i = ix.first_undone(j, pj, mj)
        if j != k and i < ix.per[j].n:
            others.append((s, i, ix.per[j].labels[i]))
    consumed = {s: fr[j][0] + fr[j][1].bit_count() for j, s in enumerate(sides)}
    return Divergence(side, idx, label, consumed,
                      tuple(sorted(allowed, key=lambda step: (all(o[0] != side for o in step), repr(step)))),
                      tuple(others), where)


def _impossible(case: Case, ix: _Index, g: int, why: str) -> Divergence:
    side = case.observations[g][0]
    k = ix.k_of[side]
    j = ix.per[k].glob.index(g)
    return Divergence(side, j, case.observations[g][1], dict.fromkeys(case.sides, 0), (),
                      where=case.where[g] if case.where is not None else "", reason=why)


def _covered(want: Sequence[Hashable], labels: Sequence[Hashable]) -> int:
    """How many of ``want``'s first observations one step observing ``labels`` covers, if it
    fails on one of them (0 if it covers them all: then the trouble is elsewhere)."""
    left = Counter(labels)
    for n, w in enumerate(want[:len(labels)]):
        if left[w] <= 0:
            return n
        left[w] -= 1
    return 0


def format_observation(obs: Observation) -> str:
    return f"{obs[0]} {obs[1]}"


def format_result(case: Case, result: Result) -> str:
    """One line (plus indented detail lines for a divergence)."""
    if result.accepted:
        per = ", ".join(f"{s} {n}" for s, n in result.matched.items())
        return (f"{case.title}: accepted ({per} observations matched, {result.hidden_steps} hidden steps, "
                f"{result.states:,} states searched)")
    d = result.divergence
    if d is None:  # pragma: no cover - conform always sets it on rejection
        return f"{case.title}: rejected"
    where = ", ".join(f"{s} {n}/{sum(1 for o in case.observations if o[0] == s)}" for s, n in d.consumed.items())
    at = f" ({d.where})" if d.where else ""
    if d.expected is None:
        head = f"{case.title}: rejected: every observation matched but the model cannot stop there"
    else:
        head = (f"{case.title}: rejected at {d.side} observation #{d.index + 1}{at} `{d.expected}` "
                f"(matched so far: {where})")
    if d.reason:
        return f"{case.title}: rejected at {d.side} observation #{d.index + 1}{at} `{d.expected}`: {d.reason}"
    allowed = "; ".join(" + ".join(format_observation(o) for o in step) for step in d.allowed) or "nothing"
    lines = [head, f"  the model allowed there: {allowed}"]
    for s, i, label in d.others:
        lines.append(f"  also unmatched: {s} observation #{i + 1} `{label}`")
    if result.limit_reached:
        lines.append(f"  (search stopped at the limit of {result.states:,} states: the divergence may be later)")
    return "\n".join(lines)
