"""The scenario catalogue, and the code that runs one scenario against two real QEMUs.

Every scenario follows the set-up of ``docs/real-qemu.md``:

* both QEMUs: ``-machine <M>,accel=tcg -m 128 -nodefaults -display none -vga none``, no disk
  (SeaBIOS finds nothing to boot and idles), QMP on a unix socket in the shared run directory;
  ``M`` is ``pc`` when both sides run the same QEMU version and ``pc-i440fx-<older>`` otherwise;
* guest RAM is given 64 MiB of random content with ``-device loader`` on both sides, so that
  precopy does not converge before ``migrate-start-postcopy`` (128 MiB of zero pages would);
* capabilities ``events``, ``postcopy-ram``, ``return-path`` on both sides;
* source: ``-S``, capabilities and bandwidth limits set, then ``cont``; ``max-bandwidth``
  16 MiB/s (precopy lasts about 4 s) and ``max-postcopy-bandwidth`` 8 MiB/s (postcopy about
  6 s, time to inject faults). ``precopy_ok`` uses 64 MiB/s and ``postcopy_ok`` a 64 MiB/s
  postcopy bandwidth;
* destination: ``-incoming defer``, then ``migrate-incoming uri=tcp:127.0.0.1:P``, then
  ``migrate`` on the source; postcopy scenarios wait for the source's ``active`` plus 1 s and
  send ``migrate-start-postcopy``.

Faults are injected within about 1 ms of a given MIGRATION event by hooks that the recorder
runs synchronously when the event arrives (see :mod:`harness.qmp`).

Every process a run starts is on 127.0.0.1, killed by its own PID only, and waited for; each
wait has a timeout and the whole run has one (``timeout``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import TRACE_FORMAT_VERSION
from harness.proxy import FaultProxy
from harness.qmp import Line, QMPConnection, QMPError, Recorder, is_migration

MiB = 1024 * 1024
CAPABILITIES = ["events", "postcopy-ram", "return-path"]
DEFAULT_RUN_DIR = Path(os.environ.get("MIGMODEL_RUN_DIR", "/var/cache/migmodel/run"))
BLOB_NAME = "blob64.bin"
BLOB_SIZE = 64 * MiB
BLOB_ADDR = 0x1000000

#: Source statuses after which the source does nothing more on its own.
SRC_END = frozenset({"completed", "failed", "cancelled", "postcopy-paused"})
#: Same for the destination (or the destination process is gone).
DST_END = frozenset({"completed", "failed", "postcopy-paused"})

#: PIDs of QEMU processes started by this Python process and not yet reaped: the last-resort
#: cleanup (``kill_leftovers``) SIGKILLs exactly these.
_LIVE_PIDS: set[int] = set()


# --------------------------------------------------------------------------------------------
# QEMU binaries


@dataclass(frozen=True)
class QemuBinary:
    """A QEMU binary (or the ``harness/qemu-11.1`` wrapper) and its version."""

    path: str
    version: str  # e.g. "11.1.3"

    @property
    def major_minor(self) -> tuple[int, int]:
        major, minor = self.version.split(".")[:2]
        return int(major), int(minor)

    @property
    def short(self) -> str:
        return "{}.{}".format(*self.major_minor)

    @property
    def has_postcopy_device(self) -> bool:
        """POSTCOPY_DEVICE (and the PONG 0x42 handshake) exists since QEMU 10.2."""
        return self.major_minor >= (10, 2)

    @property
    def strands_in_device(self) -> bool:
        """``postcopy_start``'s error path leaves the source in ``device`` for good (10.0.0-10.0.4,
        10.1.0; fixed by 725a9e5f78 in 10.0.5 and 10.1.1: docs/real-qemu.md, "QEMU 10.0.2")."""
        micro = int([*self.version.split("."), "0"][2])
        return (self.major_minor == (10, 0) and micro < 5) or (self.major_minor == (10, 1) and micro < 1)

    @property
    def has_exit_on_error(self) -> bool:
        """``migrate-incoming exit-on-error`` exists since QEMU 9.1."""
        return self.major_minor >= (9, 1)


class BinaryError(Exception):
    """The given QEMU binary is missing or does not run."""


def probe_binary(path: str) -> QemuBinary:
    """Run ``PATH --version`` and parse the version (raises :class:`BinaryError`)."""
    resolved = shutil.which(path) if os.sep not in path else path
    if not resolved or not os.path.isfile(resolved) or not os.access(resolved, os.X_OK):
        raise BinaryError(f"QEMU binary not found or not executable: {path}")
    try:
        out = subprocess.run(
            [resolved, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BinaryError(f"cannot run {path} --version: {exc}") from exc
    m = re.search(r"QEMU emulator version (\d+\.\d+(?:\.\d+)?)", out.stdout)
    if out.returncode != 0 or not m:
        msg = (out.stderr or out.stdout).strip().splitlines()
        raise BinaryError(f"{path} --version failed: {msg[-1] if msg else out.returncode}")
    return QemuBinary(os.path.abspath(resolved), m.group(1))


def machine_for(src: QemuBinary, dst: QemuBinary) -> str:
    """``pc`` for a same-version pair, else the older side's versioned i440fx machine."""
    if src.major_minor == dst.major_minor:
        return "pc"
    older = min(src.major_minor, dst.major_minor)
    return "pc-i440fx-{}.{}".format(*older)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_blob(run_root: Path) -> Path:
    """The 64 MiB random blob loaded into guest RAM on both sides (created once, atomically)."""
    blob = run_root / BLOB_NAME
    if blob.is_file() and blob.stat().st_size == BLOB_SIZE:
        return blob
    run_root.mkdir(parents=True, exist_ok=True)
    tmp = run_root / f".{BLOB_NAME}.{os.getpid()}"
    with open(tmp, "wb") as f:
        for _ in range(BLOB_SIZE // MiB):
            f.write(os.urandom(MiB))
    os.replace(tmp, blob)
    return blob


def kill_leftovers() -> None:
    """SIGKILL every QEMU this process started that may still run (last-resort cleanup)."""
    for pid in list(_LIVE_PIDS):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
        _LIVE_PIDS.discard(pid)


# --------------------------------------------------------------------------------------------
# One QEMU process


class VM:
    """One QEMU process (source or destination) with its QMP connection."""

    def __init__(self, side: str, binary: QemuBinary, args: list[str], run_dir: Path, rec: Recorder):
        self.side = side
        self.binary = binary
        self.args = args
        self.rec = rec
        self.qmp_path = run_dir / f"{side}.qmp"
        self.log_path = run_dir / f"{side}.log"
        self.qmp = QMPConnection(side, rec)
        self.proc: asyncio.subprocess.Process | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.exited = asyncio.Event()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self, timeout: float) -> None:
        argv = [self.binary.path, *self.args]
        with open(self.log_path, "wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the harness only; it cleans up.
            )
        _LIVE_PIDS.add(self.proc.pid)
        self._watcher = asyncio.create_task(self._watch())
        await self.qmp.connect(self.qmp_path, timeout, lambda: self.alive)

    def stderr_tail(self, n: int = 12) -> list[str]:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        return [ln for ln in text.splitlines() if ln.strip()][-n:]

    async def _watch(self) -> None:
        assert self.proc is not None
        rc = await self.proc.wait()
        _LIVE_PIDS.discard(self.proc.pid)
        self.rec.add({"side": self.side, "exit": rc, "stderr_tail": self.stderr_tail()})
        self.exited.set()

    def kill(self) -> None:
        """SIGKILL this QEMU (by its own PID)."""
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)

    async def stop(self) -> None:
        """Teardown: ``quit`` over QMP, then SIGKILL if it has not exited within 4 s.

        (A 7.2 source that accepted ``migrate_cancel`` in postcopy was seen to emit SHUTDOWN on
        ``quit`` and then hang without replying; the SIGKILL covers that.)"""
        if self.alive:
            await self.qmp.execute("quit", timeout=2)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.exited.wait(), 2)
        if self.alive:
            self.kill()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.exited.wait(), 5)
        await self.qmp.close()
        if self._watcher is not None and not self._watcher.done():
            self._watcher.cancel()


