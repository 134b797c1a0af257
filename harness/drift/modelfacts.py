"""What the model says a QEMU version does: the rows that fire, and from which statuses.

A row of ``model/source.py`` or ``model/destination.py`` belongs to a version through its guard
(``c.src.postcopy_device`` and the like), not through a tag. So the rows "of version V" are
taken from the model itself: every configuration in ``model.config.NAMED`` with V on a side, and
V-to-V variants for the capabilities no named configuration enables (pause-before-switchover,
postcopy-preempt, ``-S``, exit-on-error off, a shared disk), are explored breadth-first, and
every edge records its row, its side and that side's status before and after. A row that fires
in none of them is not a row of V.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

from checker.explore import explore
from model import messages
from model.config import NAMED, VERSIONS, Config, ConfigError, Version
from model.system import MigrationModel, action_of, all_rows
from model.table import Row

# Capabilities the named configurations leave out, switched on one at a time on V-to-V.
VARIANTS: tuple[dict[str, object], ...] = (
    {"pause_before_switchover": True},
    {"postcopy_preempt": True},
    {"autostart": False},
    {"exit_on_error": False},
    {"shared_disk": True},
    {"ram_may_drain": False},
    {"postcopy_ram": False, "dirty_bitmaps": True, "return_path": False},
)


@dataclass(frozen=True)
class Fired:
    """One row firing: the side's status before and after (``None`` after: no change)."""

    row: Row
    source: str
    dest: str | None


@dataclass
class ModelFacts:
    """The model's rows of one version and what they do."""

    version: str
    configs: list[str]
    states: int
    fired: dict[Row, set[Fired]] = field(default_factory=dict)

    def rows(self) -> list[Row]:
        return list(self.fired)


def configs_for(version: str) -> list[Config]:
    """The named configurations with ``version`` on a side, and V-to-V capability variants."""
    out = [c for c in NAMED.values() if version in (c.src.name, c.dst.name)]
    base = Config(name=f"drift-{version}", src=Version(version), dst=Version(version))
    if not any(c.src.name == c.dst.name == version for c in out):
        out.append(base)
    seen = {dataclasses.replace(c, name="", description="") for c in out}
    for i, kw in enumerate(VARIANTS):
        try:
            variant = dataclasses.replace(base, name=f"drift-{version}-variant-{i}", **kw)  # type: ignore[arg-type]
        except ConfigError:
            continue
        key = dataclasses.replace(variant, name="", description="")
        if key not in seen:  # a named configuration already is this variant
            seen.add(key)
            out.append(variant)
    return out


@functools.cache
def model_facts(version: str) -> ModelFacts:
    """Explore every configuration of ``version``; keep the edges of ``version``'s side(s).
    Cached: the model is immutable within a process (the caller must not change the result)."""
    if version not in VERSIONS:
        raise ValueError(f"unknown model version {version!r}")
    rows = all_rows()
    by_action = {action_of(r): r for r in rows}
    facts = ModelFacts(version, [], 0)
    for config in configs_for(version):
        sides = {s for s, v in (("src", config.src.name), ("dst", config.dst.name)) if v == version}
        ex = explore(MigrationModel(config))
        facts.configs.append(config.name)
        facts.states += ex.state_count
        states = ex.states
        for act_i, s_i, d_i in zip(ex.edge_act.tolist(), ex.edge_src.tolist(), ex.edge_dst.tolist(), strict=True):
            row = by_action.get(ex.actions[act_i])
            if row is None or row.side not in sides:
                continue
            before, after = states[s_i], states[d_i]
            if row.side == "src":
                a, b = before.s_status, after.s_status
            else:
                a, b = before.d_status, after.d_status
            facts.fired.setdefault(row, set()).add(Fired(row, a.value, b.value if b is not a else None))
    return facts


def model_statuses() -> list[str]:
    from model.status import MigrationStatus

    return [s.value for s in MigrationStatus]


def model_enum(prefix: str) -> dict[str, int]:
    """``MigCmd`` or ``RpMsg`` members with their numbers."""
    enum: Iterable[object] = messages.MigCmd if prefix == "MIG_CMD_" else messages.RpMsg
    return {m.name: m.value for m in enum}  # type: ignore[attr-defined]


def model_pings() -> dict[int, str]:
    """The PING values the model's source sends, from ``model/messages.py``'s constants."""
    out: dict[int, str] = {}
    for name in dir(messages):
        value = getattr(messages, name)
        if (name.startswith("PING_") or name == "QEMU_VM_PING_PACKAGED_LOADED") and isinstance(value, int):
            out[value] = name
    return out
