"""Which violated (configuration, property) cells were seen on real QEMU: read from the replay traces.

``migmodel replay`` (``harness/replay.py``) runs a counterexample on real QEMU and records a trace
whose ``meta`` says what it replays (``replays``: config, property, steps) and whether the
recording shows the violation (``observed_violation``). The traces kept as fixtures live in
``tests/fixtures/traces/replayed/``. This module reads only those ``meta`` lines (it needs neither
QEMU nor ``qemu.qmp``) and answers, for a cell, "seen on real QEMU" with its trace, or why not:

* a replay shows the violation: **seen on real QEMU**;
* a replay ran and does not show it: **not seen on real QEMU** (its judgement says what happened);
* a replay conform accepts missed its window (``tests/fixtures/replay-divergences``): **replayed,
  window missed**, with the step whose state never showed;
* no replay: why none can be made here (a QEMU version without a binary, a set-up the harness
  does not make, a property no recording can judge), or that it was not replayed yet.

Everything is computed from the files: nothing here is written by hand but the harness's
capabilities below, which are facts about ``harness/`` (checked by ``tests/test_replay.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
REPLAYED = REPO / "tests" / "fixtures" / "traces" / "replayed"
DIVERGED = REPO / "tests" / "fixtures" / "replay-divergences"
"""Replays conform accepts whose window was missed (a step's state never showed): they neither
show nor refute the finding (docs/replay-gaps.md)."""

HARNESS_VERSIONS = ("7.2", "10.0", "10.2", "11.1")
"""QEMU versions the harness has binaries for: 7.2 (Debian 12), 11.1.3 (Debian sid, chroot),
10.2.2 (built from Debian's source package by ``harness/setup-qemu.sh``), 10.0.2 (Debian
bookworm-backports, chroot: ``harness/setup-qemu.sh --with-10.0``; it has the ``postcopy_start``
bug the ``qemu-10.0`` configurations model). 10.0.5, with the stable fix, is packaged nowhere here."""

JUDGED = frozenset({
    "no-split-brain", "no-rollback", "no-vm-loss", "source-resumable-before-pong", "no-stuck-state",
    "migration-terminates", "fault-free-runs-finish", "rp-error-ends-postcopy-device",
    "postcopy-device-means-dst-not-run", "resumes-after-device-load-failure", "postcopy-never-cancelled",
    "completed-after-clean-shut", "completed-via-postcopy-active",
})
"""Properties whose violation ``harness/replay.py`` can read off a recording (its ``JUDGES``)."""


@dataclass(frozen=True)
class Replay:
    """One replay trace: which cell it replays and what real QEMU did."""

    path: Path
    config: str
    prop: str
    observed: bool
    judgement: str
    versions: str
    divergence: str = ""

    @property
    def name(self) -> str:
        try:
            return str(self.path.relative_to(REPO))
        except ValueError:
            return str(self.path)


def replays(root: Path = REPLAYED) -> list[Replay]:
    """Every replay trace under ``root`` (its first line only), sorted by file name."""
    out: list[Replay] = []
    for path in sorted(root.glob("*.jsonl")):
        with open(path, encoding="utf-8") as f:
            first = f.readline()
        try:
            meta: Any = json.loads(first)["meta"]
            rep = meta["replays"]
            out.append(Replay(path, str(rep["config"]), str(rep["property"]), meta["observed_violation"] is True,
                              str(meta.get("judgement", "")),
                              f"{meta.get('src_version', '?')} -> {meta.get('dst_version', '?')}",
                              str((meta.get("replay") or {}).get("divergence") or "")))
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"{path}: not a replay trace (meta.replays and meta.observed_violation)") from None
    return out


def why_not_replayable(config: Any, prop: str) -> str | None:
    """Why no replay of this cell can be made here, or None if one can."""
    missing = [v for v in dict.fromkeys((config.src.name, config.dst.name)) if v not in HARNESS_VERSIONS]
    if missing:
        return f"no QEMU {' and '.join(missing)} binary here"
    if config.dirty_bitmaps:
        return "the harness does not set up dirty-bitmap migration"
    if getattr(config, "postcopy_preempt", False):
        return "the harness does not set up postcopy-preempt"
    if prop not in JUDGED:
        return "no recording can show this property's violation (no judge in harness/replay.py)"
    return None


def seen_on_real_qemu(config_name: str, prop: str, root: Path = REPLAYED, diverged: Path = DIVERGED) -> str:
    """One line for a violated cell: seen on real QEMU (with its trace), or why not."""
    from model.config import NAMED

    mine = [r for r in replays(root) if r.config == config_name and r.prop == prop]
    seen = [r for r in mine if r.observed]
    if seen:
        return "seen on real QEMU: " + "; ".join(f"{r.versions}, `{r.name}`" for r in seen)
    if mine:
        return "not seen on real QEMU: " + "; ".join(f"{r.judgement} (`{r.name}`)" for r in mine)
    missed = [r for r in (replays(diverged) if diverged.is_dir() else []) if r.config == config_name
              and r.prop == prop]
    if missed:
        return "replayed, window missed (neither seen nor refuted): " + "; ".join(
            f"{r.divergence} (`{r.name}`)" for r in missed)
    config = NAMED.get(config_name)
    reason = why_not_replayable(config, prop) if config is not None else "not a named configuration"
    if reason:
        return f"not replayed: {reason}"
    return f"not replayed yet (`migmodel replay --config {config_name} --property {prop}`)"


def coverage(violated: list[tuple[str, str]], root: Path = REPLAYED,
             diverged: Path = DIVERGED) -> dict[tuple[str, str], str]:
    """:func:`seen_on_real_qemu` for every violated cell."""
    return {cell: seen_on_real_qemu(*cell, root=root, diverged=diverged) for cell in violated}