# --------------------------------------------------------------------------------------------
# Scenario description


@dataclass(frozen=True)
class Scenario:
    """One entry of the catalogue.

    ``drive`` runs after ``migrate`` was sent on the source and returns when the run is over
    (both sides at rest); the common set-up and teardown are in :class:`Session`.
    """

    name: str
    summary: str
    drive: Callable[[Session], Awaitable[None]]
    src_args: tuple[str, ...] = ()
    dst_args: tuple[str, ...] = ()
    dst_mem: int = 128
    max_bandwidth: int = 16 * MiB
    max_postcopy_bandwidth: int = 8 * MiB
    exit_on_error: bool = True
    proxy: bool = False
    proxy_class: type[FaultProxy] = FaultProxy
    """What ``proxy`` puts between the two (a subclass holds the connection in its own way)."""
    shared_disk: bool = False
    needs_src_postcopy_device: bool = False
    needs_dst_exit_on_error: bool = False
    needs_src_stranding: bool = False

    def applicable(self, src: QemuBinary, dst: QemuBinary) -> str | None:
        """None if the scenario can run on this pairing, else the reason it cannot."""
        if self.needs_src_postcopy_device and not src.has_postcopy_device:
            return f"{self.name} needs a source with postcopy-device (QEMU >= 10.2), got {src.version}"
        if self.needs_src_stranding and not src.strands_in_device:
            return f"{self.name} needs a source that strands in device (10.0.0-10.0.4, 10.1.0), got {src.version}"
        if self.needs_dst_exit_on_error and not dst.has_exit_on_error:
            return (
                f"{self.name} needs a destination with migrate-incoming exit-on-error "
                f"(QEMU >= 9.1), got {dst.version}"
            )
        return None


