"""Benchmark: how long ``migmodel advise`` takes for a 500-line prefix, and for one advice per recording.

Not a test: it prints numbers. ``python benchmarks/bench_advise.py [--repeat 5]``.

* A 500-line prefix: the longest recorded fixture, its lines before the teardown marker padded to
  500 with what a long recording is mostly made of, interleaved in time: a management layer's
  polls of both sides, ``query-migrate`` answering the side's migration status at that moment
  (the last ``MIGRATION`` event before it: the model checks each one), ``query-name``, and
  ``MIGRATION_PASS`` events the model ignores. Timed as a user runs it, ``migmodel advise FILE``
  in a fresh process (interpreter start, imports, the model's graph built once), and in-process:
  cold (graph built) and warm (graph shared). Both for the longest fixture and for the one whose
  advice took longest.
* Every recorded fixture, whole: one advice each, in one process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from checker import advise as engine
from harness.advise_cli import _advise_prefix

ROOT = Path(__file__).resolve().parents[1]
TRACES = sorted((ROOT / "tests" / "fixtures" / "traces").rglob("*.jsonl"))


def _lines(path: Path) -> list[str]:
    return [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def padded(path: Path, total: int = 500) -> list[str]:
    """The trace's lines before its teardown marker, with polls and ignored events interleaved
    in time until it has ``total`` lines."""
    raw = _lines(path)
    body: list[dict[str, Any]] = []
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
        status = None  # the side's migration status at t: its last MIGRATION event before t
        for row in body:
            if row["t"] < t and row.get("side") == side and row.get("event") == "MIGRATION":
                status = row["data"]["status"]
        if i % 3 == 0 and status is not None:
            fill.append({"side": side, "command": "query-migrate", "t_sent": t, "return": {"status": status},
                         "t": t})
        elif i % 3 == 1:
            fill.append({"side": side, "command": "query-name", "t_sent": t, "return": {}, "t": t})
        else:
            fill.append({"side": side, "event": "MIGRATION_PASS", "data": {"pass": i}, "t": t})
    rows = sorted(body + fill, key=lambda r: r["t"])
    return [raw[0], *(json.dumps(r) for r in rows)]


def _prefix(path: Path, repeat: int) -> None:
    """Time the advice for ``path`` padded to 500 lines: as a user runs it, and in-process."""
    lines = padded(path)
    polls = sum(1 for ln in lines if '"query-migrate"' in ln)
    print(f"500-line prefix: {path.parent.name}/{path.name} ({len(_lines(path))} lines) padded to "
          f"{len(lines)} lines, {polls} of them query-migrate polls the model checks; load average "
          f"{os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "prefix.jsonl"
        trace.write_text("\n".join(lines) + "\n", encoding="utf-8")
        walls = []
        for _ in range(repeat):
            t = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "checker.cli", "advise", str(trace)], cwd=ROOT,
                               capture_output=True, text=True)
            walls.append(time.perf_counter() - t)
            assert r.returncode == 0, r.stdout + r.stderr
        starts = []
        for _ in range(repeat):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "checker.cli", "--version"], cwd=ROOT, capture_output=True)
            starts.append(time.perf_counter() - t)
    print(f"  `migmodel advise FILE`, a fresh process each: min {min(walls):.2f} s, "
          f"median {statistics.median(walls):.2f} s (of {repeat}); starting the CLI alone "
          f"(`migmodel --version`): min {min(starts):.2f} s")
    engine._GRAPHS.clear()
    t = time.perf_counter()
    _, advice, why = _advise_prefix(str(path), lines, None, 1_000_000)
    cold = time.perf_counter() - t
    assert advice is not None, why
    warm = []
    for _ in range(repeat):
        t = time.perf_counter()
        _advise_prefix(str(path), lines, None, 1_000_000)
        warm.append(time.perf_counter() - t)
    print(f"  in-process: first advice {cold:.3f} s (builds the model's graph ahead), then best {min(warm):.3f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    times = []
    for p in TRACES:
        t = time.perf_counter()
        _advise_prefix(str(p), _lines(p), None, 1_000_000)
        times.append(time.perf_counter() - t)
    print(f"{len(TRACES)} fixtures, one advice each in one process: median {statistics.median(times):.3f} s, "
          f"max {max(times):.3f} s, total {sum(times):.1f} s")
    longest = max(TRACES, key=lambda p: len(_lines(p)))
    slowest = TRACES[times.index(max(times))]
    _prefix(longest, args.repeat)
    if slowest != longest:
        print("(the slowest fixture above, padded the same way)")
        _prefix(slowest, args.repeat)


if __name__ == "__main__":
    main()
