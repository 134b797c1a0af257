"""Predicates judged once per distinct run over the packed codes (checker/reads.py) give exactly
the per-state evaluation, and give up (None) rather than guess when a predicate uses a state as
more than a bag of fields. Generic: a toy model; tests/test_compact.py does it for the QEMU model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, cast

import numpy as np
import numpy.typing as npt
import pytest

from checker.analysis import _Judge, shortest_run
from checker.explore import Exploration, explore
from checker.kinds import Kind
from checker.reads import evaluate_by_reads
from checker.spec import Component, Factoring, Property


class S(NamedTuple):
    a: int
    b: int
    flag: bool
    word: str


class Toy:
    """a counts to 5, b counts to 3 while the flag is off, 'x'/'y' word flips; actions named."""

    def init_states(self) -> list[S]:
        return [S(0, 0, False, "x")]

    def _a(self, s: S) -> list[tuple[str, S]]:
        return [("a", s._replace(a=s.a + 1, flag=s.flag or s.a == 3))] if s.a < 5 else []

    def _b(self, s: S) -> list[tuple[str, S]]:
        out = [] if s.flag or s.b >= 3 else [("b", s._replace(b=s.b + 1))]
        return [*out, ("w", s._replace(word="y" if s.word == "x" else "x"))]

    # Any: the Model protocol passes any hashable state (this toy's are S)
    def successors(self, s: Any) -> list[tuple[str, S]]:
        return self._a(s) + self._b(s)

    def is_final(self, s: Any) -> bool:
        a: int = s.a
        return a == 5

    def describe_action(self, action: Any) -> dict[str, Any]:
        return {"actor": "toy", "action": str(action)}

    def describe_state(self, state: Any) -> dict[str, Any]:
        return dict(state._asdict())

    def factoring(self) -> Factoring:
        return Factoring(S._fields, S._make, (Component("a", frozenset({"a", "flag"}), self._a),
                                              Component("b", frozenset({"b", "flag", "word"}), self._b)))


def _columns(ex: Exploration) -> Callable[[int], npt.NDArray[np.intp]]:
    """``ex.column``, which gives a column after a compact search (the only kind these tests check)."""
    def column(field: int) -> npt.NDArray[np.intp]:
        col = ex.column(field)
        assert col is not None, "a compact search has columns"
        return col
    return column


def _both(fn: Any) -> tuple[Any, np.ndarray]:
    ex = explore(Toy())
    assert ex.codec is not None
    fast = evaluate_by_reads(fn, ex.codec.fields, ex.codec.values, _columns(ex), ex.state_count)
    plain = np.fromiter((bool(fn(s)) for s in ex.states), dtype=np.bool_, count=ex.state_count)
    return fast, plain


@pytest.mark.parametrize("fn", [
    lambda s: s.a > 2 and s.b == 1,
    lambda s: s.flag or (s.word == "y" and s.a < 2),
    lambda s: s.b if s.a % 2 else s.word == "x",  # not a bool: truthiness, as the plain judge
    lambda s: True,
    lambda s: s.a in (1, 4) and not s.flag,
], ids=["and", "or-nested", "non-bool", "constant", "membership"])
def test_by_reads_equals_state_by_state(fn: Any) -> None:
    fast, plain = _both(fn)
    assert fast is not None
    assert np.array_equal(fast, plain)
    assert plain.any() or not fast.any()


def _swallow(s: Any) -> bool:
    try:
        return bool(s.a > 1)
    except BaseException:  # the case under test: a predicate that hides the stop
        return False


@pytest.mark.parametrize("fn", [
    lambda s: s == S(1, 0, False, "x"),  # compares the whole state
    lambda s: s[0] > 1,  # indexes it
    lambda s: sum(s[:2]) > 2,
    lambda s: isinstance(s, S) and s.a > 1,  # asks its class
    lambda s: len(s) == 4,
    lambda s: s._replace(a=0).b > 0,  # a non-field attribute
    lambda s: hash(s) > 0,
    lambda s: 1 / (s.a - s.a) > 0,  # raises: the plain evaluation reports it
    _swallow,
], ids=["eq", "index", "slice", "isinstance", "len", "method", "hash", "raises", "swallows-the-stop"])
def test_anything_but_fields_falls_back(fn: Any) -> None:
    ex = explore(Toy())
    assert ex.codec is not None
    assert evaluate_by_reads(fn, ex.codec.fields, ex.codec.values, _columns(ex), ex.state_count) is None


def test_the_judge_reports_a_raising_predicate_on_its_state() -> None:
    prop = Property("p", Kind.ALWAYS, "claim", predicate=lambda s: 1 // (s.a - 2) >= 0)
    with pytest.raises(Exception, match="raised ZeroDivisionError on state"):
        _Judge(explore(Toy())).state_mask(prop.predicate, prop, "predicate")


def test_shortest_run_keeps_to_the_admitted_actions() -> None:
    ex = explore(Toy())
    prop = Property("b-stays-low", Kind.ALWAYS, "b stays below 2", predicate=lambda s: s.b < 2)
    anything = shortest_run(ex, prop, lambda a: True)
    assert anything is not None and [st.action for st in anything[1:]] == ["b", "b"]
    no_b = shortest_run(ex, prop, lambda a: a != "b")
    assert no_b is None  # b never grows without its own action: nothing to show
    late = shortest_run(ex, prop, lambda a: a != "w")
    assert late is not None and cast(S, late[-1].state).b == 2
    with pytest.raises(Exception, match="judged state by state"):
        shortest_run(ex, Property("s", Kind.SOMETIMES, "x", predicate=lambda s: True), lambda a: True)