# --------------------------------------------------------------------------------------------
# A run


@dataclass
class Session:
    """Everything one scenario run needs: the two VMs, the recorder, the optional proxy."""

    scenario: Scenario
    src_bin: QemuBinary
    dst_bin: QemuBinary
    run_dir: Path
    blob: Path
    rec: Recorder
    step_timeout: float = 30.0
    src: VM = field(init=False)
    dst: VM = field(init=False)
    proxy: FaultProxy | None = None
    port: int = 0
    machine: str = ""
    extra_monitors: bool = False
    """Give each QEMU a second QMP monitor, ``<side>-ro.qmp`` in the run directory, for an
    observer such as ``migmodel advise --live``."""
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def vm(self, side: str) -> VM:
        return self.src if side == "src" else self.dst

    def fault(self, kind: str, **extra: Any) -> None:
        self.rec.add({"side": "harness", "fault": kind, **extra})

    def kill(self, side: str) -> None:
        """Inject a SIGKILL of one side (recorded first, so it precedes its consequences)."""
        if self.vm(side).alive:
            self.fault(f"kill-{side}")
            self.vm(side).kill()

    def spawn(self, coro: Awaitable[Any]) -> None:
        """Run a coroutine in the background (e.g. a QMP command issued from an event hook)."""

        async def wrap() -> Any:
            return await coro

        self._tasks.append(asyncio.ensure_future(wrap()))

    # ---- set-up

    def _common_args(self, side: str, mem: int) -> list[str]:
        vm_qmp = self.run_dir / f"{side}.qmp"
        args = [
            "-machine", f"{self.machine},accel=tcg",
            "-m", str(mem),
            "-nodefaults", "-display", "none", "-vga", "none",
            "-name", f"migmodel-{side}",
            "-qmp", f"unix:{vm_qmp},server=on,wait=off",
            "-device", f"loader,file={self.blob},addr={BLOB_ADDR:#x}",
        ]  # fmt: skip
        if self.extra_monitors:
            args += ["-qmp", f"unix:{self.run_dir / f'{side}-ro.qmp'},server=on,wait=off"]
        if self.scenario.shared_disk:
            disk = self.run_dir / "disk.raw"
            args += [
                "-drive", f"file={disk},format=raw,if=none,id=disk0",
                "-device", "ide-hd,drive=disk0,bus=ide.0",
            ]  # fmt: skip
        return args

    async def setup(self) -> None:
        sc = self.scenario
        self.machine = machine_for(self.src_bin, self.dst_bin)
        if sc.shared_disk:
            with open(self.run_dir / "disk.raw", "wb") as f:
                f.truncate(16 * MiB)
        dst_args = [*self._common_args("dst", sc.dst_mem), "-incoming", "defer", *sc.dst_args]
        src_args = [*self._common_args("src", 128), "-S", *sc.src_args]
        self.dst = VM("dst", self.dst_bin, dst_args, self.run_dir, self.rec)
        self.src = VM("src", self.src_bin, src_args, self.run_dir, self.rec)
        self.rec.meta["machine"] = self.machine
        self.rec.meta["src_args"] = src_args
        self.rec.meta["dst_args"] = dst_args
        await self.dst.start(self.step_timeout)
        await self.src.start(self.step_timeout)

        caps = [{"capability": c, "state": True} for c in CAPABILITIES]
        for vm in (self.src, self.dst):
            await self._must(vm, "migrate-set-capabilities", {"capabilities": caps})
        await self._must(
            self.src,
            "migrate-set-parameters",
            {"max-bandwidth": sc.max_bandwidth, "max-postcopy-bandwidth": sc.max_postcopy_bandwidth},
        )
        await self._must(self.src, "cont")

        self.port = free_port()
        incoming: dict[str, Any] = {"uri": f"tcp:127.0.0.1:{self.port}"}
        if not sc.exit_on_error:
            incoming["exit-on-error"] = False
        await self._must(self.dst, "migrate-incoming", incoming)
        target = self.port
        if sc.proxy:
            self.proxy = sc.proxy_class(self.port)
            target = await self.proxy.start()
            self.rec.meta["proxy"] = True
        await self._must(self.src, "migrate", {"uri": f"tcp:127.0.0.1:{target}"})

    async def _must(self, vm: VM, cmd: str, args: dict[str, Any] | None = None) -> Any:
        ok, ret = await vm.qmp.execute(cmd, args)
        if not ok:
            raise HarnessError(f"{vm.side} {cmd} failed during set-up: {ret}")
        return ret

    # ---- waiting

    async def wait_mig(self, side: str, *statuses: str, timeout: float | None = None) -> Line | None:
        """Wait for a MIGRATION event with one of ``statuses`` on ``side``; None on timeout or
        if that side's process is gone first."""
        pred = is_migration(side, *statuses)

        def done(line: Line) -> bool:
            return pred(line) or (line.get("side") == side and "exit" in line)

        try:
            line = await self.rec.wait_line(done, timeout or self.step_timeout)
        except TimeoutError:
            self.rec.add({"side": "harness", "note": f"timeout waiting for {side} {'/'.join(statuses)}"})
            return None
        return line if pred(line) else None

    def _at_rest(self, side: str, end: frozenset[str]) -> bool:
        if not self.vm(side).alive:
            return True
        statuses = self.rec.migration_statuses(side)
        return bool(statuses) and statuses[-1] in end

    async def until_rest(
        self,
        *,
        src_end: frozenset[str] = SRC_END,
        dst_end: frozenset[str] = DST_END,
        timeout: float | None = None,
        settle: float = 1.0,
    ) -> None:
        """Wait until both sides are at rest (terminal MIGRATION status or process gone), then
        ``settle`` seconds more to collect the follow-up events (RESUME, exit, ...)."""
        deadline = time.monotonic() + (timeout or self.step_timeout)
        while not (self._at_rest("src", src_end) and self._at_rest("dst", dst_end)):
            if time.monotonic() > deadline:
                self.rec.add({"side": "harness", "note": "timeout waiting for both sides to come to rest"})
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(settle)

    async def start_postcopy_after_active(self, delay: float = 1.0) -> bool:
        """Wait for the source's ``active`` plus ``delay``, then ``migrate-start-postcopy``."""
        if await self.wait_mig("src", "active") is None:
            return False
        await asyncio.sleep(delay)
        ok, _ = await self.src.qmp.execute("migrate-start-postcopy")
        return ok

    # ---- the end

    async def final_queries(self) -> None:
        """Final ``query-status`` and ``query-migrate`` of each live side, and the tail of its
        stderr (QEMU's error messages, e.g. ``Failed to get "write" lock``), before teardown."""
        for vm in (self.src, self.dst):
            if vm.alive:
                await vm.qmp.execute("query-status", timeout=5)
                await vm.qmp.execute("query-migrate", timeout=5)
        for vm in (self.src, self.dst):
            if vm.alive:
                self.rec.add({"side": vm.side, "stderr_tail": vm.stderr_tail()})

    async def teardown(self) -> None:
        """Mark the trace, then quit (or kill) both QEMUs and close the proxy."""
        if not self.rec.teardown:
            self.rec.add({"side": "harness", "teardown": True})
            self.rec.teardown = True
        for t in self._tasks:
            if not t.done():
                t.cancel()
        if self.proxy is not None:
            await self.proxy.close()
        vms = [vm for vm in (getattr(self, "src", None), getattr(self, "dst", None)) if vm is not None]
        await asyncio.gather(*(vm.stop() for vm in vms), return_exceptions=True)


