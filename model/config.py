"""Configurations: which QEMU runs on each side, with which capabilities, and which faults may happen.

A configuration is a small frozen value, bound outside the model the way a TLA+ ``MC.cfg`` binds
constants. ``NAMED`` holds the ones ``migmodel configs`` lists; ``Config.parse`` turns a name into one.

What the version decides (each flag is read from QEMU's history, protocol.md section 10):

============================  ======  ======  ======  ======
feature                        7.2     10.0    10.2    11.1
============================  ======  ======  ======  ======
``device`` state on switchover  no      yes     yes     yes
``postcopy-device`` (S9, D5)    no      no      yes     yes
``postcopy-recover-setup``      no      yes     yes     yes
``failing`` before ``failed``   no      no      no      yes
no restart if disks fail (p.2)  no      no      yes     yes
``postcopy_start`` fail bug     no      yes     no      no
cancel refused in postcopy      no      yes     yes     yes
dst honours exit-on-error       no      no      yes     yes
PONG wait ends on rp error      n/a     n/a     no      yes
spurious ``setup`` on recover   yes     no      no      no
============================  ======  ======  ======  ======

"10.0" stands for 10.0 and 10.1 before the stable fix 725a9e5f78 (10.0.2 was observed stranded).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

VERSIONS = ("7.2", "10.0", "10.2", "11.1")


@functools.cache
def _number(name: str) -> tuple[int, int]:
    major, minor = name.split(".")
    return int(major), int(minor)


class ConfigError(ValueError):
    """A configuration that does not exist or makes no sense."""


@dataclass(frozen=True)
class Version:
    """One QEMU release and the behaviours of it the model distinguishes."""

    name: str

    def __post_init__(self) -> None:
        if self.name not in VERSIONS:
            raise ConfigError(f"unknown QEMU version {self.name!r} (known: {', '.join(VERSIONS)})")

    def at_least(self, name: str) -> bool:
        return _number(self.name) >= _number(name)

    @functools.cached_property
    def device_state(self) -> bool:
        """10.0 "Always set DEVICE state" (48814111366b)."""
        return self.at_least("10.0")

    @functools.cached_property
    def postcopy_device(self) -> bool:
        """10.2 "Introduce POSTCOPY_DEVICE state" (7b842fe354)."""
        return self.at_least("10.2")

    @functools.cached_property
    def recover_setup(self) -> bool:
        """9.1 postcopy-recover-setup (source only)."""
        return self.at_least("10.0")

    @functools.cached_property
    def failing(self) -> bool:
        """``failing`` between an error and cleanup (observed in 11.1.3)."""
        return self.at_least("11.1")

    @functools.cached_property
    def no_restart_without_disks(self) -> bool:
        """10.2 patch 2 (26f65c01ed): no ``vm_start`` when disk reactivation fails."""
        return self.at_least("10.2")

    @functools.cached_property
    def postcopy_start_fail_bug(self) -> bool:
        """10.0/10.1: the ``postcopy_start`` fail path expects POSTCOPY_ACTIVE and changes nothing
        while the state is DEVICE (fixed by 725a9e5f78, R12)."""
        return self.name == "10.0"

    @functools.cached_property
    def cancel_refused_in_postcopy(self) -> bool:
        """``qmp_migrate_cancel`` refuses in postcopy (observed on 10.0 and 11.1; 7.2 accepts)."""
        return self.at_least("10.0")

    @functools.cached_property
    def exit_on_error_in_postcopy(self) -> bool:
        """10.2 patch 6 (b1a17a519b): a postcopy failure before RUNNING honours exit-on-error;
        before, the destination always exits."""
        return self.at_least("10.2")

    @functools.cached_property
    def pong_wait_ends_on_rp_error(self) -> bool:
        """11.1.3: the wait for PONG 0x42 also ends when the return-path thread exits with an
        error (real-qemu.md, last section). 10.2 waits on an event only the PONG sets."""
        return self.at_least("11.1")

    @functools.cached_property
    def recover_emits_setup(self) -> bool:
        """7.2 ``qemu_start_incoming_migration`` emits ``setup`` on ``migrate-recover``."""
        return not self.at_least("10.0")


FAULT_KINDS = ("link-cut", "dst-crash", "src-crash", "device-load-failure", "disk-failure")


@dataclass(frozen=True, slots=True)
class Faults:
    """How many times each fault may happen in one run, and in total (faults eventually stop)."""

    link_cut: int = 1
    dst_crash: int = 1
    src_crash: int = 0
    device_load_failure: int = 1
    disk_failure: int = 0
    total: int = 1

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int) or v < 0:
                raise ConfigError(f"fault budget {f.name} must be a non-negative integer, got {v!r}")

    def budget(self) -> tuple[int, int, int, int, int, int]:
        return (self.link_cut, self.dst_crash, self.src_crash, self.device_load_failure,
                self.disk_failure, self.total)


@dataclass(frozen=True, slots=True)
class Config:
    """One migration setup: the two QEMUs, the capabilities, the operator and the faults.

    ``postcopy_ram``: postcopy of RAM (implies a return path; ``migrate_connect`` opens one iff
    postcopy-ram or return-path is set). ``dirty_bitmaps``: bitmap postcopy; with
    ``postcopy_ram=False`` and ``return_path=False`` this is the only postcopy without a return
    path. ``ram_may_drain``: the source may send its last page while still in ``postcopy-device``
    (an idle or small guest); False models a guest busy enough that pages remain until the PONG.
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
        if not (self.postcopy_ram or self.dirty_bitmaps):
            raise ConfigError(f"{self.name}: no postcopy capability (postcopy-ram or dirty-bitmaps)")
        if self.postcopy_preempt and not self.postcopy_ram:
            raise ConfigError(f"{self.name}: postcopy-preempt needs postcopy-ram")
        if self.exit_on_error is False and not self.dst.at_least("10.0"):
            raise ConfigError(f"{self.name}: exit-on-error=false needs a destination of 9.1 or later")

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
        f = self.faults
        bits.append(
            f"faults (total {f.total}): link-cut {f.link_cut}, dst-crash {f.dst_crash}, "
            f"src-crash {f.src_crash}, device-load {f.device_load_failure}, disk {f.disk_failure}"
        )
        return "; ".join(bits)


def _c(name: str, src: str, dst: str | None = None, description: str = "", **kw: object) -> Config:
    return Config(name=name, src=Version(src), dst=Version(dst or src), description=description,
                  **kw)  # type: ignore[arg-type]


NAMED: dict[str, Config] = {c.name: c for c in (
    _c("qemu-7.2", "7.2", description="QEMU 7.2 on both sides: postcopy-active straight away."),
    _c("qemu-10.0", "10.0", description="QEMU 10.0/10.1 (before the stable fix): device state, no postcopy-device."),
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
)}


def get(name: str) -> Config:
    """The named configuration, or a ConfigError naming the known ones."""
    try:
        return NAMED[name]
    except KeyError:
        raise ConfigError(f"unknown configuration {name!r} (see `migmodel configs`)") from None
