"""Build and arm ``harness/shim/rpstop.c``, the LD_PRELOAD shim that pauses a QEMU right after it
wrote a chosen return-path frame (see the C file for what it wraps and how it pauses).

The shim is compiled with the system C compiler (``cc``/``gcc``) the first time it is needed and
cached in the run directory under a name that contains the hash of its source, so an edit
rebuilds it. The run directory is bind-mounted into the QEMU 11.1 chroot at the same path, so the
same ``.so`` is found by a chroot QEMU; it only needs symbols of glibc 2.34 or older.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "shim" / "rpstop.c"


class ShimError(Exception):
    """The shim cannot be built (no C compiler, or the build failed)."""


def build(folder: Path) -> Path:
    """The shim's shared object in ``folder``, compiled if missing (raises :class:`ShimError`)."""
    source = SOURCE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:12]
    out = folder / f"rpstop-{digest}.so"
    if out.is_file():
        return out
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise ShimError("no C compiler (cc or gcc) to build the LD_PRELOAD shim harness/shim/rpstop.c")
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".rpstop-{digest}.{os.getpid()}.so"
    proc = subprocess.run(
        [cc, "-shared", "-fPIC", "-O2", "-Wall", "-o", str(tmp), str(SOURCE), "-ldl", "-lpthread"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise ShimError(f"building the shim failed: {proc.stderr.strip().splitlines()[-1:]}")
    os.chmod(tmp, 0o755)
    os.replace(tmp, out)
    return out


@dataclass(frozen=True)
class Shim:
    """One armed shim for one QEMU process: pause after writing ``pattern``."""

    library: Path
    pattern: bytes
    action: str  # "block" (the writing thread waits) or "stop" (SIGSTOP the process)
    notify: Path
    release: Path

    def env(self) -> dict[str, str]:
        return {
            "LD_PRELOAD": str(self.library),
            "MIGMODEL_SHIM_MATCH": self.pattern.hex(),
            "MIGMODEL_SHIM_ACTION": self.action,
            "MIGMODEL_SHIM_NOTIFY": str(self.notify),
            "MIGMODEL_SHIM_RELEASE": str(self.release),
        }

    @property
    def fired(self) -> bool:
        return self.notify.exists()

    def let_go(self) -> None:
        """Release a ``block``ed thread (idempotent)."""
        self.release.touch()