class HarnessError(Exception):
    """The harness itself could not run the scenario (set-up failed, ...)."""


# --------------------------------------------------------------------------------------------
# Scenario drivers


async def _precopy_ok(s: Session) -> None:
    """Plain precopy: postcopy-ram is enabled on both sides but postcopy is never started."""
    await s.until_rest(timeout=40)


async def _postcopy_ok(s: Session) -> None:
    """Precopy for 1 s, ``migrate-start-postcopy``, run to completion (no fault)."""
    await s.start_postcopy_after_active()
    await s.until_rest(timeout=40)


async def _a_kill_dst_after_start_postcopy(s: Session) -> None:
    """SIGKILL the destination right after ``migrate-start-postcopy`` returns.

    The destination dies before it can load the package: an 11.1 source must fail and restart
    its VM (``device → failing → failed``); a 7.2 source goes ``active → failed``.
    """
    if await s.start_postcopy_after_active():
        s.kill("dst")
    await s.until_rest()


async def _a2_kill_dst_in_postcopy_active(s: Session) -> None:
    """SIGKILL the destination 0.3 s after the source reports ``postcopy-active``.

    The destination guest already ran: the source can only go ``postcopy-paused`` (VM stopped).
    """
    if await s.start_postcopy_after_active() and await s.wait_mig("src", "postcopy-active"):
        await asyncio.sleep(0.3)
        s.kill("dst")
    await s.until_rest()


