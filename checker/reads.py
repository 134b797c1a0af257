"""A state predicate over every packed state, evaluated once per distinct run of the predicate.

A predicate is a function of the state's fields. What it returns depends only on the fields it
reads, and which field it reads next depends only on the values it has read so far (it is a
deterministic function of its argument). So the states are split like a decision tree: the
predicate runs on a *probe*, a stand-in for a state that knows the values of the fields read on
the way down; when it reads a field the probe does not know yet, the run stops, the group of states
is split by that field's value (numpy over the packed codes) and the predicate runs again on each
part, with that value known. A run that finishes gives its answer to every state of its group: all
of them agree on every field the run read. The predicate runs once per node of the tree (a few
dozen times for the QEMU properties, against 10^4-10^5 states), and no state is unpacked.

The probe offers the fields as attributes (``state.field``), as a ``NamedTuple`` does, and
nothing else: anything else the predicate does with it (index it, iterate over it, compare or hash
it, ask its class, read a non-field attribute) ends the attempt, and the caller evaluates the
predicate state by state instead (``None``). So does any exception the predicate raises, so that
the plain evaluation reports it on the state where it happens. ``tests/test_checker_generic.py``
compares the two evaluations on toy predicates that try each of these, and
``tests/test_compact.py`` on every property of every QEMU configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ("evaluate_by_reads",)

BoolArray = npt.NDArray[np.bool_]

MAX_RUNS = 4096
"""A predicate that needs more runs than this (it reads a field with many values on most paths)
is evaluated state by state: the tree would cost more than it saves."""


class _Unknown(BaseException):
    """The predicate read a field the probe does not know yet (a BaseException, so that a
    predicate's own ``except Exception`` cannot swallow it)."""

    def __init__(self, field: int) -> None:
        self.field = field


class _Opaque(BaseException):
    """The predicate used the probe as something other than a bag of fields."""


def _opaque(self: object, *_: object, **__: object) -> Any:
    if type(self) is _Probe:
        object.__setattr__(self, "_Probe__stopped", True)
    raise _Opaque


class _Probe:
    """A state seen through the fields already known; reading another one stops the run. It
    remembers whether it stopped a run, so that a predicate which swallows even a
    ``BaseException`` cannot pass off a half-run as an answer."""

    __slots__ = ("__known", "__names", "__stopped")

    def __init__(self, known: dict[int, Any], names: dict[str, int]) -> None:
        object.__setattr__(self, "_Probe__known", known)
        object.__setattr__(self, "_Probe__names", names)
        object.__setattr__(self, "_Probe__stopped", False)

    def __getattr__(self, name: str) -> Any:
        get = object.__getattribute__
        index = get(self, "_Probe__names").get(name)
        if index is not None:
            known: dict[int, Any] = get(self, "_Probe__known")
            if index in known:
                return known[index]
        object.__setattr__(self, "_Probe__stopped", True)
        raise _Opaque if index is None else _Unknown(index)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance() and friends look here: not a field
        return _opaque(self)  # type: ignore[no-any-return]

    __setattr__ = __delattr__ = __getitem__ = __iter__ = __len__ = __contains__ = _opaque
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __hash__ = __bool__ = _opaque
    __repr__ = __str__ = __format__ = __reduce__ = __reduce_ex__ = __dir__ = __call__ = _opaque
    __index__ = __int__ = __float__ = __copy__ = __deepcopy__ = __getstate__ = _opaque


def _stopped(probe: _Probe) -> bool:
    return bool(object.__getattribute__(probe, "_Probe__stopped"))


def evaluate_by_reads(
    fn: Callable[[Any], object],
    fields: Sequence[str],
    values: Sequence[Sequence[Any]],
    column: Callable[[int], npt.NDArray[np.integer]],
    count: int,
    splits: dict[tuple[frozenset[tuple[int, int]], int], list[tuple[int, npt.NDArray[np.intp]]]] | None = None,
) -> BoolArray | None:
    """``bool(fn(state))`` for each of ``count`` states, or ``None`` if ``fn`` cannot be evaluated
    this way (see the module docstring).

    A state is given by its fields: ``column(i)`` is the code of field ``i`` in every state (an
    array of ``count`` small integers), and ``values[i][code]`` the value a code stands for.
    ``splits``, shared by the predicates judged over the same states, remembers how each group
    (the states with given codes in given fields, whatever order they were read in) splits by a
    field: predicates that read the same fields first share the work.
    """
    if splits is None:
        splits = {}
    result = np.zeros(count, dtype=np.bool_)
    if count == 0:
        return result
    names = {name: i for i, name in enumerate(fields)}
    if not names:
        return None
    Group = tuple[npt.NDArray[np.intp] | None, dict[int, Any], frozenset[tuple[int, int]]]
    stack: list[Group] = [(None, {}, frozenset())]
    runs = 0
    while stack:
        group, known, key = stack.pop()
        runs += 1
        if runs > MAX_RUNS:
            return None
        try:
            probe = _Probe(known, names)
            answer = fn(probe)
            truth = bool(answer) if type(answer) is not _Probe else _opaque(answer)
        except _Unknown as need:
            field = need.field
            parts = splits.get((key, field))
            if parts is None:
                codes = column(field)
                if group is not None:
                    codes = codes[group]
                order = np.argsort(codes, kind="stable")
                ordered = codes[order]
                cuts = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
                members = order if group is None else group[order]
                parts = splits[(key, field)] = list(zip(ordered[np.r_[0, cuts]].tolist(), np.split(members, cuts),
                                                        strict=True))
            for code, part in parts:
                stack.append((part, {**known, field: values[field][code]}, key | {(field, code)}))
            continue
        except (_Opaque, Exception):
            return None
        if _stopped(probe):  # the predicate swallowed the stop and answered anyway
            return None
        if truth:
            if group is None:
                result[:] = True
            else:
                result[group] = True
    return result
