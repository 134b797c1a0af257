"""``migmodel advise --live`` against real QEMU: it only reads, and its advice fits what happened.

Each QEMU gets a second QMP monitor; a scenario runs to its end and, before teardown, ``advise
--live`` reads both monitors through a relay that logs every command the client sends (so the
test, not the tool, says what was sent).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.live.test_live_qemu import _binary

pytestmark = pytest.mark.qemu
ROOT = Path(__file__).resolve().parents[2]


async def _relay(upstream: Path, listen: Path, log: list[dict[str, Any]]) -> asyncio.AbstractServer:
    """A unix-socket relay to ``upstream`` that records each JSON message the client sends."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_unix_connection(str(upstream))
        except OSError:
            writer.close()
            return

        async def client_to_qemu() -> None:
            while line := await reader.readline():
                log.append(json.loads(line))
                up_w.write(line)
                await up_w.drain()
            up_w.close()

        async def qemu_to_client() -> None:
            while data := await up_r.read(65536):
                writer.write(data)
                await writer.drain()
            writer.close()

        await asyncio.gather(client_to_qemu(), qemu_to_client(), return_exceptions=True)

    return await asyncio.start_unix_server(handle, path=str(listen))


def _advise_live(scenario: str, src: str, dst: str, tmp_path: Path,
                 config: str | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from harness.scenarios import CATALOGUE, probe_binary, run_scenario

    sent: list[dict[str, Any]] = []
    got: dict[str, Any] = {}

    async def observer(session: Any) -> None:
        socks = {}
        servers = []
        for side in ("src", "dst"):
            listen = tmp_path / f"{side}-relay.qmp"
            servers.append(await _relay(session.run_dir / f"{side}-ro.qmp", listen, sent))
            socks[side] = listen
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "checker.cli", "advise", "--live", "--json",
            *(["--config", config] if config else []),
            "--src-qmp", str(socks["src"]), "--dst-qmp", str(socks["dst"]),
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        for s in servers:
            s.close()
        got.update(json.loads(out) if proc.returncode == 0 else {"rc": proc.returncode, "stderr": err.decode()})

    result = asyncio.run(run_scenario(CATALOGUE[scenario], probe_binary(src), probe_binary(dst), observer=observer,
                                      run_root=tmp_path))
    assert result.ok, result.message
    return got, sent


def _only_reads(sent: list[dict[str, Any]]) -> None:
    """What the relay saw the client send: reads only, and the reads the advice rests on."""
    commands = [m.get("execute") for m in sent]
    assert commands, "advise --live sent nothing at all"
    assert all(c == "qmp_capabilities" or str(c).startswith("query-") for c in commands), commands
    assert {"query-migrate", "query-status"} <= set(commands), commands


KEYS = ["config", "observed", "consistent_states", "newest_state_on", "source_resume_safe", "stuck",
        "possible_outcomes", "safe_actions", "unsafe_actions", "unknowns"]


def test_live_advice_after_a_completed_postcopy(tmp_path: Path) -> None:
    b = _binary("11.1")
    got, sent = _advise_live("postcopy_ok", b, b, tmp_path)
    _only_reads(sent)
    assert list(got) == KEYS, got
    assert got["newest_state_on"]["answer"] == "destination", got
    assert got["source_resume_safe"]["answer"] == "no"
    assert got["stuck"]["answer"] == "no"


def test_live_advice_on_a_stranded_72_source(tmp_path: Path) -> None:
    b = _binary("7.2")
    got, sent = _advise_live("d_devload_fail_postcopy", b, b, tmp_path, "qemu-7.2")
    _only_reads(sent)
    # the destination exited; the source sits in postcopy-paused with its guest stopped
    assert got["observed"]["dst"] is None and got["observed"]["src"]["status"] == "postcopy-paused", got
    assert got["stuck"]["answer"] == "yes"
    assert got["newest_state_on"]["answer"] in ("source", "unknown")