async def _a3_kill_dst_on_postcopy_device_event(s: Session) -> None:
    """SIGKILL the destination from a hook on the source's ``MIGRATION postcopy-device`` event.

    The source waits for PONG 0x42 in postcopy-device; the destination dies before sending it,
    so the source must fail and restart (11.1 source only: 7.2 has no postcopy-device).
    """
    s.rec.on_event(is_migration("src", "postcopy-device"), lambda _ln: s.kill("dst"))
    await s.start_postcopy_after_active()
    await s.until_rest()


async def _b_pause_recover(s: Session) -> None:
    """``migrate-pause`` on the source in postcopy-active, then recover.

    Both sides go postcopy-paused; ``migrate-recover`` on the destination opens a new listener;
    ``migrate resume=true`` on the source reconnects and the migration completes.
    """
    if not (await s.start_postcopy_after_active() and await s.wait_mig("src", "postcopy-active")):
        await s.until_rest()
        return
    await asyncio.sleep(0.3)
    await s.src.qmp.execute("migrate-pause")
    src_p = await s.wait_mig("src", "postcopy-paused")
    dst_p = await s.wait_mig("dst", "postcopy-paused")
    if src_p is None or dst_p is None:
        await s.until_rest()
        return
    await asyncio.sleep(0.2)
    port2 = free_port()
    ok, _ = await s.dst.qmp.execute("migrate-recover", {"uri": f"tcp:127.0.0.1:{port2}"})
    if ok:
        await asyncio.sleep(0.2)
        await s.src.qmp.execute("migrate", {"uri": f"tcp:127.0.0.1:{port2}", "resume": True})
    await s.until_rest(
        src_end=frozenset({"completed", "failed", "cancelled"}),
        dst_end=frozenset({"completed", "failed"}),
        timeout=40,
    )


async def _c_cancel_precopy(s: Session) -> None:
    """``migrate_cancel`` during precopy ``active`` (1 s after active)."""
    if await s.wait_mig("src", "active"):
        await asyncio.sleep(1.0)
        await s.src.qmp.execute("migrate_cancel")
    await s.until_rest()


async def _c2_cancel_postcopy(s: Session) -> None:
    """``migrate_cancel`` 0.3 s into postcopy-active.

    7.2 accepts it (source cancelled, VM stopped; destination runs in postcopy-paused); 11.1
    refuses it ("Postcopy migration in progress, cannot cancel.") and completes.
    """
    if await s.start_postcopy_after_active() and await s.wait_mig("src", "postcopy-active"):
        await asyncio.sleep(0.3)
        await s.src.qmp.execute("migrate_cancel")
    await s.until_rest(timeout=40)


async def _postcopy_until_rest(s: Session) -> None:
    """Start postcopy after active + 1 s and wait for the end (d, d3)."""
    await s.start_postcopy_after_active()
    await s.until_rest()


async def _d_devload_fail_postcopy(s: Session) -> None:
    """The source has an isa-serial the destination lacks; postcopy is started.

    The device state travels in the postcopy package, so the load fails after the switchover
    began: an 11.1 source fails and restarts; a 7.2 source is stranded in postcopy-paused.
    """
    await _postcopy_until_rest(s)


async def _d2_devload_fail_precopy(s: Session) -> None:
    """Same device mismatch as d, plain precopy: the destination fails at completion."""
    await s.until_rest(timeout=40)


async def _d3_devload_fail_postcopy_noexit(s: Session) -> None:
    """As d, with ``migrate-incoming exit-on-error=false``: the destination stays alive in
    ``failed`` (11.1 destination only; 7.2 has no such argument)."""
    await _postcopy_until_rest(s)


