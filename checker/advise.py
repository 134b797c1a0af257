"""Advice from a partial observation: what may an operator safely do now?

Generic like the rest of ``checker/``. The input is a conformance :class:`~checker.conform.Case`
holding what has been observed so far (a trace prefix), or a set of model states given directly
(a live snapshot). The model states consistent with it are those a run of the model reaches while
showing exactly the observations, each side in its order, followed by any number of steps that
show nothing (they may have happened since the last observation). A suite's :class:`Advisor` says
what matters about a state; the engine then answers, over *all* consistent states at once:

* where the newest guest state is (``newest``),
* whether resuming the source is safe: in every consistent state the destination guest has never
  run, and no continuation of the model (any step: QEMU's, the operator's, a fault) lets it run,
* whether the pair is stuck: nothing but an operator action or a fault can change its state, and
  it is not at a good end,
* what can still happen by itself (the outcomes reachable by QEMU's own steps),
* which operator actions are safe: an action is unsafe when QEMU's own steps after it reach a
  harm (with the shortest such path).

Each answer is ``yes`` / ``no`` / ``unknown`` with its reason and the model's evidence (a run to a
consistent state, and the steps on to what decides it; for ``unknown``, one run per possibility).
An unknown answer names the cheapest observation that decides it: one query of the advisor's list
(in order of cost), else the fewest queries together, else it says that no query does.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from checker.conform import Case, consistent_states
from checker.spec import Action, Model, State

OPERATOR, FAULT, INTERNAL = "operator", "fault", "internal"
YES, NO, UNKNOWN = "yes", "no", "unknown"

DEFAULT_MAX_STATES = 1_000_000


class AdviceError(ValueError):
    """Nothing to advise on: the observations are impossible, or too large to search."""


class AdviceLimit(AdviceError):
    """The search passed its state bound: no advice, and nothing was decided (exit 3)."""


@dataclass(frozen=True)
class Advisor:
    """What a suite tells the advice engine about its states and actions."""

    kind: Callable[[Any], str]
    """``OPERATOR`` (what a management layer may do: a command, a kill, a yank), ``FAULT`` (what
    the environment does) or ``INTERNAL`` (the systems' own steps)."""
    label: Callable[[Any], str]
    """How a person names an operator action (``"dst: quit"``)."""
    remote_ran: Callable[[Any], bool]
    """History: the destination's guest has run (monotone along a run)."""
    newest: Callable[[Any], str]
    """Where the newest guest state is in this state (``source``, ``destination``, ``split``...)."""
    outcome: Callable[[Any], tuple[str, bool]]
    """A state where only operator actions and faults are left: its name, and whether it is a good
    end (nothing more to do)."""
    harm: Callable[[Any], tuple[str, ...]]
    """What is wrong in this state (both guests run, a rollback, the machine lost): empty if
    nothing is."""
    queries: Sequence[tuple[str, Callable[[Any], Hashable]]] = ()
    """Observations an operator can make now without changing anything, cheapest first: name
    (``"query-status on the destination"``) and the answer it would give in a state."""
    describe: Callable[[Any], str] = str
    """One line for a state, for the evidence."""
    refused: Callable[[Any], bool] = lambda _a: False
    """An operator action the system answers with an error and nothing else (listed apart)."""


@dataclass
class Answer:
    """One question's answer over the consistent states."""

    answer: str
    reason: str
    evidence: list[str] = field(default_factory=list)
    """A witness or counterexample path, one step a line."""
    decide_by: str | None = None
    """For ``unknown``: the cheapest query whose answer would decide it."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"answer": self.answer, "reason": self.reason}
        if self.evidence:
            out["evidence"] = self.evidence
        if self.decide_by:
            out["decide_by"] = self.decide_by
        return out


@dataclass
class Advice:
    consistent_states: int
    newest_state_on: Answer
    source_resume_safe: Answer
    stuck: Answer
    possible_outcomes: list[str]
    safe_actions: list[dict[str, Any]]
    unsafe_actions: list[dict[str, Any]]
    unknowns: list[str]
    searched: int = 0
    danger: list[str] = field(default_factory=list)
    """Harms QEMU's own steps can still reach from some consistent state, whatever the operator
    does (a continuation where no action helps). They are also in ``possible_outcomes``."""

    def to_json(self) -> dict[str, Any]:
        """The answers under the keys the advise issue fixes (``config`` and ``observed`` are the
        caller's): the harms QEMU may still reach by itself are among ``possible_outcomes``."""
        return {
            "consistent_states": self.consistent_states,
            "newest_state_on": self.newest_state_on.to_json(),
            "source_resume_safe": self.source_resume_safe.to_json(),
            "stuck": self.stuck.to_json(),
            "possible_outcomes": self.possible_outcomes,
            "safe_actions": self.safe_actions,
            "unsafe_actions": self.unsafe_actions,
            "unknowns": self.unknowns,
        }


# ---------------------------------------------------------------------------------------------
# Which states are consistent with what was observed


@dataclass
class Consistent:
    """The model states consistent with what was observed, with one witness run to each
    (``checker.conform.consistent_states`` for a trace prefix; a filter of the reachable states
    for a live snapshot)."""

    states: list[State]
    paths: dict[State, list[tuple[State, Action, State]]]
    searched: int


def from_case(case: Case, max_states: int = DEFAULT_MAX_STATES, settled: bool = False) -> Consistent:
    """The states consistent with ``case`` (a trace prefix): ``checker.conform.consistent_states``,
    keeping only those where ``case.can_stop`` holds when ``settled`` (a complete recording, at
    rest when it ended). Raises :class:`AdviceError` when none is (the observations are
    impossible) or the search passed ``max_states`` nodes."""
    found = consistent_states(case, max_states)
    if found.limit_reached:
        raise AdviceLimit(f"the search for consistent states passed {max_states:,} nodes")
    stop = case.can_stop if settled else None
    paths = {s: p for s, p in found.states.items() if stop is None or stop(s)}
    if not paths:
        raise AdviceError("no run of the model shows these observations (check it with `conform`)")
    return Consistent(list(paths), paths, found.nodes)


# ---------------------------------------------------------------------------------------------
# The graph ahead of the consistent states


class _Ahead:
    """The model's graph ahead of the consistent states, with each edge's kind and which states can
    still lead to the destination guest running. Built on demand, from the states asked about
    forward only (an advice late in a run needs the few states still ahead of it, not the whole
    reachable graph), and kept per model and advisor (:func:`_graph`): every advice on the model
    shares what earlier ones built."""

    def __init__(self, model: Model, advisor: Advisor, max_states: int) -> None:
        self.model = model
        self.advisor = advisor
        self.max_states = max_states
        self.states: list[State] = []
        self.index: dict[State, int] = {}
        self._out: list[list[tuple[Action, int, str]] | None] = []
        self._kinds: dict[Action, str] = {}
        self._may_run: dict[int, bool] = {}

    def add(self, state: State) -> int:
        """The number of ``state``, added if new."""
        i = self.index.get(state)
        if i is None:
            if len(self.states) >= self.max_states:
                raise AdviceLimit(f"the model has more than {self.max_states:,} states ahead")
            i = self.index[state] = len(self.states)
            self.states.append(state)
            self._out.append(None)
        return i

    def out(self, i: int) -> list[tuple[Action, int, str]]:
        """The steps from state ``i``: action, next state, kind."""
        got = self._out[i]
        if got is None:
            got = []
            for action, nxt in self.model.successors(self.states[i]):
                k = self._kinds.get(action)
                if k is None:
                    k = self._kinds[action] = self.advisor.kind(action)
                got.append((action, self.add(nxt), k))
            self._out[i] = got
        return got

    def reach(self, starts: Sequence[int], kinds: frozenset[str]) -> dict[int, int]:
        """BFS over steps of ``kinds``: the parent of each reached state (-1 for a start)."""
        parent: dict[int, int] = {}
        queue: deque[int] = deque()
        for s in starts:
            if s not in parent:
                parent[s] = -1
                queue.append(s)
        while queue:
            i = queue.popleft()
            for _, j, k in self.out(i):
                if k in kinds and j not in parent:
                    parent[j] = i
                    queue.append(j)
        return parent

    def may_run(self, i: int) -> bool:
        """Some path (any steps) from state ``i`` reaches one where the destination guest has run.
        Decided for every state ahead of ``i`` at once (they are closed under steps), and kept."""
        if i not in self._may_run:
            ahead = self.reach([i], ALL_KINDS)
            preds: dict[int, list[int]] = {x: [] for x in ahead}
            for x in ahead:
                for _, j, _ in self.out(x):
                    preds[j].append(x)
            mark = {x: self._may_run.get(x, False) or self.advisor.remote_ran(self.states[x]) for x in ahead}
            queue = deque(x for x, m in mark.items() if m)
            while queue:
                j = queue.popleft()
                for x in preds[j]:
                    if not mark[x]:
                        mark[x] = True
                        queue.append(x)
            self._may_run.update(mark)
        return self._may_run[i]

    def settled(self, i: int) -> bool:
        """Only operator actions and faults can change this state."""
        return all(k != INTERNAL or j == i for _, j, k in self.out(i))

    def path(self, parent: dict[int, int], end: int) -> list[tuple[int, Action, int]]:
        steps: list[tuple[int, Action, int]] = []
        cur = end
        while (p := parent[cur]) >= 0:
            action = next(a for a, j, _ in self.out(p) if j == cur)
            steps.append((p, action, cur))
            cur = p
        steps.reverse()
        return steps


ALL_KINDS = frozenset({OPERATOR, FAULT, INTERNAL})


_GRAPHS: dict[tuple[int, int], tuple[Model, Advisor, _Ahead]] = {}


def _graph(model: Model, advisor: Advisor, max_states: int) -> _Ahead:
    """The graph of ``model`` for ``advisor``, built on first use (a few per process)."""
    key = (id(model), id(advisor))
    got = _GRAPHS.get(key)
    if got is None or got[0] is not model:
        if len(_GRAPHS) >= 8:
            _GRAPHS.clear()
        got = (model, advisor, _Ahead(model, advisor, max_states))
        _GRAPHS[key] = got
    return got[2]


def _lines(ahead: _Ahead, steps: list[tuple[int, Action, int]]) -> list[str]:
    d = ahead.advisor.describe
    return [f"{a}  ->  {d(ahead.states[j])}" for _, a, j in steps]


NO_QUERY_DECIDES = "no query decides it (the states differ only in what no query shows: the link, a hidden fault)"


def _decider(advisor: Advisor, states: Sequence[State], verdict: Callable[[State], Hashable]) -> str:
    """The cheapest observation after which ``verdict`` is the same in every consistent state that
    answers alike: one query (cheapest first), else the fewest queries together; else
    :data:`NO_QUERY_DECIDES`."""
    for size in range(1, len(advisor.queries) + 1):
        for combo in itertools.combinations(advisor.queries, size):
            classes: dict[Hashable, set[Hashable]] = {}
            for s in states:
                classes.setdefault(tuple(q(s) for _, q in combo), set()).add(verdict(s))
            if all(len(v) == 1 for v in classes.values()):
                return " and ".join(name for name, _ in combo)
    return NO_QUERY_DECIDES


def advise(model: Model, advisor: Advisor, consistent: Consistent,
           max_states: int = DEFAULT_MAX_STATES) -> Advice:
    """Answer the operator's questions over ``consistent.states``."""
    states = consistent.states
    ahead = _graph(model, advisor, max_states)
    roots = [ahead.add(s) for s in states]
    unknowns: list[str] = []

    def witness(s: State) -> list[str]:
        """A run of the model that shows the observations and ends in ``s``, one step a line."""
        d = advisor.describe
        steps = [f"{a}  ->  {d(t)}" for _, a, t in consistent.paths.get(s, [])]
        return steps or [f"(no step yet) {d(s)}"]

    def cases(verdict: Callable[[State], Hashable]) -> list[str]:
        """One witness per answer the consistent states give: the evidence of an ``unknown``."""
        first: dict[Hashable, State] = {}
        for s in states:
            first.setdefault(verdict(s), s)
        out: list[str] = []
        for value, s in sorted(first.items(), key=lambda kv: str(kv[0])):
            out += [f"if {value}: a run to {advisor.describe(s)}", *(f"  {w}" for w in witness(s))]
        return out

    # 1. where the newest guest state is
    where = sorted({advisor.newest(s) for s in states})
    if len(where) == 1:
        newest = Answer(where[0], f"in every one of the {len(states)} consistent states",
                        witness(states[0]))
    else:
        q = _decider(advisor, states, advisor.newest)
        newest = Answer(UNKNOWN, "the consistent states differ: " + ", ".join(where), cases(advisor.newest),
                        decide_by=q)
        unknowns.append("newest_state_on")

    # 2. is resuming the source safe? (the destination never ran and never can)
    def resume_ok(s: State) -> bool:
        return not ahead.may_run(ahead.index[s])

    ok = [resume_ok(s) for s in states]
    if all(ok):
        resume = Answer(YES, "the destination guest has not run, and no continuation lets it run",
                        witness(states[0]))
    elif not any(ok):
        bad = states[0]
        parent = ahead.reach([ahead.index[bad]], ALL_KINDS)
        end = next((i for i in parent if advisor.remote_ran(ahead.states[i])), None)
        ran = advisor.remote_ran(bad)
        resume = Answer(NO, "the destination guest has run" if ran else
                        "the destination guest may still run (a path to it exists)",
                        witness(bad) + ([] if ran or end is None
                                        else ["then:", *_lines(ahead, ahead.path(parent, end))]))
    else:
        resume = Answer(UNKNOWN, f"safe in {sum(ok)} of {len(states)} consistent states",
                        cases(lambda s: "safe" if resume_ok(s) else "not safe"),
                        decide_by=_decider(advisor, states, resume_ok))
        unknowns.append("source_resume_safe")

    # 3. stuck? and 4. what can happen by itself
    def is_stuck(s: State) -> bool:
        i = ahead.index[s]
        return ahead.settled(i) and not advisor.outcome(s)[1]

    stuck_of = [is_stuck(s) for s in states]
    by_itself = ahead.reach(roots, frozenset({INTERNAL}))
    outcomes = sorted({advisor.outcome(ahead.states[i])[0] for i in by_itself if ahead.settled(i)})
    exits = _ways_out(ahead, [ahead.index[s] for s, st in zip(states, stuck_of, strict=True) if st])
    if all(stuck_of):
        stuck = Answer(YES, "nothing but an operator action or a fault changes the state "
                            f"({advisor.outcome(states[0])[0]})",
                       witness(states[0]) + [f"way out: {w}" for w in exits])
    elif not any(stuck_of):
        moving = next((s for s in states if not ahead.settled(ahead.index[s])), None)
        if moving is None:
            stuck = Answer(NO, "at a good end", witness(states[0]))
        else:
            i = ahead.index[moving]
            own = ahead.reach([i], frozenset({INTERNAL}))
            # BFS order: the nearest settled state, or (a cycle of QEMU's own steps) the next step
            end = next((j for j in own if ahead.settled(j)),
                       next(j for _, j, k in ahead.out(i) if k == INTERNAL and j != i))
            stuck = Answer(NO, "QEMU can still make progress by itself",
                           [*witness(moving), "then by itself:", *_lines(ahead, ahead.path(own, end))])
    else:
        stuck = Answer(UNKNOWN, f"stuck in {sum(stuck_of)} of {len(states)} consistent states",
                       cases(lambda s: "stuck" if is_stuck(s) else "not stuck") + [f"way out: {w}" for w in exits],
                       decide_by=_decider(advisor, states, is_stuck))
        unknowns.append("stuck")

    danger = sorted({h for i in by_itself for h in advisor.harm(ahead.states[i])})
    safe, unsafe = _judge_actions(ahead, roots)
    return Advice(len(states), newest, resume, stuck, sorted(set(outcomes) | set(danger)), safe, unsafe, unknowns,
                  consistent.searched, danger)


def _ways_out(ahead: _Ahead, starts: Sequence[int]) -> list[str]:
    """For stuck states: each operator action and where QEMU's own steps then lead."""
    found: dict[str, set[str]] = {}
    for i in starts:
        for a, j, k in ahead.out(i):
            if k != OPERATOR or j == i:
                continue
            parent = ahead.reach([j], frozenset({INTERNAL}))
            ends = {ahead.advisor.outcome(ahead.states[x])[0] for x in parent if ahead.settled(x)}
            found.setdefault(ahead.advisor.label(a), set()).update(ends)
    return [f"{label} -> {', '.join(sorted(ends)) or 'no settled state'}" for label, ends in sorted(found.items())]


def _judge_actions(ahead: _Ahead, roots: Sequence[int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each operator action enabled in some consistent state: unsafe when, in some state where
    it is enabled, QEMU's own steps after it reach a harm that doing nothing could not reach
    from that state (nor was already there)."""
    adv = ahead.advisor
    judged: dict[str, dict[str, Any]] = {}
    for i in roots:
        idle = ahead.reach([i], frozenset({INTERNAL}))
        baseline = {h for x in idle for h in adv.harm(ahead.states[x])}
        for a, j, k in ahead.out(i):
            if k != OPERATOR:
                continue
            label = adv.label(a)
            entry = judged.setdefault(label, {"action": label, "enabled_in": 0, "good_end": False,
                                              "harm": None, "path": [], "refused": adv.refused(a)})
            entry["enabled_in"] += 1
            parent = ahead.reach([j], frozenset({INTERNAL}))
            reached = list(parent)
            if any(ahead.settled(x) and adv.outcome(ahead.states[x])[1] for x in reached):
                entry["good_end"] = True
            # BFS order: the first harmful state reached is a nearest one; keep the shortest path
            # over all consistent states where the action is enabled
            hit = next((x for x in reached if set(adv.harm(ahead.states[x])) - baseline), None)
            if hit is not None:
                path = [f"{a}  ->  {adv.describe(ahead.states[j])}", *_lines(ahead, ahead.path(parent, hit))]
                if entry["harm"] is None or len(path) < len(entry["path"]):
                    entry["harm"] = ", ".join(h for h in adv.harm(ahead.states[hit]) if h not in baseline)
                    entry["path"] = path
    total = len(roots)
    safe, unsafe = [], []
    for label, e in sorted(judged.items()):
        note = "" if e["enabled_in"] == total else f" (possible in {e['enabled_in']} of {total} consistent states)"
        if e["harm"]:
            unsafe.append({"action": label, "harm": e["harm"], "path": e["path"], "note": note.strip()})
        else:
            safe.append({"action": label, "leads_to_good_end": e["good_end"], "refused": e["refused"],
                         "note": note.strip()})
    safe.sort(key=lambda e: (e["refused"], not e["leads_to_good_end"], e["action"]))
    return safe, unsafe
