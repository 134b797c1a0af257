"""Benchmark: how long ``migmodel advise`` takes for one advice, and for a 500-line prefix.

Not a test: it prints numbers. ``python benchmarks/bench_advise.py [--repeat 3]``.

* Every recorded fixture, whole: the time of one advice, the first one for its configuration
  (which builds the model's reachable graph) and the next ones (the graph is shared).
* A 500-line prefix: the longest fixture, its body padded to 500 lines with the lines a long
  recording is mostly made of (a management layer's polls such as ``query-name`` and
  QEMU events the model ignores, such as ``MIGRATION_PASS``), interleaved in time. Timed cold
  (a fresh process state: no model built) and warm.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from harness import advise_cli
from harness.advise_cli import _advise_prefix

ROOT = Path(__file__).resolve().parents[1]
TRACES = sorted((ROOT / "tests" / "fixtures" / "traces").rglob("*.jsonl"))


def _lines(path: Path) -> list[str]:
    return [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def padded(path: Path, total: int = 500) -> list[str]:
    """The trace's lines before its teardown marker, with polls and ignored events interleaved
    in time until it has ``total`` lines."""
    raw = _lines(path)
    body = []
    for ln in raw[1:]:
        row = json.loads(ln)
        if row.get("side") == "harness" and row.get("teardown"):
            break
        body.append(row)
    t0, t1 = body[0]["t"], body[-1]["t"]
    extra = total - 1 - len(body)
    fill = []
    for i in range(extra):
        t = t0 + (t1 - t0) * (i + 0.5) / extra
        side = "src" if i % 2 else "dst"
        if i % 3 == 0:
            fill.append({"side": side, "event": "MIGRATION_PASS", "data": {"pass": i}, "t": t})
        else:
            cmd = "query-name" if i % 3 == 1 else "query-version"
            fill.append({"side": side, "command": cmd, "t_sent": t, "return": {}, "t": t})
    rows = sorted(body + fill, key=lambda r: r["t"])
    return [raw[0], *(json.dumps(r) for r in rows)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    longest = max(TRACES, key=lambda p: len(_lines(p)))
    lines = padded(longest)
    advise_cli._LIVE_MODELS.clear()
    t = time.perf_counter()
    _, advice, why = _advise_prefix(str(longest), lines, None, 1_000_000)
    cold = time.perf_counter() - t
    assert advice is not None, why
    warm = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        _advise_prefix(str(longest), lines, None, 1_000_000)
        warm.append(time.perf_counter() - t)
    print(f"500-line prefix ({longest.parent.name}/{longest.name} padded to {len(lines)} lines): "
          f"first advice {cold:.3f} s (builds the model's graph), then best {min(warm):.3f} s")

    times = []
    for p in TRACES:
        t = time.perf_counter()
        _advise_prefix(str(p), _lines(p), None, 1_000_000)
        times.append(time.perf_counter() - t)
    print(f"{len(TRACES)} fixtures, one advice each: median {statistics.median(times):.3f} s, "
          f"max {max(times):.3f} s, total {sum(times):.1f} s")


if __name__ == "__main__":
    main()