async def _d4_ram_size_mismatch(s: Session) -> None:
    """Destination ``-m 256``, source ``-m 128``: the RAM block sizes differ, the load fails at
    once in precopy."""
    await s.until_rest()


async def _e_kill_dst_precopy(s: Session) -> None:
    """SIGKILL the destination 1 s into precopy ``active``: the source fails, its VM runs on."""
    if await s.wait_mig("src", "active"):
        await asyncio.sleep(1.0)
        s.kill("dst")
    await s.until_rest()


async def _f_kill_src_postcopy(s: Session) -> None:
    """SIGKILL the source 0.3 s after the destination reports ``postcopy-active``: the
    destination runs on in postcopy-paused with pages missing."""
    if await s.start_postcopy_after_active() and await s.wait_mig("dst", "postcopy-active"):
        await asyncio.sleep(0.3)
        s.kill("src")
    await s.until_rest()


async def _g_dst_pause_while_src_postcopy_device(s: Session) -> None:
    """``migrate-pause`` on the destination as soon as it emits ``postcopy-active``.

    The PONG 0x42 was already sent, so the (11.1) source is in postcopy-device with the PONG on
    its way; it must move to postcopy-active and then pause, never fail-and-restart (no split
    brain).
    """

    def pause(_line: Line) -> None:
        s.fault("migrate-pause-dst")
        s.spawn(s.dst.qmp.execute("migrate-pause"))

    s.rec.on_event(is_migration("dst", "postcopy-active"), pause)
    await s.start_postcopy_after_active()
    await s.until_rest()


async def _h_partition_lost_pong(s: Session) -> None:
    """Through the fault proxy: the destination's PONG is lost, then the connection resets.

    When the source emits ``postcopy-device`` (a 7.2 source: ``postcopy-active``), every
    destination→source byte is dropped; 5 ms after the destination emits ``postcopy-active``
    (its guest runs), both connections are reset with a TCP RST. An 11.1 source never saw the
    PONG, fails and restarts its VM: both VMs run (the split brain of real-qemu.md finding 7).
    """
    proxy = s.proxy
    assert proxy is not None
    loop = asyncio.get_running_loop()

    def drop(_line: Line | None = None) -> None:
        if not proxy.drop_back:
            s.fault("drop-dst-to-src")
            proxy.drop_dst_to_src()

    def reset() -> None:
        s.fault("reset", dropped_bytes=proxy.dropped_bytes)
        proxy.reset()

    def on_dst_active(_line: Line) -> None:
        drop()
        loop.call_later(0.005, reset)

    first = "postcopy-device" if s.src_bin.has_postcopy_device else "postcopy-active"
    s.rec.on_event(is_migration("src", first), drop)
    s.rec.on_event(is_migration("dst", "postcopy-active"), on_dst_active)
    await s.start_postcopy_after_active()
    await s.until_rest()


async def _i_commands_after_failure(s: Session) -> None:
    """SIGKILL the destination 1 s into precopy; once the source reports ``failed``, the commands
    a management layer tries on it: ``migrate_cancel`` (accepted, changes nothing),
    ``migrate-pause`` and ``migrate-continue`` (refused), ``cont`` (its guest already runs again:
    accepted, changes nothing), ``query-migrate``."""
    if await s.wait_mig("src", "active"):
        await asyncio.sleep(1.0)
        s.kill("dst")
        if await s.wait_mig("src", "failed"):
            await asyncio.sleep(0.5)
            await s.src.qmp.execute("migrate_cancel")
            await s.src.qmp.execute("migrate-pause")
            await s.src.qmp.execute("migrate-continue", {"state": "pre-switchover"})
            await s.src.qmp.execute("cont")
            await s.src.qmp.execute("query-migrate")
    await s.until_rest()


async def _j_commands_in_postcopy_active(s: Session) -> None:
    """0.3 s into the source's ``postcopy-active``, the commands a management layer may try while
    the migration runs: on the source ``migrate`` (refused: one is in progress), ``cont``
    (refused: runstate finish-migrate), ``stop`` (accepted, changes nothing: the guest is not
    running), ``migrate-continue`` (refused), ``query-status``; on the destination
    ``migrate-recover`` (refused: not paused). The migration then completes."""
    if await s.start_postcopy_after_active() and await s.wait_mig("src", "postcopy-active"):
        await asyncio.sleep(0.3)
        await s.src.qmp.execute("migrate", {"uri": "tcp:127.0.0.1:1"})
        await s.src.qmp.execute("cont")
        await s.src.qmp.execute("stop")
        await s.src.qmp.execute("migrate-continue", {"state": "pre-switchover"})
        await s.src.qmp.execute("query-status")
        await s.dst.qmp.execute("migrate-recover", {"uri": "tcp:127.0.0.1:1"})
    await s.until_rest(timeout=40)


