"""Whole-graph algorithms over edge arrays: reverse reachability and strongly connected components.

The judges (``checker.analysis``) need two things from a graph given as ``src``/``dst`` index
arrays over ``n`` nodes: the set of nodes from which a goal set is reachable, and a partition into
strongly connected components. Both are written here on numpy alone, so that installing the tool
does not pull in scipy (about 140 MB) for two functions. Results are sets and partitions, which do
not depend on the order in which an algorithm visits nodes, so any correct implementation gives
every verdict and counterexample unchanged.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ("reverse_reachable", "strong_components")

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]


def _csr(keys: npt.NDArray[np.integer], values: npt.NDArray[np.integer], n: int) -> tuple[IntArray, IntArray]:
    """Offsets and neighbours of the graph ``keys[i] -> values[i]``, grouped by key."""
    order = np.argsort(keys, kind="stable")
    neighbours: IntArray = np.asarray(values, dtype=np.intp)[order]
    offsets: IntArray = np.zeros(n + 1, dtype=np.intp)
    np.cumsum(np.bincount(np.asarray(keys, dtype=np.intp), minlength=n), out=offsets[1:])
    return offsets, neighbours


def reverse_reachable(
    n: int, src: npt.NDArray[np.integer], dst: npt.NDArray[np.integer], goal: BoolArray
) -> BoolArray:
    """Nodes from which a node of ``goal`` is reachable over the edges ``src[i] -> dst[i]``.

    A breadth-first search backwards from all goal nodes at once, one frontier per numpy step.
    """
    reached = np.array(goal, dtype=np.bool_, copy=True)
    if n == 0 or not reached.any():
        return reached
    offsets, preds = _csr(dst, src, n)
    frontier = np.flatnonzero(reached)
    while frontier.size:
        lo, hi = offsets[frontier], offsets[frontier + 1]
        counts = hi - lo
        total = int(counts.sum())
        if total == 0:
            break
        # Indices lo[k]..hi[k]-1 for every frontier node k, concatenated.
        index = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(total)
        found = preds[index]
        found = np.unique(found[~reached[found]])
        reached[found] = True
        frontier = found
    return reached


def strong_components(
    n: int, src: npt.NDArray[np.integer], dst: npt.NDArray[np.integer]
) -> tuple[int, IntArray]:
    """The strongly connected components of the graph ``src[i] -> dst[i]`` over ``n`` nodes:
    their count and each node's component label (``0 .. count-1``).

    Tarjan's algorithm without recursion (Pearce's variant with an explicit call stack), over
    Python lists built once from the arrays: linear in nodes and edges.
    """
    offsets_arr, succ_arr = _csr(src, dst, n)
    offsets: list[int] = offsets_arr.tolist()
    succ: list[int] = succ_arr.tolist()
    index = [-1] * n  # discovery number, or -1 while unvisited
    low = [0] * n
    label = [-1] * n
    on_stack = [False] * n
    stack: list[int] = []
    count = 0
    counter = 0
    for root in range(n):
        if index[root] >= 0:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        calls = [(root, offsets[root])]
        while calls:
            node, edge = calls[-1]
            end = offsets[node + 1]
            descended = False
            while edge < end:
                nxt = succ[edge]
                edge += 1
                if index[nxt] < 0:
                    calls[-1] = (node, edge)
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack[nxt] = True
                    calls.append((nxt, offsets[nxt]))
                    descended = True
                    break
                if on_stack[nxt] and index[nxt] < low[node]:
                    low[node] = index[nxt]
            if descended:
                continue
            calls.pop()
            if low[node] == index[node]:
                while True:
                    member = stack.pop()
                    on_stack[member] = False
                    label[member] = count
                    if member == node:
                        break
                count += 1
            if calls:
                parent = calls[-1][0]
                if low[node] < low[parent]:
                    low[parent] = low[node]
    return count, np.asarray(label, dtype=np.intp)
