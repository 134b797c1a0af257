"""Conformance on a held-out set of real traces: the recordings, their raw mutations, and their
events-only versions, with per-category counts (issue 11: a held-out set that is not in the
repository is accepted in full, its impossible mutations rejected in full, and the events-only
versions of impossible traces rejected too).

Usage::

    python -m harness.heldout DIR [--json]

``DIR`` holds ``<src>-to-<dst>/<scenario>.jsonl`` traces as ``harness/record_all.py`` writes them
(recorded into a directory outside the repository, so that the model was never fitted to
them). Each trace is checked as ``migmodel conform`` checks it (``load_case``, then ``conform``),
and so is every mutation of its raw JSON lines (:func:`raw_mutants`):

* impossible mutations, which no real QEMU run can show, so each must be rejected (exit 1) or
  refused as input (exit 2): ``swap`` (two MIGRATION statuses of one side exchanged),
  ``duplicate`` (a MIGRATION event twice: QEMU emits a status only when it changes), ``rename``
  (a name that is no QEMU event), ``retype`` (a key of the wrong JSON type: bad input),
  ``truncate-line`` (half a line: bad input);
* mutations that may still be real behaviour, counted only: ``drop`` (a MIGRATION event left
  out: a fault a few ms earlier may explain the rest), ``rename-known`` (renamed to another QEMU
  event, which conformance ignores), ``retime`` (moved 0.2 s later past the other side's next
  line), ``truncate`` (a prefix).

Events-only versions (what ``virsh qemu-monitor-event`` shows: no commands, faults, exits) are
checked for every trace (must be accepted) and for every ``swap`` and ``duplicate`` mutation (must
be rejected, except a duplicated ``cancelling``: a hidden second ``migrate_cancel`` emits it again).

Exit codes: 0 every original and events-only trace accepted and every impossible mutation
rejected (or refused as input); 1 otherwise (the failures are listed); 2 bad input (no such
directory, no traces in it), one line on stderr.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from checker.conform import conform
from properties.conformance import BadTrace, load_case

OBS_KEYS = ("event", "command", "exit", "fault")
IMPOSSIBLE = ("swap", "duplicate", "rename", "retype", "truncate-line")
"""Mutation kinds no real run can show: rejected (exit 1) or bad input (exit 2), never accepted."""
BAD_INPUT = ("retype", "truncate-line")
"""Of those, the kinds that are malformed lines: exit 2."""
EVENTS_ONLY_IMPOSSIBLE = ("swap", "duplicate")


def body_range(lines: list[str]) -> range:
    """The lines between the meta line and the teardown marker."""
    end = next((i for i, ln in enumerate(lines) if '"teardown": true' in ln), len(lines))
    return range(1, end)


def is_observation(line: str) -> bool:
    """A line conformance checks: a MIGRATION / STOP / RESUME event, a process exit, a command
    the model has, a logged fault."""
    d = json.loads(line)
    if d.get("side") in ("src", "dst"):
        return d.get("event") in ("MIGRATION", "STOP", "RESUME") or "exit" in d or (
            d.get("command") in ("migrate", "migrate-incoming", "migrate-start-postcopy", "migrate_cancel",
                                 "migrate-pause", "migrate-recover", "cont"))
    return d.get("fault") in ("kill-dst", "kill-src", "reset")


def raw_mutants(lines: list[str]) -> Iterator[tuple[str, list[str]]]:
    """(kind, mutated lines) for one trace's raw lines (the kinds: see the module docstring)."""
    body = [i for i in body_range(lines) if is_observation(lines[i])]
    mig = [i for i in body if '"event": "MIGRATION"' in lines[i]]
    for i in mig[1::2]:
        yield "drop", lines[:i] + lines[i + 1:]
    for i in mig:
        yield "duplicate", [*lines[:i + 1], lines[i], *lines[i + 1:]]
    for side in ("src", "dst"):
        ms = [i for i in mig if f'"side": "{side}"' in lines[i]]
        for a, b in itertools.pairwise(ms):
            sa, sb = json.loads(lines[a])["data"]["status"], json.loads(lines[b])["data"]["status"]
            if sa != sb:
                x, y = json.loads(lines[a]), json.loads(lines[b])
                x["data"]["status"], y["data"]["status"] = sb, sa
                o = list(lines)
                o[a], o[b] = json.dumps(x), json.dumps(y)
                yield "swap", o
    for i in mig:
        # retime: the event moved 0.2 s later than every line of the other side it preceded
        d = json.loads(lines[i])
        nxt = [j for j in body if j > i and json.loads(lines[j])["side"] != d["side"]]
        if not nxt:
            continue
        j = nxt[0]
        moved = {**d, "t": json.loads(lines[j])["t"] + 0.2}
        # keep the side's file order: move the line after j only if the side has nothing between
        if any(json.loads(lines[k]).get("side") == d["side"] for k in range(i + 1, j + 1)):
            continue
        yield "retime", lines[:i] + lines[i + 1:j + 1] + [json.dumps(moved)] + lines[j + 1:]
    for i in mig[:3]:
        for name in ("MIGRATION_PASS", "Migration", "MIGRATION_STATUS"):
            d = json.loads(lines[i])
            kind = "rename-known" if name == "MIGRATION_PASS" else "rename"
            yield kind, [*lines[:i], json.dumps({**d, "event": name}), *lines[i + 1:]]
    for k, i in enumerate(body[:4]):
        d = json.loads(lines[i])
        key = next(k for k in OBS_KEYS if k in d)
        value = ([d[key]], {"v": d[key]}, None if key != "event" else 3, 1.5)[(k + len(lines)) % 4]
        yield "retype", [*lines[:i], json.dumps({**d, key: value}), *lines[i + 1:]]
        if "event" in d:
            yield "retype", [*lines[:i], json.dumps({**d, "t": str(d["t"])}), *lines[i + 1:]]
    cut = body[len(body) // 2]
    yield "truncate-line", [*lines[:cut], lines[cut][:len(lines[cut]) // 2]]
    yield "truncate", lines[:cut + 1]


def events_only(lines: list[str]) -> list[str]:
    """What an event log (``virsh qemu-monitor-event``) shows: the events, no commands, no
    faults, no harness lines, a meta without the harness's scenario."""
    meta = json.loads(lines[0])
    meta["meta"].pop("scenario", None)
    out = [json.dumps(meta)]
    for ln in lines[1:]:
        d = json.loads(ln)
        if d.get("teardown"):
            break
        if d.get("side") in ("src", "dst") and "event" in d:
            out.append(ln)
    return out


def duplicates_cancelling(original: list[str], mutant: list[str]) -> bool:
    """The duplicated line is a ``MIGRATION cancelling`` event: with the commands hidden, a second
    ``migrate_cancel`` explains it (``model/management.py``, "migrate_cancel: again")."""
    extra = list((Counter(mutant) - Counter(original)).elements())
    return len(extra) == 1 and '"event": "MIGRATION"' in extra[0] and '"cancelling"' in extra[0]


def verdict(path: Path) -> int:
    """``migmodel conform``'s exit code for one trace: 0 accepted, 1 rejected, 2 bad input."""
    try:
        case = load_case(str(path))
    except BadTrace:
        return 2
    return 0 if conform(case).accepted else 1


def run(root: Path, out: Path) -> tuple[dict[str, list[int]], list[str], int]:
    """Check everything under ``root``; mutants are written to ``out``. Returns the counts per
    category ([accepted, rejected, bad input]), the failures (one line each), the trace count."""
    files = sorted(p for p in root.glob("*/*.jsonl"))
    counts: dict[str, list[int]] = {}
    failures: list[str] = []

    def tally(category: str, code: int, what: str, ok: bool) -> None:
        counts.setdefault(category, [0, 0, 0])[code] += 1
        if not ok:
            failures.append(f"{category}: {what}: exit {code}")

    for path in files:
        name = f"{path.parent.name}/{path.name}"
        lines = path.read_text().splitlines()
        pairing = path.parent.name
        code = verdict(path)
        tally(f"original {pairing}", code, name, code == 0)
        eo = out / "eo.jsonl"
        eo.write_text("\n".join(events_only(lines)) + "\n")
        code = verdict(eo)
        tally("events-only original", code, name, code == 0)
        for n, (kind, mutant) in enumerate(raw_mutants(lines)):
            mp = out / "m.jsonl"
            mp.write_text("\n".join(mutant) + "\n")
            code = verdict(mp)
            if kind in BAD_INPUT:
                ok = code == 2
            elif kind in IMPOSSIBLE:
                ok = code in (1, 2)
            else:
                ok = True  # may be real behaviour: counted only
            tally(f"mutant {kind}", code, f"{name} #{n}", ok)
            if kind in EVENTS_ONLY_IMPOSSIBLE and not (kind == "duplicate" and duplicates_cancelling(lines, mutant)):
                mp.write_text("\n".join(events_only(mutant)) + "\n")
                code = verdict(mp)
                tally(f"events-only {kind}", code, f"{name} #{n}", code == 1)
    return counts, failures, len(files)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.heldout", description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", type=Path, help="held-out traces, <src>-to-<dst>/<scenario>.jsonl")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    if not args.dir.is_dir():
        print(f"heldout: error: {args.dir} is not a directory", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="heldout-") as tmp:
        counts, failures, n = run(args.dir, Path(tmp))
    if n == 0:
        print(f"heldout: error: no <pairing>/<scenario>.jsonl traces under {args.dir}", file=sys.stderr)
        return 2
    wall = time.perf_counter() - t0
    if args.json:
        print(json.dumps({"traces": n, "seconds": round(wall, 1), "failures": failures,
                          "counts": {k: dict(zip(("accepted", "rejected", "bad_input"), v, strict=True))
                                     for k, v in sorted(counts.items())}}, indent=1))
    else:
        print(f"{n} held-out traces under {args.dir} ({wall:.0f} s)")
        for kind, (acc, rej, bad) in sorted(counts.items()):
            print(f"  {kind:34} {acc:5} accepted {rej:5} rejected {bad:5} bad input")
        for line in failures:
            print(f"  FAILED {line}")
        print("all as expected" if not failures else f"{len(failures)} not as expected")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
