"""How fast ``migmodel conform`` checks traces (issue 11: a 100 k-line trace and 300 ordinary
traces in at most 10 s each, on this project's 2-core machine).

* ``ordinary``: the recorded fixtures (tests/fixtures/traces), cycled to 300 traces, each read and
  checked as ``migmodel conform`` does (``load_case`` then ``conform``), in one process;
* ``long``: one fixture (11.1 ``c2_cancel_postcopy``) with about 100,000 lines added while the
  source is in ``postcopy-active``: a management layer polling ``query-migrate`` on both sides
  (state observations the search must match), refused ``migrate_cancel`` retries, and ignored
  QEMU events (``RTC_CHANGE``); also the same trace with its source's ``completed`` replaced by
  ``failed`` (a rejection: the search must give up on the whole trace).

Run: ``.venv/bin/python benchmarks/bench_conform.py [--lines N]``. Prints one line per
measurement (seconds, best of 3 for ``ordinary``): wall time, and the process's CPU time (on a
machine shared with other jobs the wall time also counts the time others had the cores).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checker.conform import conform  # noqa: E402
from properties import conformance  # noqa: E402

TRACES = ROOT / "tests" / "fixtures" / "traces"


def long_trace(n_lines: int, out: Path, *, fail: bool = False) -> int:
    """Write the padded trace; return its line count."""
    src = (TRACES / "11.1-to-11.1" / "c2_cancel_postcopy.jsonl").read_text().splitlines()
    rows = [json.loads(ln) for ln in src]
    k = next(i for i, r in enumerate(rows) if r.get("command") == "migrate_cancel")
    t0, t1 = rows[k]["t"], rows[k + 1]["t"]
    pad = []
    per = 4
    for i in range(n_lines // per):
        t = t0 + (t1 - t0) * (i + 0.5) / (n_lines // per + 1)
        pad.append({"side": "src", "command": "query-migrate", "t_sent": t, "t": t,
                    "return": {"status": "postcopy-active"}})
        pad.append({"side": "dst", "command": "query-migrate", "t_sent": t, "t": t,
                    "return": {"status": "postcopy-active"}})
        pad.append({"side": "src", "command": "migrate_cancel", "t_sent": t, "t": t,
                    "error": {"class": "GenericError", "desc": "Postcopy migration in progress, cannot cancel."}})
        pad.append({"side": "dst", "event": "RTC_CHANGE", "data": {"offset": 0}, "t": t})
    rows = rows[:k + 1] + pad + rows[k + 1:]
    if fail:
        for r in rows:
            if r.get("side") == "src" and r.get("event") == "MIGRATION" and r["data"]["status"] == "completed":
                r["data"] = {"status": "failed"}
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return len(rows)


def check(path: Path) -> bool:
    return conform(conformance.load_case(str(path))).accepted


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=100_000)
    args = ap.parse_args()
    files = sorted(TRACES.glob("**/*.jsonl"))
    batch = [files[i % len(files)] for i in range(300)]
    times, cpus = [], []
    for _ in range(3):
        conformance._MODELS.clear()
        t, c = time.perf_counter(), time.process_time()
        ok = sum(check(p) for p in batch)
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    print(f"ordinary: 300 traces ({len(files)} distinct fixtures), {ok} accepted: "
          f"{min(times):.2f} s best of 3, CPU {min(cpus):.2f} s (first, cold caches: {times[0]:.2f} s)")
    with tempfile.TemporaryDirectory() as tmp:
        for fail in (False, True):
            p = Path(tmp) / f"long-{fail}.jsonl"
            n = long_trace(args.lines, p, fail=fail)
            conformance._MODELS.clear()
            t, c = time.perf_counter(), time.process_time()
            case = conformance.load_case(str(p))
            t_read = time.perf_counter() - t
            result = conform(case)
            total, cpu = time.perf_counter() - t, time.process_time() - c
            print(f"long{' (mutated: rejected)' if fail else ''}: {n:,} lines, {len(case.observations):,} "
                  f"observations, {'accepted' if result.accepted else 'rejected'}, {result.states:,} nodes: "
                  f"{total:.2f} s ({t_read:.2f} s reading), CPU {cpu:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
