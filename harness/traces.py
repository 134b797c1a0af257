"""Read harness traces back (no QEMU, no ``qemu.qmp`` needed).

* :func:`load` parses one JSON Lines trace into a :class:`Trace`.
* :meth:`Trace.migration_statuses` gives the MIGRATION status sequence of one side, ignoring
  everything after the teardown marker (what QEMU emits because the harness quits it).
* ``python -m harness.traces readme DIR`` prints the Markdown table of
  ``tests/fixtures/traces/README.md`` (per pairing and scenario, the src and dst sequences).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.expected import expected

Line = dict[str, Any]

#: Order of pairings in generated tables.
PAIRINGS = ["7.2-to-7.2", "11.1-to-11.1", "11.1-to-7.2", "7.2-to-11.1", "10.2-to-10.2", "10.2-to-11.1",
            "11.1-to-10.2", "10.2-to-7.2", "7.2-to-10.2"]
#: Directories of other traces, not a pairing's catalogue (QEMU's own migration-test: its README).
NOT_PAIRINGS = ("variants", "qemu-qtest", "replayed")


class TraceError(ValueError):
    """A trace file is not in the format of ``harness/TRACE_FORMAT.md``."""


@dataclass
class Trace:
    path: Path
    meta: dict[str, Any]
    lines: list[Line] = field(default_factory=list)

    @property
    def scenario(self) -> str:
        return str(self.meta["scenario"])

    def body(self) -> list[Line]:
        """The lines before the teardown marker (what the scenario itself caused)."""
        out: list[Line] = []
        for line in self.lines:
            if line.get("side") == "harness" and line.get("teardown") is True:
                break
            out.append(line)
        return out

    def events(self, side: str | None = None, name: str | None = None) -> list[Line]:
        return [
            ln
            for ln in self.body()
            if "event" in ln
            and (side is None or ln["side"] == side)
            and (name is None or ln["event"] == name)
        ]

    def migration_statuses(self, side: str) -> list[str]:
        return [str(ln["data"]["status"]) for ln in self.events(side, "MIGRATION")]

    def teardown_migration_statuses(self, side: str) -> list[str]:
        """MIGRATION statuses emitted after the teardown marker (e.g. ``cancelling`` on quit)."""
        after = False
        out: list[str] = []
        for ln in self.lines:
            if ln.get("side") == "harness" and ln.get("teardown") is True:
                after = True
            elif after and ln.get("side") == side and ln.get("event") == "MIGRATION":
                out.append(str(ln["data"]["status"]))
        return out

    def final_query(self, side: str, command: str) -> Any:
        """The return value of the last ``command`` sent to ``side`` before teardown, or None."""
        ret = None
        for ln in self.body():
            if ln.get("side") == side and ln.get("command") == command and "return" in ln:
                ret = ln["return"]
        return ret

    def exited(self, side: str) -> int | None:
        """Exit code of ``side`` if its process ended before teardown (-9: SIGKILL)."""
        for ln in self.body():
            if ln.get("side") == side and "exit" in ln:
                return int(ln["exit"])
        return None

    def faults(self) -> list[str]:
        return [str(ln["fault"]) for ln in self.body() if ln.get("side") == "harness" and "fault" in ln]


def load(path: Path | str) -> Trace:
    """Parse a trace; raise :class:`TraceError` if the layout is wrong."""
    path = Path(path)
    with open(path, encoding="utf-8") as f:
        return parse_lines(path, f.read().splitlines())


def parse_lines(path: Path, lines: list[str]) -> Trace:
    """A trace from its lines (``path`` names it in messages); raise :class:`TraceError` if the
    layout is wrong."""
    raw = [ln for ln in lines if ln.strip()]
    if not raw:
        raise TraceError(f"{path}: empty trace")
    try:
        rows = [json.loads(ln) for ln in raw]
    except json.JSONDecodeError as exc:
        raise TraceError(f"{path}: not JSON Lines: {exc}") from exc
    first = rows[0]
    if not isinstance(first, dict) or set(first) != {"meta"} or not isinstance(first["meta"], dict):
        raise TraceError(f"{path}: first line must be {{\"meta\": {{...}}}}")
    for i, row in enumerate(rows[1:], start=2):
        if not isinstance(row, dict) or row.get("side") not in ("src", "dst", "harness"):
            raise TraceError(f"{path}:{i}: every line needs side src|dst|harness")
    return Trace(path, first["meta"], rows[1:])


def _runstate(tr: Trace, side: str) -> str:
    if tr.exited(side) is not None:
        return f"exit {tr.exited(side)}"
    st = tr.final_query(side, "query-status")
    return str(st["status"]) if isinstance(st, dict) else "?"


def readme_table(root: Path) -> str:
    """Markdown tables (one per pairing) of the MIGRATION sequences of every trace under root."""
    out: list[str] = []
    dirs = sorted(
        (d for d in root.iterdir() if d.is_dir() and d.name not in NOT_PAIRINGS),
        key=lambda d: (PAIRINGS.index(d.name) if d.name in PAIRINGS else 99, d.name),
    )
    for d in dirs:
        traces = [load(p) for p in sorted(d.glob("*.jsonl"))]
        if not traces:
            continue
        m = traces[0].meta
        out.append(f"### {d.name} (source {m['src_version']}, destination {m['dst_version']})\n")
        out.append(
            "| scenario | src MIGRATION events | dst MIGRATION events | src / dst at end | faults | wall s "
            "| same as real-qemu.md |"
        )
        out.append("|---|---|---|---|---|---|---|")
        for tr in traces:
            src = " → ".join(tr.migration_statuses("src"))
            dst = " → ".join(tr.migration_statuses("dst"))
            for side in ("src", "dst"):
                td = tr.teardown_migration_statuses(side)
                if td:
                    note = f" [on quit: {' → '.join(td)}]"
                    if side == "src":
                        src += note
                    else:
                        dst += note
            ends = f"{_runstate(tr, 'src')} / {_runstate(tr, 'dst')}"
            faults = ", ".join(tr.faults()) or "-"
            wall = tr.meta.get("wall_s", "?")
            want = expected(d.name, tr.scenario)
            if want is None:
                same = "no row"
            elif want == (tr.migration_statuses("src"), tr.migration_statuses("dst")):
                same = "yes"
            else:
                same = "**differs**"
            out.append(f"| {tr.scenario} | {src} | {dst} | {ends} | {faults} | {wall} | {same} |")
        out.append("")
    return "\n".join(out)


BEGIN = "<!-- BEGIN GENERATED by `python -m harness.traces readme --write DIR`; do not edit -->"
END = "<!-- END GENERATED -->"


def differences(root: Path) -> str:
    """Markdown list of the traces whose sequences differ from real-qemu.md."""
    out: list[str] = []
    for path in sorted(root.glob("*/*.jsonl")):
        if path.parent.name in NOT_PAIRINGS:
            continue
        tr = load(path)
        want = expected(path.parent.name, tr.scenario)
        got = (tr.migration_statuses("src"), tr.migration_statuses("dst"))
        if want is not None and want != got:
            for side, w, g in (("src", want[0], got[0]), ("dst", want[1], got[1])):
                if w != g:
                    out.append(
                        f"* {path.parent.name} {tr.scenario} {side}: recorded `{' → '.join(g)}`, "
                        f"real-qemu.md `{' → '.join(w)}`"
                    )
    return "\n".join(out) if out else "None: every recorded sequence with a row in real-qemu.md matches it."


def write_readme(root: Path) -> None:
    """Replace the generated block of ``root/README.md`` (creating the file if needed)."""
    readme = root / "README.md"
    diff = differences(root)
    block = f"{BEGIN}\n\n{readme_table(root)}\n#### Differences from real-qemu.md\n\n{diff}\n\n{END}"
    text = readme.read_text() if readme.exists() else "# Real QEMU traces\n\n" + BEGIN + "\n" + END + "\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    readme.write_text(head + block + tail)


def main(argv: list[str]) -> int:
    """``python -m harness.traces readme [--write] DIR``."""
    args = [a for a in argv if a != "--write"]
    if len(args) != 2 or args[0] != "readme":
        print("usage: python -m harness.traces readme [--write] DIR", file=sys.stderr)
        return 2
    root = Path(args[1])
    if "--write" in argv:
        write_readme(root)
    else:
        print(readme_table(root))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