async def _k_commands_stranded_in_device(s: Session) -> None:
    """SIGKILL the destination right after ``migrate-start-postcopy`` returns: a 10.0.2 source
    is stranded in ``device`` (runstate finish-migrate). 1 s later, the commands a management
    layer tries on it: ``cont`` (refused: "Migration is not finalized yet"), ``stop`` (accepted,
    changes nothing), ``migrate-pause`` (refused), a new ``migrate`` (refused: one is in
    progress), ``yank`` of the migration instance (refused: "Instance not found"),
    ``query-status``, ``migrate_cancel`` (accepted: ``cancelling`` for good), ``cont`` again
    (refused), ``migrate_cancel`` again, ``query-migrate``. Applies to a source that strands."""
    if not await s.start_postcopy_after_active():
        await s.until_rest()
        return
    s.kill("dst")
    if await s.wait_mig("src", "device", "failed", "postcopy-active", timeout=5) is None:
        await s.until_rest()
        return
    await asyncio.sleep(1.0)
    statuses = s.rec.migration_statuses("src")
    if not s.src.alive or not statuses or statuses[-1] != "device":
        await s.until_rest()
        return
    q = s.src.qmp
    await q.execute("cont")
    await q.execute("stop")
    await q.execute("migrate-pause")
    await q.execute("migrate", {"uri": "tcp:127.0.0.1:1"})
    await q.execute("yank", {"instances": [{"type": "migration"}]})
    await q.execute("query-status")
    await q.execute("migrate_cancel")
    await asyncio.sleep(0.5)
    await q.execute("cont")
    await q.execute("migrate_cancel")
    await q.execute("query-migrate")
    await asyncio.sleep(1.0)


_SERIAL = ("-chardev", "null,id=c0", "-device", "isa-serial,chardev=c0")

CATALOGUE: dict[str, Scenario] = {
    sc.name: sc
    for sc in [
        Scenario("precopy_ok", "plain precopy (postcopy-ram enabled, never started)", _precopy_ok,
                 max_bandwidth=64 * MiB),
        Scenario("postcopy_ok", "precopy 1 s, migrate-start-postcopy, run to completion", _postcopy_ok,
                 max_postcopy_bandwidth=64 * MiB),
        Scenario("a_kill_dst_after_start_postcopy",
                 "SIGKILL dst right after migrate-start-postcopy returns", _a_kill_dst_after_start_postcopy),
        Scenario("a2_kill_dst_in_postcopy_active", "SIGKILL dst 0.3 s after src reports postcopy-active",
                 _a2_kill_dst_in_postcopy_active),
        Scenario("a3_kill_dst_on_postcopy_device_event",
                 "SIGKILL dst from the hook on the src MIGRATION postcopy-device event (11.1 src only)",
                 _a3_kill_dst_on_postcopy_device_event, needs_src_postcopy_device=True),
        Scenario("b_pause_recover", "migrate-pause src in postcopy-active, migrate-recover, migrate resume",
                 _b_pause_recover),
        Scenario("c_cancel_precopy", "migrate_cancel during precopy active", _c_cancel_precopy),
        Scenario("c2_cancel_postcopy", "migrate_cancel during postcopy-active", _c2_cancel_postcopy),
        Scenario("d_devload_fail_postcopy", "src-only isa-serial, postcopy started",
                 _d_devload_fail_postcopy, src_args=_SERIAL),
        Scenario("d2_devload_fail_precopy", "src-only isa-serial, plain precopy",
                 _d2_devload_fail_precopy, src_args=_SERIAL),
        Scenario("d3_devload_fail_postcopy_noexit", "as d, migrate-incoming exit-on-error=false (11.1 dst)",
                 _d3_devload_fail_postcopy_noexit, src_args=_SERIAL, exit_on_error=False,
                 needs_dst_exit_on_error=True),
        Scenario("d4_ram_size_mismatch", "dst -m 256, src -m 128", _d4_ram_size_mismatch, dst_mem=256),
        Scenario("e_kill_dst_precopy", "SIGKILL dst during precopy active", _e_kill_dst_precopy),
        Scenario("f_kill_src_postcopy", "SIGKILL src 0.3 s into postcopy-active (dst's view)",
                 _f_kill_src_postcopy),
        Scenario("g_dst_pause_while_src_postcopy_device",
                 "migrate-pause on dst as soon as dst emits postcopy-active",
                 _g_dst_pause_while_src_postcopy_device),
        Scenario("h_partition_lost_pong",
                 "proxy: drop dst->src at src postcopy-device, RST 5 ms after dst postcopy-active",
                 _h_partition_lost_pong, proxy=True),
        Scenario("h_partition_lost_pong_shared_disk", "as h, with one raw disk image shared by both sides",
                 _h_partition_lost_pong, proxy=True, shared_disk=True),
        Scenario("i_commands_after_failure",
                 "SIGKILL dst in precopy; on the failed src: migrate_cancel, migrate-pause, migrate-continue, cont",
                 _i_commands_after_failure),
        Scenario("j_commands_in_postcopy_active",
                 "in postcopy-active: src migrate, cont, stop, migrate-continue; dst migrate-recover",
                 _j_commands_in_postcopy_active),
        Scenario("k_commands_stranded_in_device",
                 "kill dst after migrate-start-postcopy; on the src stranded in device: cont, stop, "
                 "migrate-pause, migrate, yank, migrate_cancel, cont, migrate_cancel (10.0.0-10.0.4 src)",
                 _k_commands_stranded_in_device, needs_src_stranding=True),
    ]
}  # fmt: skip


