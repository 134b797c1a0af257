"""The drift check: what a QEMU tree does against what the model's rows of that version say.

Every fact found on one side is looked for on the other:
* a status change in QEMU (``migrate_set_state``) is modelled when a row of the version, citing
  the function that makes it (or a caller that passed the statuses), fires with the same side,
  target status and (unless QEMU's FROM is the current status, ``*``) source status;
* a status-changing row is confirmed when its cited function makes that change; every row's
  citation must name a function that exists in the tree;
* the QMP handlers' error paths that depend on a state are matched with the model's refusals
  (same message), and each handler with a model command; where both exist, the three-valued
  evaluation of QEMU's conditions must not contradict the statuses the model refuses or accepts
  the command in;
* the ``MigrationStatus`` members, the ``MIG_CMD_*``/``MIG_RP_MSG_*`` numbers and the PING values.

What does not match is "explained" when an entry of the explanation file (``explained.toml``)
covers it, with its reason; otherwise it is "unexplained", and ``migmodel drift`` exits 1.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.drift import qapi
from harness.drift.ctree import ANY_STATUS, Args, CTree, ErrorPath, Function, Transition, TreeError
from harness.drift.modelfacts import ModelFacts, model_enum, model_facts, model_pings, model_statuses
from model.config import VERSIONS
from model.table import Row

EXPLAINED = Path(__file__).with_name("explained.toml")

# QMP handlers whose state guards are read, and the helpers they call that hold more guards.
HANDLERS: dict[str, tuple[str, ...]] = {
    "qmp_migrate_cancel": (),
    "qmp_migrate_pause": (),
    "qmp_migrate_recover": (),
    "qmp_migrate": ("migrate_prepare",),
    "qmp_cont": (),
    "qmp_migrate_continue": (),
    "qmp_yank": (),
}
HANDLER_FILES = ("migration/migration.c", "monitor/qmp-cmds.c", "system/cpus.c", "softmmu/cpus.c",
                 "util/yank.c")


@dataclass
class Item:
    """One fact that is not on both sides (or, in ``modelled``, one that is)."""

    kind: str  # transition | row | citation | status | guard | command | message | ping
    where: str  # "qemu" (in QEMU, not in the model), "model" (in the model, not in QEMU), "both"
    fields: dict[str, str]
    text: str
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "where": self.where, **self.fields, "text": self.text}
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass
class Explanation:
    kind: str
    match: dict[str, str]
    reason: str
    versions: tuple[str, ...] = ()
    used: int = 0

    def covers(self, item: Item, version: str) -> bool:
        if self.kind != item.kind or (self.versions and version not in self.versions):
            return False
        return all(fnmatch.fnmatchcase(item.fields.get(k, ""), pat) for k, pat in self.match.items())


@dataclass
class Report:
    version: str
    tree: str
    tree_version: str
    version_note: str
    found: dict[str, int]
    modelled: list[Item] = field(default_factory=list)
    explained: list[Item] = field(default_factory=list)
    unexplained: list[Item] = field(default_factory=list)
    unused_explanations: list[Explanation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "tree": self.tree,
            "tree_version": self.tree_version,
            "version_note": self.version_note,
            "found": self.found,
            "modelled": [i.to_json() for i in self.modelled],
            "explained": [i.to_json() for i in self.explained],
            "unexplained": [i.to_json() for i in self.unexplained],
            "unused_explanations": [{"kind": e.kind, **e.match, "reason": e.reason} for e in self.unused_explanations],
            "notes": self.notes,
        }


@dataclass
class Rename:
    """A function the model cites under its current name and file, and its name in an older tree."""

    cite: str
    as_: str
    reason: str
    versions: tuple[str, ...]


@dataclass
class Worded:
    """A refusal the model words as a later QEMU does, and its wording in an older tree: the row's
    statuses are then checked against the error with the older wording."""

    refusal: str
    as_: str
    reason: str
    versions: tuple[str, ...]


def load_explanations(path: Path) -> tuple[list[Explanation], list[Rename], list[Worded]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise TreeError(f"{path}: cannot read: {e.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise TreeError(f"{path}: not TOML: {e}") from None
    out = []
    for i, entry in enumerate(data.get("explained", [])):
        kind, reason, match = entry.get("kind"), entry.get("reason"), entry.get("match", {})
        versions = entry.get("versions", [])
        if (not isinstance(kind, str) or not isinstance(reason, str) or not reason.strip()
                or not isinstance(match, dict) or not all(isinstance(v, str) for v in match.values())
                or not isinstance(versions, list)):
            raise TreeError(f"{path}: entry {i + 1}: needs kind, a non-empty reason and a match table of strings")
        out.append(Explanation(kind, dict(match), reason.strip(), tuple(str(v) for v in versions)))
    renames = []
    for i, entry in enumerate(data.get("renamed", [])):
        cite, as_, reason, versions = entry.get("cite"), entry.get("as"), entry.get("reason"), entry.get("versions")
        if (not all(isinstance(x, str) and x for x in (cite, as_, reason))
                or not isinstance(versions, list) or not versions):
            raise TreeError(f"{path}: renamed entry {i + 1}: needs cite, as, reason and versions")
        renames.append(Rename(cite, as_, reason, tuple(str(v) for v in versions)))
    worded = []
    for i, entry in enumerate(data.get("worded", [])):
        refusal, as_ = entry.get("refusal"), entry.get("as")
        reason, versions = entry.get("reason"), entry.get("versions")
        if (not all(isinstance(x, str) and x for x in (refusal, as_, reason))
                or not isinstance(versions, list) or not versions):
            raise TreeError(f"{path}: worded entry {i + 1}: needs refusal, as, reason and versions")
        worded.append(Worded(refusal, as_, reason, tuple(str(v) for v in versions)))
    return out, renames, worded


# ---------------------------------------------------------------------------------------------
# The version


def tree_version(root: Path) -> str:
    path = root / "VERSION"
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise TreeError(f"{root}: no VERSION file (not a QEMU tree? give --version)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise TreeError(f"{path}: cannot read: {e}") from None


# A model version with a micro number stands for a stable fix: it covers its own line from that
# micro on, and a later line only from the first release of it that has the fix (model/config.py:
# "10.0" is 10.0.0-10.0.4 and 10.1.0, "10.0.5" is 10.0.5 and 10.1.1).
BACKPORTED_TO: dict[str, dict[tuple[int, int], int]] = {"10.0.5": {(10, 1): 1}}


def _triple(version: str) -> tuple[int, int, int]:
    parts = [int(p) for p in version.split(".")] + [0, 0]
    return parts[0], parts[1], parts[2]


def model_version(version: str) -> tuple[str, str]:
    """The modelled version for a QEMU version: the newest modelled one not newer than it (the
    model's version flags are "since" flags; a stable fix counts on a later line only from the
    release it was backported to), or the oldest. Returns (version, a note)."""
    parts = version.split(".")
    try:
        number = (int(parts[0]), int(parts[1]) if len(parts) > 1 else 0,
                  int(parts[2]) if len(parts) > 2 else 0)
    except ValueError:
        raise TreeError(f"cannot read QEMU version {version!r} (want MAJOR.MINOR[.MICRO])") from None

    def covers(v: str) -> bool:
        m = _triple(v)
        if m > number:
            return False
        if m[2] == 0 or m[:2] == number[:2]:
            return True
        first = BACKPORTED_TO.get(v, {}).get(number[:2])
        return first is not None and number[2] >= first

    known = sorted(VERSIONS, key=_triple)
    below = [v for v in known if covers(v)]
    chosen = below[-1] if below else known[0]
    exact = bool(below) and _triple(chosen)[:2] == number[:2]
    if exact:
        note = f"QEMU {version} is modelled as {chosen}"
    elif below:
        note = f"QEMU {version} is not modelled; compared with the nearest modelled version below it, {chosen}"
    else:
        note = f"QEMU {version} is not modelled; compared with the oldest modelled version, {chosen}"
    return chosen, note


# ---------------------------------------------------------------------------------------------
# The check


def open_tree(root: Path) -> CTree:
    if not root.is_dir():
        raise TreeError(f"{root}: not a directory")
    for rel in ("migration/migration.c", "qapi/migration.json"):
        try:
            found = (root / rel).is_file()
        except OSError as e:
            raise TreeError(f"{root / rel}: cannot read: {e.strerror}") from None
        if not found:
            raise TreeError(f"{root}: no {rel} (not a QEMU source tree)")
    try:
        schema = qapi.parse((root / "qapi/migration.json").read_text(encoding="utf-8"))
        members = qapi.enum_members(schema, "MigrationStatus")
    except (OSError, UnicodeDecodeError) as e:
        raise TreeError(f"{root}/qapi/migration.json: cannot read: {e}") from None
    except qapi.QapiError as e:
        raise TreeError(f"{root}/qapi/migration.json: {e}") from None
    return CTree(root, {qapi.c_name("MIGRATION_STATUS_", m): m for m in members})


def check(root: Path, version: str | None = None, explained_path: Path = EXPLAINED) -> Report:
    """Compare the tree at ``root`` with the model rows of its version (or ``version``)."""
    tree = open_tree(root)
    declared = tree_version(root) if version is None else version
    mversion, note = model_version(declared)
    explanations, renames, worded = load_explanations(explained_path)
    for rel in tree.migration_files():  # every file read (and an unreadable one named) before the model runs
        tree.tree(rel)
    transitions = tree.transitions()
    if not transitions:
        raise TreeError(f"{root}: no migrate_set_state call found in migration/*.c (not a QEMU tree?)")
    facts = model_facts(mversion)
    renamed = {r.cite: r for r in renames if mversion in r.versions}
    cites = {row: renamed[row.qemu].as_ if row.qemu in renamed else row.qemu for row in facts.fired}
    reach = {row: tree.reaches(cite) for row, cite in cites.items()}
    members = list(tree.status_names.values())
    report = Report(mversion, str(root), declared, note, found={})
    items: list[Item] = []
    _transitions(tree, facts, transitions, reach, report, items)
    wording = {w.as_: w for w in worded if mversion in w.versions}
    guards = _handlers(tree, facts, wording, report, items)
    _citations(tree, facts, cites, renamed, report, items)
    _statuses(members, facts, report, items)
    cmds = _messages(tree, report, items)
    pings = _pings(tree, report, items)
    report.found = {
        "transitions": len(transitions),
        "statuses": len(members),
        "commands": sum(1 for h in guards.values() if h is not None),
        "state_guards": sum(len(g) for g in guards.values() if g is not None),
        "messages": cmds,
        "pings": pings,
        "model_rows": len(facts.fired),
        "model_configurations": len(facts.configs),
    }
    for item in items:
        entry = next((e for e in explanations if e.covers(item, mversion)), None)
        if entry is None:
            report.unexplained.append(item)
        else:
            entry.used += 1
            item.reason = entry.reason
            report.explained.append(item)
    report.unused_explanations = [e for e in explanations if e.used == 0 and (not e.versions or mversion in e.versions)]
    return report


def _fmt(t: Transition) -> str:
    via = f" (via {', '.join(t.via)})" if t.via else ""
    return f"{t.side} {t.source} -> {t.dest} in {t.cite}:{t.line}{via}"


def _matches(t: Transition, row: Row, source: str, dest: str | None, reach: dict[str, int]) -> bool:
    """Same side, same target, a compatible source, and the row's function makes the change
    itself, passes its statuses, or calls (at most three calls deep) the function that makes it."""
    if not (row.side == t.side and dest == t.dest and (t.source == ANY_STATUS or t.source == source)):
        return False
    if t.via:  # the statuses came from a caller: that caller, or the function itself, must be cited
        return reach.get(t.cite) == 0 or any(v in reach for v in t.via)
    return t.cite in reach


def _transitions(tree: CTree, facts: ModelFacts, transitions: list[Transition], reach: dict[Row, dict[str, int]],
                 report: Report, items: list[Item]) -> None:
    for t in transitions:
        rows = sorted({r.name for r, fired in facts.fired.items() for f in fired
                       if _matches(t, r, f.source, f.dest, reach[r])})
        fields = {"side": t.side, "from": t.source, "to": t.dest, "function": t.cite, "via": ",".join(t.via)}
        if rows:
            report.modelled.append(Item("transition", "both", {**fields, "rows": "; ".join(rows)}, _fmt(t)))
        else:
            items.append(Item("transition", "qemu", fields, f"QEMU {_fmt(t)}: no model row of this version does it"))
    for row, fired in facts.fired.items():
        for f in sorted(fired, key=lambda f: (f.source, f.dest or "")):
            if f.dest is None:
                continue
            fields = {"row": row.name, "side": row.side, "from": f.source, "to": f.dest, "cite": row.qemu}
            if any(_matches(t, row, f.source, f.dest, reach[row]) for t in transitions):
                continue
            cite = next(iter(reach[row]), row.qemu)
            if not reach[row]:
                problem = f"{row.qemu} does not exist in this tree"
            else:
                does = sorted({f"{t.source} -> {t.dest}" for t in transitions
                               if t.side == row.side and _matches(t, row, t.source, t.dest, reach[row])})
                problem = (f"{cite} makes no such change, nor do the functions it calls "
                           f"(they make: {', '.join(does) or 'none'})")
            items.append(Item("row", "model", {**fields, "problem": "no-transition" if reach[row] else "missing"},
                              f"model row {row.side} {row.name!r} ({f.source} -> {f.dest}): {problem}"))


def _command_of(row: Row) -> str:
    """``migrate resume=true (7.2)`` -> ``qmp_migrate``; ``migrate-pause: refused`` -> ``qmp_migrate_pause``."""
    word = row.name.split(":")[0].split(" ")[0]
    return "qmp_" + word.replace("-", "_")


def _handlers(tree: CTree, facts: ModelFacts, wording: dict[str, Worded], report: Report,
              items: list[Item]) -> dict[str, list[ErrorPath] | None]:
    """State guards of the QMP handlers against the model's commands and refusals. A handler is
    modelled by the management rows named after its command and by any row citing it (the
    fault injector's ``yank: source`` cites ``util/yank.c:qmp_yank``)."""
    qmp_rows = [r for r in facts.fired if r.actor == "qmp"]
    out: dict[str, list[ErrorPath] | None] = {}
    for handler, helpers in HANDLERS.items():
        fn = tree.find_function(handler, list(HANDLER_FILES))
        if fn is None:
            out[handler] = None
            report.notes.append(f"{handler}: not found in {', '.join(HANDLER_FILES)}")
            continue
        scanned: list[Function] = [fn]
        for h in helpers:
            hf = tree.functions(fn.file).get(h)
            if hf is not None:
                scanned.append(hf)
        paths = [ep for f in scanned for ep in tree.error_paths(f)]
        guards = [ep for ep in paths if tree.mentions_state(ep)]
        out[handler] = guards
        rows = [r for r in qmp_rows if _command_of(r) == handler]
        rows += [r for r in facts.fired if r.qemu == fn.cite and r not in rows]
        fields, extra = {"function": fn.cite}, ""
        if handler == "qmp_yank":
            # yank's guard is the instance's lifetime: "Instance not found" outside it
            reg = tree.calls_with("yank_register_instance", "MIGRATION_YANK_INSTANCE")
            unreg = tree.calls_with("yank_unregister_instance", "MIGRATION_YANK_INSTANCE")
            fields |= {"registered_by": ",".join(reg), "unregistered_by": ",".join(unreg)}
            extra = (f" (the migration instance is registered by {', '.join(reg) or 'nothing'} and "
                     f"unregistered by {', '.join(unreg) or 'nothing'}; outside that, 'Instance not found')")
        if rows:
            names = "; ".join(sorted({r.name for r in rows}))
            report.modelled.append(Item("command", "both", {**fields, "rows": names},
                                        f"{fn.cite}: modelled by {names}{extra}"))
        else:
            items.append(Item("command", "qemu", fields,
                              f"QMP handler {fn.cite} has no model command in this version{extra}"))
        refusals = {r.refusal: r for r in rows if r.refusal}
        for ep in guards:
            fields = {"function": ep.function.cite, "message": ep.message}
            said = wording[ep.message].refusal if ep.message in wording else ep.message
            if said in refusals:
                report.modelled.append(Item("guard", "both", {**fields, "rows": refusals[said].name},
                                            f"{ep.function.cite}:{ep.line} {ep.message!r} if {ep.conditions()}"))
            else:
                items.append(Item("guard", "qemu", fields,
                                  f"QEMU {ep.function.cite}:{ep.line} refuses with {ep.message!r} if "
                                  f"{ep.conditions()}; the model has no such refusal"))
        for row in rows:
            if row.actor == "qmp":  # a fault row (yank) is the operator's action, not judged by status
                _judge_row(tree, facts, row, paths, guards, wording, report, items)
    return out


def _env(side: str, status: str) -> dict[str, str]:
    """One QEMU process is either side: the other side's state there is ``none``."""
    return {"src": status, "dst": "none"} if side == "src" else {"src": "none", "dst": status}


def _args(row: Row) -> Args:
    """The QMP arguments a row's command is given: ``migrate`` with ``resume`` true only for the
    ``migrate resume=true`` rows; ``migrate-continue`` with ``state=pre-switchover`` (the operator
    policy of model/management.py: it continues the pause it asked for)."""
    return {"resume": "resume=true" in row.name, "state": "pre-switchover"}


def _judge_row(tree: CTree, facts: ModelFacts, row: Row, paths: list[ErrorPath], guards: list[ErrorPath],
               wording: dict[str, Worded], report: Report, items: list[Item]) -> None:
    statuses = sorted({f.source for f in facts.fired[row]})
    args = _args(row)
    if row.refusal:
        mine = [ep for ep in paths if ep.message == row.refusal
                or (ep.message in wording and wording[ep.message].refusal == row.refusal)]
        fields = {"row": row.name, "side": row.side, "message": row.refusal}
        if mine and mine[0].message != row.refusal:
            w = wording[mine[0].message]
            report.explained.append(Item("guard", "model", {**fields, "as": w.as_},
                                         f"model refusal {row.side} {row.name!r} is worded {w.as_!r} in this tree",
                                         reason=w.reason))
        if not mine:
            items.append(Item("guard", "model", {**fields, "problem": "message-not-found"},
                              f"model refusal {row.side} {row.name!r}: QEMU's {_command_of(row)} has no error "
                              f"{row.refusal!r}"))
            return
        undecided = []
        for s in statuses:
            values = [tree.evaluate(ep, _env(row.side, s), args) for ep in mine]
            if all(v is False for v in values):
                items.append(Item("guard", "model", {**fields, "status": s, "problem": "not-refused"},
                                  f"model refusal {row.side} {row.name!r} in {s}: QEMU does not refuse there"))
            elif not any(v is True for v in values):
                undecided.append(s)
        if undecided:
            report.notes.append(f"{row.side} {row.name!r} in {', '.join(undecided)}: QEMU's condition depends on "
                                f"more than the migration status ({mine[0].conditions()}); not decided")
        return
    for s in statuses:
        for ep in guards:
            if tree.evaluate(ep, _env(row.side, s), args) is True:
                items.append(Item("guard", "model", {"row": row.name, "side": row.side, "status": s,
                                                     "message": ep.message, "problem": "refused-in-qemu"},
                                  f"model {row.side} {row.name!r} accepted in {s}, but QEMU "
                                  f"{ep.function.cite}:{ep.line} refuses with {ep.message!r}"))


def _citations(tree: CTree, facts: ModelFacts, cites: dict[Row, str], renamed: dict[str, Rename], report: Report,
               items: list[Item]) -> None:
    for row in facts.fired:
        if row.qemu.startswith("(") or ":" not in row.qemu:
            continue  # the environment: "(network)", "(kill -9)"
        fields = {"row": row.name, "side": row.side, "cite": row.qemu}
        cite = cites[row]
        if tree.function(cite) is None:
            rel = cite.rpartition(":")[0]
            why = "no such file" if tree.tree(rel) is None else "no such function in that file"
            items.append(Item("citation", "model", fields, f"model row {row.side} {row.name!r} cites {cite}: {why}"))
        elif cite != row.qemu:
            report.explained.append(Item("citation", "model", {**fields, "as": cite},
                                         f"model row {row.side} {row.name!r} cites {row.qemu}; this tree has it as "
                                         f"{cite}", reason=renamed[row.qemu].reason))
        else:
            report.modelled.append(Item("citation", "both", fields, f"{row.side} {row.name!r}: {row.qemu} exists"))


def _statuses(members: list[str], facts: ModelFacts, report: Report, items: list[Item]) -> None:
    model = set(model_statuses())
    used = {s for fired in facts.fired.values() for f in fired for s in (f.source, f.dest) if s}
    for m in members:
        if m in model:
            report.modelled.append(Item("status", "both", {"status": m}, m))
        else:
            items.append(Item("status", "qemu", {"status": m}, f"MigrationStatus {m!r} is not in model/status.py"))
    for s in sorted(used - set(members)):
        items.append(Item("status", "model", {"status": s}, f"the model's rows of this version use {s!r}, "
                                                            "which this QEMU's MigrationStatus lacks"))


def _messages(tree: CTree, report: Report, items: list[Item]) -> int:
    count = 0
    for prefix in ("MIG_CMD_", "MIG_RP_MSG_"):
        qemu, model = tree.enumerators(prefix), model_enum(prefix)
        count += len(qemu)
        for name, value in qemu.items():
            fields = {"name": name, "value": str(value)}
            if value is None:
                items.append(Item("message", "qemu", fields, f"{name}: its number is not a constant drift can read"))
            elif model.get(name) == value:
                report.modelled.append(Item("message", "both", fields, f"{name} = {value}"))
            elif name in model:
                items.append(Item("message", "qemu", fields, f"{name} is {value} in QEMU, {model[name]} in the model"))
            else:
                items.append(Item("message", "qemu", fields, f"{name} = {value} is not in model/messages.py"))
        for name, value in model.items():
            if name not in qemu:
                items.append(Item("message", "model", {"name": name, "value": str(value)},
                                  f"model/messages.py has {name} = {value}; this QEMU does not"))
    return count


def _pings(tree: CTree, report: Report, items: list[Item]) -> int:
    sent = tree.pings()
    model = model_pings()
    for value, cite, line in sent:
        fields = {"value": _hex(value), "function": cite}
        if isinstance(value, int) and value in model:
            report.modelled.append(Item("ping", "both", fields,
                                        f"PING {_hex(value)} in {cite}:{line} ({model[value]})"))
        else:
            items.append(Item("ping", "qemu", fields, f"QEMU sends PING {_hex(value)} in {cite}:{line}; "
                                                      "model/messages.py has no such value"))
    values = {v for v, _, _ in sent}
    for value, name in sorted(model.items()):
        if value not in values:
            items.append(Item("ping", "model", {"value": _hex(value), "name": name},
                              f"model/messages.py's {name} = {_hex(value)} is never sent by this QEMU"))
    return len(sent)


def _hex(value: int | str) -> str:
    return hex(value) if isinstance(value, int) and value > 9 else str(value)
