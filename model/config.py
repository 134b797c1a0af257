"""Configurations: which QEMU runs on each side, with which capabilities, and which faults may happen.

A configuration is a small frozen value, bound outside the model the way a TLA+ ``MC.cfg`` binds
constants. ``NAMED`` holds the ones ``migmodel configs`` lists.

What the version decides (read from QEMU's history, protocol.md section 10; each line is a flag of
``Version`` below or a row's ``since``/``until`` in the tables):

==============================  =====  =====  ======  =====  =====
feature                          7.2    10.0   10.0.5  10.2   11.1
==============================  =====  =====  ======  =====  =====
``device`` state on switchover   no     yes    yes     yes    yes
``postcopy-device`` (S9, D5)     no     no     no      yes    yes
``postcopy-recover-setup``       no     yes    yes     yes    yes
``failing`` before ``failed``    no     no     no      no     yes
no restart if disks fail (p.2)   no     no     no      yes    yes
``postcopy_start`` fail bug      no     yes    no      no     no
cancel refused in postcopy       no     yes    yes     yes    yes
dst honours exit-on-error        no     no     no      yes    yes
PONG wait ends on rp error       n/a    n/a    n/a     no     yes
dst status ``setup`` (listening) no     yes    yes     yes    yes
==============================  =====  =====  ======  =====  =====

"10.0" stands for 10.0.0-10.0.4 and 10.1.0, before the stable fix 725a9e5f78 (10.0.2 was observed
stranded); "10.0.5" for 10.0.5 and 10.1.1, which have it.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

VERSIONS = ("7.2", "10.0", "10.0.5", "10.2", "11.1")


@functools.cache
def _number(name: str) -> tuple[int, int, int]:
    parts = [int(p) for p in name.split(".")] + [0, 0]
    return parts[0], parts[1], parts[2]


class ConfigError(ValueError):
    """A configuration that does not exist or makes no sense."""


@dataclass(frozen=True)
class Version:
    """One QEMU release and the behaviours of it the model distinguishes.

    A behaviour that appeared in a release is ``since(major, minor[, micro])``; one that
    disappeared is ``not since(...)``. Each named flag below is one such predicate with the commit
    behind it, so the next release is one more line, never a new pair of "new"/"old" guards.
    Transition rows state their range directly (``Row.since`` / ``Row.until``).
    """

    name: str

    def __post_init__(self) -> None:
        if self.name not in VERSIONS:
            raise ConfigError(f"unknown QEMU version {self.name!r} (known: {', '.join(VERSIONS)})")

    @property
    def number(self) -> tuple[int, int, int]:
        return _number(self.name)

    def since(self, major: int, minor: int, micro: int = 0) -> bool:
        """This release has what ``major.minor.micro`` introduced."""
        return _number(self.name) >= (major, minor, micro)

    @functools.cached_property
    def device_state(self) -> bool:
        """10.0 "Always set DEVICE state" (48814111366b)."""
        return self.since(10, 0)

    @functools.cached_property
    def postcopy_device(self) -> bool:
        """10.2 "Introduce POSTCOPY_DEVICE state" (7b842fe354)."""
        return self.since(10, 2)

    @functools.cached_property
    def recover_setup(self) -> bool:
        """9.1 postcopy-recover-setup (source only)."""
        return self.since(10, 0)

    @functools.cached_property
    def failing(self) -> bool:
        """``failing`` between an error and cleanup (observed in 11.1.3)."""
        return self.since(11, 1)

    @functools.cached_property
    def postcopy_start_fail_bug(self) -> bool:
        """10.0.0-10.0.4 and 10.1.0: the ``postcopy_start`` fail path expects POSTCOPY_ACTIVE and
        changes nothing while the state is DEVICE (fixed by 725a9e5f78 in 10.0.5, 10.1.1 and 10.2;
        R12). 7.2 enters POSTCOPY_ACTIVE first, so its fail path works."""
        return self.since(10, 0) and not self.since(10, 0, 5)

    @functools.cached_property
    def cancel_refused_in_postcopy(self) -> bool:
        """``qmp_migrate_cancel`` refuses in postcopy (observed on 10.0 and 11.1; 7.2 accepts)."""
        return self.since(10, 0)

    @functools.cached_property
    def cancel_completes_without_file(self) -> bool:
        """10.0's cpr-transfer series ("migration: cpr-transfer mode", Steve Sistare): a
        ``migrate_cancel`` in ``setup`` while there is no outgoing file yet (``!s->to_dst_file``:
        the socket connect still pending) completes the cancel itself in ``migration_cancel``
        (CANCELLING -> CANCELLED under the BQL). The pending connect is not stopped: when it
        completes, ``migration_connect`` starts the migration thread all the same, which sends
        the stream header before it finds the migration no longer active (read in 10.2.2; seen
        on real 10.2.2, docs/qemu-qtest.md). Before, the cancel stays CANCELLING until that
        thread (or the connect's error path) reaches ``migrate_fd_cleanup``."""
        return self.since(10, 0)

    @functools.cached_property
    def recover_error_pauses(self) -> bool:
        """8.2 "Allow RECOVER->PAUSED convertion for dest qemu" (0e99bb8f5441) and "Allow network
        to fail even during recovery" (f8c543e808f2; docs/tests-and-bugs.md, B4): a stream error in
        ``postcopy-recover`` pauses both sides again. Before, the destination's
        ``savevm.c:postcopy_pause_incoming`` swaps from ACTIVE only and its retry reads a NULL file
        (SIGSEGV), and the source's migration thread waits for RESUME_ACK for good (observed on
        7.2.22, docs/drift-7.2-recover.md)."""
        return self.since(8, 2)

    @functools.cached_property
    def exit_on_error_in_postcopy(self) -> bool:
        """10.2 patch 6 (b1a17a519b): a postcopy failure before RUNNING honours exit-on-error;
        before, the destination always exits."""
        return self.since(10, 2)

    @functools.cached_property
    def incoming_setup(self) -> bool:
        """The destination has the status ``setup`` while it listens. 10.x's
        ``migration_incoming_state_setup`` (called by ``qemu_start_incoming_migration``) moves
        ``mis->state`` NONE -> SETUP on ``migrate-incoming`` (the MIGRATION event comes from
        ``migrate_set_state``) and changes nothing on ``migrate-recover`` (POSTCOPY_PAUSED).
        7.2's ``qemu_start_incoming_migration`` only sends the event ``setup``
        (``qapi_event_send_migration``), on both commands; ``mis->state`` stays NONE until
        ``process_incoming_migration_co`` sets NONE -> ACTIVE, so ``query-migrate`` shows no
        status (confirmed on 7.2.22, docs/drift.md). Both trees read; the release in between that
        changed it is not modelled. ``model/system.py`` (``effective_dest``) and
        ``model/events.py`` read this flag, nothing else."""
        return self.since(10, 0)


@dataclass(frozen=True, slots=True)
class Faults:
    """How many faults may happen in one run: ``total`` in all, any mix of the kinds
    ``model/faults.py`` enables by default (each up to the total; the others never), or
    ``per_kind`` times each kind, or what ``limits`` says for the kinds it names. Faults
    eventually stop: the budget only shrinks."""

    total: int = 2
    per_kind: int | None = None
    limits: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        values = [("total", self.total), *(() if self.per_kind is None else [("per_kind", self.per_kind)]),
                  *self.limits]
        for name, v in values:
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ConfigError(f"fault budget {name} must be a non-negative integer, got {v!r}")

    @classmethod
    def only(cls, total: int, **counts: int) -> Faults:
        """Just the kinds named (``reset=1, dst_crash=1``), every other kind never."""
        return cls(total=total, per_kind=0, limits=tuple((k.replace("_", "-"), n) for k, n in counts.items()))

    def with_limit(self, kind: str, count: int) -> Faults:
        return dataclasses.replace(self, limits=(*((k, n) for k, n in self.limits if k != kind), (kind, count)))

    def limit(self, kind: str, default: int) -> int:
        """The limit of ``kind``, whose default (from the table) is ``default``."""
        for k, n in self.limits:
            if k == kind:
                return n
        return default if self.per_kind is None else self.per_kind


DEEP = Faults(total=3)
"""The "deep" profile: three faults per run (any mix of the default kinds)."""

PROFILES: dict[str, Faults] = {"default": Faults(), "deep": DEEP}
"""The named fault budgets: ``dataclasses.replace(config, faults=PROFILES["deep"])`` checks a
configuration three faults deep (about twice the states and time of the default, see the README's
speed section)."""


@dataclass(frozen=True, slots=True)
class Config:
    """One migration setup: the two QEMUs, the capabilities, the operator and the faults.

    ``postcopy_ram``: postcopy of RAM (implies a return path; ``migrate_connect`` opens one iff
    postcopy-ram or return-path is set). ``dirty_bitmaps``: bitmap postcopy; with
    ``postcopy_ram=False`` and ``return_path=False`` this is the only postcopy without a return
    path. Neither postcopy-ram nor dirty-bitmaps: a precopy-only migration (QEMU's migration-test
    ``precopy/*`` and ``cancel/*``). ``ram_may_drain``: the source may send its last page while
    still in ``postcopy-device`` (an idle or small guest); False models a guest busy enough that
    pages remain until the PONG.
    """

    name: str
    src: Version
    dst: Version
    postcopy_ram: bool = True
    dirty_bitmaps: bool = False
    return_path: bool = True
    pause_before_switchover: bool = False
    postcopy_preempt: bool = False
    exit_on_error: bool = True
    autostart: bool = True
    shared_disk: bool = False
    ram_may_drain: bool = True
    pages_after_switchover: bool = True
    faults: Faults = Faults()
    description: str = ""

    def __post_init__(self) -> None:
        if self.postcopy_preempt and not self.postcopy_ram:
            raise ConfigError(f"{self.name}: postcopy-preempt needs postcopy-ram")
        if self.exit_on_error is False and not self.dst.since(10, 0):
            raise ConfigError(f"{self.name}: exit-on-error=false needs a destination of 9.1 or later")

    @property
    def postcopy(self) -> bool:
        """``migrate_postcopy()``: postcopy-ram or dirty-bitmaps. Without either the configuration
        is precopy only: no ADVISE, ``migrate-start-postcopy`` refused, and the operator may
        ``stop`` the guest before ``migrate`` (a non-live precopy)."""
        return self.postcopy_ram or self.dirty_bitmaps

    @property
    def has_return_path(self) -> bool:
        """``migration_connect`` opens the return path iff postcopy-ram or return-path."""
        return self.postcopy_ram or self.return_path

    @property
    def capabilities(self) -> tuple[str, ...]:
        caps = ["events"]
        if self.postcopy_ram:
            caps.append("postcopy-ram")
        if self.return_path:
            caps.append("return-path")
        if self.dirty_bitmaps:
            caps.append("dirty-bitmaps")
        if self.pause_before_switchover:
            caps.append("pause-before-switchover")
        if self.postcopy_preempt:
            caps.append("postcopy-preempt")
        return tuple(caps)

    def summary(self) -> str:
        bits = [f"src {self.src.name}", f"dst {self.dst.name}", "caps " + ",".join(self.capabilities)]
        bits.append("shared disk with locks" if self.shared_disk else "no shared disk")
        if not self.autostart:
            bits.append("dst -S")
        if not self.exit_on_error:
            bits.append("exit-on-error=false")
        if not self.pages_after_switchover:
            bits.append("nothing left to send after the switchover")
        else:
            bits.append("RAM may drain before the PONG" if self.ram_may_drain else "RAM pending until the PONG")
        from model.faults import describe  # faults.py builds on this module: imported when used

        bits.append(describe(self.faults))
        return "; ".join(bits)


def _c(name: str, src: str, dst: str | None = None, description: str = "", **kw: object) -> Config:
    return Config(name=name, src=Version(src), dst=Version(dst or src), description=description,
                  **kw)  # type: ignore[arg-type]


NAMED: dict[str, Config] = {c.name: c for c in (
    _c("qemu-7.2", "7.2", description="QEMU 7.2 on both sides: postcopy-active straight away."),
    _c("qemu-10.0", "10.0", description="QEMU 10.0/10.1 (before the stable fix): device state, no postcopy-device."),
    _c("qemu-10.0.5", "10.0.5",
       description="QEMU 10.0.5/10.1.1: 10.0 with the postcopy_start error-path fix (725a9e5f78)."),
    _c("qemu-10.2", "10.2", description="QEMU 10.2: postcopy-device; the PONG wait is an event only the PONG sets."),
    _c("qemu-11.1", "11.1", description="QEMU 11.1: postcopy-device, failing, the PONG wait ends on rp errors."),
    _c("qemu-11.1-to-7.2", "11.1", "7.2", description="New source, old destination: PONG 0x42 still answered."),
    _c("qemu-7.2-to-11.1", "7.2", "11.1", description="Old source, new destination: no protection."),
    _c("qemu-10.2-bitmaps-only", "10.2", postcopy_ram=False, dirty_bitmaps=True, return_path=False,
       description="Dirty-bitmap postcopy without a return path: postcopy-device is skipped."),
    _c("qemu-10.2-bitmaps-return-path", "10.2", postcopy_ram=False, dirty_bitmaps=True, return_path=True,
       pages_after_switchover=False,
       description="Dirty-bitmap postcopy with a return path and nothing left to send (qemu-iotest 194)."),
    _c("qemu-11.1-preempt", "11.1", postcopy_preempt=True,
       description="QEMU 11.1 with postcopy-preempt: the switchover first waits for a PONG."),
    _c("qemu-11.1-shared-disk", "11.1", shared_disk=True,
       description="QEMU 11.1 with one shared disk image and QEMU's image locks."),
    _c("qemu-10.0-shared-disk", "10.0", shared_disk=True,
       description="QEMU 10.0 (before the stable fix) with one shared disk image and image locks."),
    _c("qemu-10.2-shared-disk", "10.2", shared_disk=True,
       description="QEMU 10.2 with one shared disk image and QEMU's image locks."),
    _c("qemu-11.1-to-7.2-shared-disk", "11.1", "7.2", shared_disk=True,
       description="New source, old destination, one shared disk image with image locks."),
    _c("qemu-11.1-busy-guest", "11.1", ram_may_drain=False,
       description="QEMU 11.1 with pages still pending whenever the source waits for the PONG."),
    _c("qemu-10.2-busy-guest", "10.2", ram_may_drain=False,
       description="QEMU 10.2 with pages still pending whenever the source waits for the PONG."),
    _c("qemu-11.1-shared-disk-busy-guest", "11.1", shared_disk=True, ram_may_drain=False,
       description="Shared disk with locks and a busy guest: the configuration where 11.1 keeps its promises."),
    # 10.2 against the other versions (recorded on 10.2.2 built from Debian's source package)
    _c("qemu-10.2-to-11.1", "10.2", "11.1", description="10.2 source, 11.1 destination."),
    _c("qemu-11.1-to-10.2", "11.1", "10.2", description="11.1 source, 10.2 destination."),
    _c("qemu-10.2-to-7.2", "10.2", "7.2", description="10.2 source, old destination (which still answers PING 0x42)."),
    _c("qemu-7.2-to-10.2", "7.2", "10.2", description="Old source, 10.2 destination: no protection."),
    _c("qemu-10.2-preempt", "10.2", postcopy_preempt=True,
       description="QEMU 10.2 with postcopy-preempt (QEMU's migration-test postcopy/preempt/*)."),
    _c("qemu-10.2-precopy", "10.2", postcopy_ram=False, return_path=False,
       description="QEMU 10.2, precopy only, no return path (QEMU's migration-test precopy/* and "
                   "cancel/*): the source completes without waiting for SHUT(0); the guest may be "
                   "stopped before migrate (non-live)."),
)}