# --------------------------------------------------------------------------------------------
# Running one scenario


@dataclass
class RunResult:
    ok: bool
    wall_s: float
    recorder: Recorder
    message: str = ""


async def run_scenario(
    scenario: Scenario,
    src: QemuBinary,
    dst: QemuBinary,
    *,
    timeout: float = 60.0,
    run_root: Path = DEFAULT_RUN_DIR,
    observer: Callable[[Session], Awaitable[None]] | None = None,
    session_factory: Callable[..., Session] | None = None,
) -> RunResult:
    """Run one scenario and return its recorder (not yet written to disk).

    ``session_factory`` builds the :class:`Session` (``harness/replay.py`` passes a subclass).
    ``ok`` is False if the harness failed (set-up error) or the run hit ``timeout``; the trace
    then ends with a ``{"side": "harness", "error": ...}`` line before the teardown marker.
    ``observer``: called once the scenario is over, before teardown, with both QEMUs still as
    the scenario left them (each with a second QMP monitor, ``<side>-ro.qmp``).
    """
    from importlib.metadata import version as pkg_version

    blob = ensure_blob(run_root)
    run_dir = run_root / f"r{os.getpid()}-{scenario.name[:12]}-{time.monotonic_ns() % 10**6}"
    run_dir.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "format": TRACE_FORMAT_VERSION,
        "scenario": scenario.name,
        "summary": scenario.summary,
        "src_version": src.version,
        "dst_version": dst.version,
        "capabilities": list(CAPABILITIES),
        "shared_disk": scenario.shared_disk,
        "exit_on_error": scenario.exit_on_error,
        "autostart": True,
        "accel": "tcg",
        "max_bandwidth": scenario.max_bandwidth,
        "max_postcopy_bandwidth": scenario.max_postcopy_bandwidth,
        "qmp_library": f"qemu.qmp {pkg_version('qemu.qmp')}",
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    rec = Recorder(meta)
    session = (session_factory or Session)(scenario, src, dst, run_dir, blob, rec)
    session.extra_monitors = observer is not None
    ok, message = True, ""
    t0 = time.monotonic()
    try:
        try:
            await asyncio.wait_for(_drive(session), timeout)
        except TimeoutError:
            ok, message = False, f"scenario did not finish within {timeout} s"
            rec.add({"side": "harness", "error": message})
        except (HarnessError, QMPError, OSError) as exc:
            ok, message = False, f"{type(exc).__name__}: {exc}"
            rec.add({"side": "harness", "error": message})
        if ok:
            await session.final_queries()
            if observer is not None:
                await observer(session)
    finally:
        await session.teardown()
        kill_leftovers()
        shutil.rmtree(run_dir, ignore_errors=True)
    wall = round(time.monotonic() - t0, 3)
    rec.meta["wall_s"] = wall
    rec.meta["ok"] = ok
    return RunResult(ok, wall, rec, message)


async def _drive(session: Session) -> None:
    await session.setup()
    await session.scenario.drive(session)
