"""``migmodel drift`` on QEMU source trees: the synthetic 10.2 tree in ``tests/fixtures/qemu-trees``
(and copies of it with one thing changed, as a patch under review would), and Debian's real 7.2
and 10.2.2 trees when they are unpacked (``harness/fetch-qemu-src.sh``; CI fetches them)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from checker.cli import main
from harness.drift import qapi
from harness.drift.compare import model_version
from harness.drift.ctree import TreeError

MINI = Path(__file__).parent / "fixtures" / "qemu-trees" / "mini-10.2"
REAL = Path("/var/cache/migmodel/src")
ROOT = Path(__file__).resolve().parents[1]


def drift(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["drift", *args])
    out, err = capsys.readouterr()
    return code, out, err


def drift_json(capsys: pytest.CaptureFixture[str], tree: Path, *args: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = drift(capsys, "--qemu-src", str(tree), "--json", *args)
    return code, json.loads(out)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the synthetic tree, to patch."""
    dst = tmp_path / "qemu"
    shutil.copytree(MINI, dst)
    return dst


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} not found once in {path}"
    path.write_text(text.replace(old, new))


def unexplained(report: dict[str, Any]) -> list[str]:
    return [i["text"] for i in report["unexplained"]]


# --- the synthetic tree as it is --------------------------------------------------------------


def test_synthetic_tree_agrees_with_the_model(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = drift_json(capsys, MINI)
    assert code == 0, unexplained(report)
    assert report["version"] == "10.2" and report["tree_version"] == "10.2.0"
    assert report["found"]["transitions"] >= 30
    assert report["found"]["pings"] == 5 and report["found"]["messages"] == 20
    kinds = {i["kind"] for i in report["modelled"]}
    assert {"transition", "citation", "guard", "command", "status", "message", "ping"} <= kinds


def test_what_the_parser_resolves(capsys: pytest.CaptureFixture[str]) -> None:
    _, report = drift_json(capsys, MINI)
    found = {(i["side"], i["from"], i["to"], i["function"], i["via"])
             for i in report["modelled"] + report["explained"] + report["unexplained"] if i["kind"] == "transition"}
    pr, mc = "migration/postcopy-ram.c:postcopy_listen_thread", "migration/migration.c"
    # both arms of a conditional expression
    assert ("dst", "active", "postcopy-device", pr, "") in found
    assert ("dst", "active", "postcopy-active", pr, "") in found
    # FROM and TO passed in by the caller: taken from the call site
    assert ("src", "setup", "active", f"{mc}:qemu_savevm_wait_unplug", f"{mc}:migration_thread") in found
    # a local assigned in a switch; ``X->state`` is the current status, ``*``
    assert ("src", "*", "postcopy-paused", f"{mc}:migration_connect_set_error", "") in found
    assert ("src", "*", "failed", f"{mc}:migration_connect_set_error", "") in found
    # the side comes from the type of X in ``&X->state``
    assert ("dst", "*", "setup", f"{mc}:migration_incoming_state_setup", "") in found


def test_explained_items_carry_their_reason(capsys: pytest.CaptureFixture[str]) -> None:
    _, report = drift_json(capsys, MINI)
    wait_unplug = [i for i in report["explained"] if i["kind"] == "transition" and i["to"] == "wait-unplug"]
    assert wait_unplug and all("wait-unplug" in i["reason"] for i in wait_unplug)
    assert not [i for i in report["explained"] if i["kind"] == "command"]


def test_yank_is_modelled_by_the_rows_that_cite_it(capsys: pytest.CaptureFixture[str]) -> None:
    # yank is the fault injector's operator action (model/faults.py 'yank: source', 'yank: destination',
    # citing util/yank.c:qmp_yank), not a management row: the handler counts as modelled through them
    _, report = drift_json(capsys, MINI)
    yank = [i for i in report["modelled"] if i["kind"] == "command" and i["function"] == "util/yank.c:qmp_yank"]
    assert len(yank) == 1 and yank[0]["rows"] == "yank: destination; yank: source"
    mc = "migration/migration.c"
    assert yank[0]["registered_by"] == f"{mc}:qmp_migrate_incoming,{mc}:qmp_migrate_finish"
    assert f"{mc}:migration_cleanup" in yank[0]["unregistered_by"].split(",")


def test_human_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = drift(capsys, "--qemu-src", str(MINI))
    assert code == 0
    assert "QEMU 10.2.0 is modelled as 10.2" in out and "unexplained 0" in out


# --- a patch under review: something changes, drift says what ----------------------------------------


def test_a_new_transition_is_named_with_its_function(capsys: pytest.CaptureFixture[str], tree: Path) -> None:
    edit(tree / "migration/migration.c", """    migrate_set_state(&s->state, s->state,
                      MIGRATION_STATUS_COMPLETED);""", """    migrate_set_state(&s->state, s->state,
                      MIGRATION_STATUS_COMPLETED);
    migrate_set_state(&s->state, MIGRATION_STATUS_POSTCOPY_DEVICE, MIGRATION_STATUS_COMPLETED);""")
    code, out, _ = drift(capsys, "--qemu-src", str(tree))
    assert code == 1
    lines = [ln for ln in out.splitlines() if "postcopy-device -> completed" in ln]
    assert len(lines) == 1 and "migration/migration.c:migration_completion_end" in lines[0]
    assert "unexplained 1" in out


def test_a_removed_transition_names_the_model_row(capsys: pytest.CaptureFixture[str], tree: Path) -> None:
    edit(tree / "migration/migration.c", """            migrate_set_state(&s->state, MIGRATION_STATUS_POSTCOPY_DEVICE,
                              MIGRATION_STATUS_POSTCOPY_ACTIVE);""", "")
    code, report = drift_json(capsys, tree)
    assert code == 1
    rows = {i["row"] for i in report["unexplained"] if i["kind"] == "row"}
    assert rows == {"migration_iteration_run: act on PONG 0x42", "migration_iteration_run: woken by PONG 0x42"}
    assert all(i["where"] == "model" for i in report["unexplained"])


def test_a_changed_guard_contradicts_a_refusal(capsys: pytest.CaptureFixture[str], tree: Path) -> None:
    # migration_in_postcopy() without POSTCOPY_DEVICE: migrate_cancel is accepted there again
    edit(tree / "migration/migration.c", """    switch (s->state) {
    case MIGRATION_STATUS_POSTCOPY_DEVICE:
    case MIGRATION_STATUS_POSTCOPY_ACTIVE:""", """    switch (s->state) {
    case MIGRATION_STATUS_POSTCOPY_ACTIVE:""")
    code, report = drift_json(capsys, tree)
    assert code == 1
    assert [(i["row"], i["status"], i["problem"]) for i in report["unexplained"]] == [
        ("migrate_cancel: refused", "postcopy-device", "not-refused")]


def test_a_new_refusal_contradicts_an_accepted_command(capsys: pytest.CaptureFixture[str], tree: Path) -> None:
    edit(tree / "migration/migration.c", """    case MIGRATION_STATUS_POSTCOPY_ACTIVE:
    case MIGRATION_STATUS_POSTCOPY_RECOVER:
        return true;""", """    case MIGRATION_STATUS_POSTCOPY_ACTIVE:
        return true;""")
    code, report = drift_json(capsys, tree)
    assert code == 1
    problems = {(i["row"], i["side"], i["status"]) for i in report["unexplained"]}
    assert ("migrate-pause", "src", "postcopy-recover") in problems
    assert ("migrate-pause", "dst", "postcopy-recover") in problems


def test_migrate_is_judged_as_the_operator_calls_it(capsys: pytest.CaptureFixture[str], tree: Path) -> None:
    # migrate_prepare's refusal is reached only if !(resume): the model's 'migrate: refused' is judged
    # with resume=false, so a running status that QEMU no longer counts as running is named
    edit(tree / "migration/migration.c", """    switch (s->state) {
    case MIGRATION_STATUS_ACTIVE:
    case MIGRATION_STATUS_POSTCOPY_DEVICE:""", """    switch (s->state) {
    case MIGRATION_STATUS_POSTCOPY_DEVICE:""")
    code, report = drift_json(capsys, tree)
    assert code == 1
    got = {(i["row"], i["status"], i["problem"]) for i in report["unexplained"] if i["kind"] == "guard"}
    assert ("migrate: refused", "active", "not-refused") in got
    assert not any("migrate: refused" in n for n in report["notes"])  # decided, not "depends on more"


def test_a_qerror_macro_is_read_as_its_message(capsys: pytest.CaptureFixture[str], tree: Path) -> None:
    # 7.2 refuses a second migrate with QERR_MIGRATION_ACTIVE, a #define in include/qapi/qmp/qerror.h
    edit(tree / "migration/migration.c", """error_setg(errp, "There's a migration process in progress");""",
         "error_setg(errp, QERR_MIGRATION_ACTIVE);")
    code, report = drift_json(capsys, tree)
    assert code == 1  # without the header the macro is only a name: neither side finds the other's refusal
    assert {(i["where"], i.get("row"), i.get("message"), i.get("problem")) for i in report["unexplained"]} == {
        ("model", "migrate: refused", "There's a migration process in progress", "message-not-found"),
        ("qemu", None, "QERR_MIGRATION_ACTIVE", None)}
    header = tree / "include/qapi/qmp/qerror.h"
    header.parent.mkdir(parents=True)
    header.write_text('#define QERR_IO_ERROR \\\n    "An IO error has occurred"\n\n'
                      '#define QERR_MIGRATION_ACTIVE \\\n    "There\'s a migration process in progress"\n')
    code, report = drift_json(capsys, tree)
    assert code == 0, unexplained(report)
    assert [i["rows"] for i in report["modelled"] if i["kind"] == "guard"
            and i["message"] == "There's a migration process in progress"] == ["migrate: refused"]


def test_a_renamed_function_breaks_the_citation(capsys: pytest.CaptureFixture[str], tree: Path) -> None:
    edit(tree / "migration/savevm.c", "static int loadvm_postcopy_handle_resume(", "static int loadvm_postcopy_resume(")
    code, report = drift_json(capsys, tree)
    assert code == 1
    got = {(i["kind"], i.get("row") or i.get("function")) for i in report["unexplained"]}
    assert got == {("citation", "loadvm_postcopy_handle_resume"), ("row", "loadvm_postcopy_handle_resume"),
                   ("transition", "migration/savevm.c:loadvm_postcopy_resume")}


def test_statuses_messages_and_pings(capsys: pytest.CaptureFixture[str], tree: Path) -> None:
    edit(tree / "qapi/migration.json", "'wait-unplug' ]", "'wait-unplug', 'postcopy-loading' ]")
    edit(tree / "migration/savevm.c", "    MIG_CMD_SWITCHOVER_START,\n",
         "    MIG_CMD_SWITCHOVER_START,\n    MIG_CMD_NEW,\n")
    edit(tree / "migration/migration.h", "MIG_RP_MSG_INVALID = 0,", "MIG_RP_MSG_INVALID = 0, MIG_RP_MSG_EXTRA,")
    edit(tree / "migration/migration.c", "        qemu_savevm_send_ping(fb, 3);\n", "")
    code, report = drift_json(capsys, tree)
    assert code == 1
    key = {"status": "status", "message": "name", "ping": "value"}
    got = {(i["kind"], i["where"], i[key[i["kind"]]]) for i in report["unexplained"]}
    assert ("status", "qemu", "postcopy-loading") in got
    assert ("message", "qemu", "MIG_CMD_NEW") in got
    assert ("message", "qemu", "MIG_RP_MSG_SHUT") in got  # its number moved from 1 to 2
    assert ("ping", "model", "3") in got


def test_a_reason_in_the_explanation_file_clears_an_item(capsys: pytest.CaptureFixture[str], tree: Path,
                                                         tmp_path: Path) -> None:
    edit(tree / "migration/migration.c", """    migrate_set_state(&s->state, s->state,
                      MIGRATION_STATUS_COMPLETED);""", """    migrate_set_state(&s->state, s->state,
                      MIGRATION_STATUS_COMPLETED);
    migrate_set_state(&s->state, MIGRATION_STATUS_POSTCOPY_DEVICE, MIGRATION_STATUS_COMPLETED);""")
    explained = tmp_path / "explained.toml"
    default = (Path(__file__).parents[1] / "harness" / "drift" / "explained.toml").read_text()
    explained.write_text(default + '\n[[explained]]\nkind = "transition"\n'
                         'match = { from = "postcopy-device", to = "completed" }\nreason = "a test"\n')
    code, report = drift_json(capsys, tree, "--explained", str(explained))
    assert code == 0
    assert [i["reason"] for i in report["explained"] if i.get("to") == "completed" and i["kind"] == "transition"] == [
        "a test"]


# --- versions ---------------------------------------------------------------------------------------


def test_version_mapping() -> None:
    assert model_version("7.2.22") == ("7.2", "QEMU 7.2.22 is modelled as 7.2")
    assert model_version("10.2.2")[0] == "10.2"
    v, note = model_version("11.0.1")
    assert v == "10.2" and "not modelled" in note
    assert model_version("6.2.0")[0] == "7.2"
    # "10.0" is 10.0.0-10.0.4 and 10.1.0; "10.0.5" (the stable fix 725a9e5f78) is 10.0.5+ and 10.1.1+
    assert [model_version(v)[0] for v in ("10.0.2", "10.0.5", "10.0.9", "10.1", "10.1.0", "10.1.1", "10.1.3")] == [
        "10.0", "10.0.5", "10.0.5", "10.0", "10.0", "10.0.5", "10.0.5"]
    assert model_version("10.0.5") == ("10.0.5", "QEMU 10.0.5 is modelled as 10.0.5")
    assert model_version("11.1.0")[0] == "11.1" and model_version("12.0")[0] == "11.1"
    with pytest.raises(TreeError):
        model_version("ten")


def test_version_override(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = drift_json(capsys, MINI, "--version", "10.1")
    assert report["version"] == "10.0" and "nearest modelled version below it, 10.0" in report["version_note"]
    # the model's 10.0 has no postcopy-device: this tree's 10.2 switchover is not a 10.0 row
    assert code == 1
    new = {(i["side"], i["from"], i["to"]) for i in report["unexplained"] if i["kind"] == "transition"}
    assert ("src", "device", "postcopy-device") in new and ("dst", "active", "postcopy-device") in new


# --- bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["missing", "no-migration", "bad-qapi", "no-enum", "no-version", "bad-version",
                                    "no-calls", "bad-explained"])
def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], tree: Path, tmp_path: Path,
                                          damage: str) -> None:
    args = ["--qemu-src", str(tree)]
    if damage == "missing":
        args = ["--qemu-src", str(tmp_path / "nowhere")]
    elif damage == "no-migration":
        (tree / "migration/migration.c").unlink()
    elif damage == "bad-qapi":
        (tree / "qapi/migration.json").write_text("{ 'enum': 'MigrationStatus', 'data': [ 'none' ")
    elif damage == "no-enum":
        (tree / "qapi/migration.json").write_text("{ 'struct': 'X', 'data': {} }")
    elif damage == "no-version":
        (tree / "VERSION").unlink()
    elif damage == "bad-version":
        args += ["--version", "latest"]
    elif damage == "no-calls":
        for f in (tree / "migration").glob("*.c"):
            f.write_text("int main(void) { return 0; }\n")
    elif damage == "bad-explained":
        bad = tmp_path / "x.toml"
        bad.write_text('[[explained]]\nkind = "transition"\nmatch = { to = "colo" }\n')  # no reason
        args += ["--explained", str(bad)]
    code, out, err = drift(capsys, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("migmodel drift: error: "), err


def test_unreadable_files_exit_2(capsys: pytest.CaptureFixture[str], tree: Path) -> None:
    (tree / "qapi/migration.json").write_bytes(b"{ 'enum': 'MigrationStatus', 'data': [ '\xff' ] }")
    code, out, err = drift(capsys, "--qemu-src", str(tree))
    assert code == 2 and out == "" and err.count("\n") == 1 and "migration.json: cannot read" in err, err


@pytest.mark.skipif(os.geteuid() == 0 and shutil.which("setpriv") is None, reason="root reads a mode-000 file")
@pytest.mark.parametrize("what", ["migration/savevm.c", "migration"])
def test_a_file_without_read_permission_exits_2(tree: Path, what: str) -> None:
    # from the command line, as a user would meet it; root runs it without CAP_DAC_OVERRIDE (setpriv)
    (tree / what).chmod(0)
    cmd = [sys.executable, "-m", "checker.cli", "drift", "--qemu-src", str(tree)]
    if os.geteuid() == 0:
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search",
               "--inh-caps=-dac_override,-dac_read_search", "--", *cmd]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).parents[1], timeout=600)
    finally:
        (tree / what).chmod(0o755)
    assert r.returncode == 2 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("migmodel drift: error: ") and "ermission" in r.stderr


def test_qapi_reader() -> None:
    src = """# comment with 'quotes' and { braces
{ 'enum': 'E', 'data': [ 'a', { 'name': 'b-c', 'if': 'CONFIG_X' } ] }  # trailing
{ 'struct': 'S', 'data': { '*x': 'int', 'y': { 'type': 'str', 'features': [ 'deprecated' ] } },
  'allow-oob': true }
"""
    exprs = qapi.parse(src)
    assert qapi.enum_members(exprs, "E") == ["a", "b-c"]
    assert exprs[1]["allow-oob"] is True
    assert qapi.c_name("MIGRATION_STATUS_", "postcopy-recover-setup") == "MIGRATION_STATUS_POSTCOPY_RECOVER_SETUP"
    with pytest.raises(qapi.QapiError):
        qapi.parse("{ 'a': 'b' ")
    with pytest.raises(qapi.QapiError):
        qapi.parse("{ 'a' 'b' }")


# --- Debian's real trees (CI fetches them with harness/fetch-qemu-src.sh) ------------------------


def real(name: str) -> Path:
    root = REAL / name
    if not (root / "migration/migration.c").is_file():
        pytest.skip(f"{root} is not unpacked (harness/fetch-qemu-src.sh {name.removeprefix('qemu-')})")
    return root


def real_copy(name: str, tmp_path: Path, *touched: str) -> Path:
    """A copy of a real tree (hard links: the trees are large), each ``touched`` file a file of its
    own so that editing or patching it leaves the cached tree as it is."""
    dst = tmp_path / name
    shutil.copytree(real(name), dst, copy_function=os.link, symlinks=True)
    for rel in touched:
        data = (dst / rel).read_bytes()
        (dst / rel).unlink()
        (dst / rel).write_bytes(data)
    return dst


@pytest.mark.parametrize("name", ["qemu-7.2", "qemu-10.2.2"])
def test_real_tree(capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, report = drift_json(capsys, real(name))
    assert code == 0, unexplained(report)
    assert report["found"]["transitions"] >= 30
    assert report["modelled"] and report["explained"]
    # every row of the version cites a function of the tree, or the row names the old one
    missing = [i for i in report["unexplained"] + report["explained"] if i["kind"] == "citation" and "as" not in i]
    assert not missing and any(i["kind"] == "citation" for i in report["modelled"])
    # 7.2's migrate-pause refusal has its own wording ([[worded]]): the row is judged against it
    worded = {(i["side"], i["as"]) for i in report["explained"] if i["kind"] == "guard" and "as" in i}
    pause72 = "migrate-pause is currently only supported during postcopy-active state"
    assert worded == ({("src", pause72), ("dst", pause72)} if name == "qemu-7.2" else set())
    # the counts README.md and docs/drift.md show are this run's
    label = "7.2 (7.2.22)" if name == "qemu-7.2" else "10.2.2"
    found = report["found"]
    counts = [len(report[k]) for k in ("modelled", "explained", "unexplained")]
    readme = (ROOT / "README.md").read_text()
    assert f"| {label} | {found['transitions']} | {' | '.join(map(str, counts))} |\n" in readme
    row = [found[k] for k in ("transitions", "statuses", "state_guards", "messages", "pings", "model_rows")]
    assert f"| {label} | {' | '.join(map(str, row + counts))} |\n" in (ROOT / "docs" / "drift.md").read_text()


def test_every_explanation_is_used_on_a_real_tree(capsys: pytest.CaptureFixture[str]) -> None:
    # an entry no real tree needs is dead weight that could hide a later change
    unused = None
    for name in ("qemu-7.2", "qemu-10.2.2"):
        _, report = drift_json(capsys, real(name))
        here = {json.dumps(u, sort_keys=True) for u in report["unused_explanations"]}
        unused = here if unused is None else unused & here
    assert not unused


def test_real_10_2_with_an_injected_transition(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = real_copy("qemu-10.2.2", tmp_path, "migration/migration.c")
    edit(root / "migration/migration.c", """    migrate_set_state(&s->state, s->state,
                      MIGRATION_STATUS_COMPLETED);
    bql_unlock();""", """    migrate_set_state(&s->state, s->state,
                      MIGRATION_STATUS_COMPLETED);
    migrate_set_state(&s->state, MIGRATION_STATUS_POSTCOPY_DEVICE, MIGRATION_STATUS_COMPLETED);
    bql_unlock();""")
    code, out, _ = drift(capsys, "--qemu-src", str(root))
    assert code == 1 and "unexplained 1" in out
    lines = [ln for ln in out.splitlines() if "postcopy-device -> completed" in ln]
    assert len(lines) == 1 and "migration/migration.c:migration_completion_end" in lines[0], out


@pytest.mark.parametrize(("name", "old", "rows"), [
    ("qemu-7.2", """        migrate_set_state(&ms->state, MIGRATION_STATUS_ACTIVE,
                          MIGRATION_STATUS_POSTCOPY_ACTIVE);
""", {"postcopy_start: switchover (7.2)"}),
    ("qemu-10.2.2", """    migrate_set_state(&ms->state, MIGRATION_STATUS_DEVICE,
                      ms->rp_state.rp_thread_created ?
                      MIGRATION_STATUS_POSTCOPY_DEVICE :
                      MIGRATION_STATUS_POSTCOPY_ACTIVE);
""", {"postcopy_start: postcopy-device", "postcopy_start: postcopy-active"}),
])
def test_real_tree_with_a_removed_transition(capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str,
                                             old: str, rows: set[str]) -> None:
    root = real_copy(name, tmp_path, "migration/migration.c")
    edit(root / "migration/migration.c", old, "")
    code, report = drift_json(capsys, root)
    assert code == 1
    assert {(i["kind"], i["where"], i["row"]) for i in report["unexplained"]} == {("row", "model", r) for r in rows}


def test_real_10_2_reviewer_flow(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # the README's example: 7b842fe354 ("migration: Introduce POSTCOPY_DEVICE state") undone by patch(1)
    if shutil.which("patch") is None:
        pytest.skip("no patch(1)")
    patch = Path(__file__).parent / "fixtures" / "patches" / "revert-7b842fe354-10.2.2.patch"
    touched = [ln.removeprefix("+++ b/") for ln in patch.read_text().splitlines() if ln.startswith("+++ b/")]
    root = real_copy("qemu-10.2.2", tmp_path / "r", *touched)
    root = root.rename(root.with_name("qemu-10.2.2-without-7b842fe354"))
    subprocess.run(["patch", "-s", "-p1", "-i", str(patch)], cwd=root, check=True, timeout=60)
    # the README shows this run's output as it is
    monkeypatch.chdir(root.parent)
    code, out, _ = drift(capsys, "--qemu-src", root.name)
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    shown = readme.split(f"$ migmodel drift --qemu-src {root.name}\n", 1)[1].split("```", 1)[0]
    assert code == 1 and out == shown
    code, report = drift_json(capsys, root)
    assert code == 1
    assert all(i["where"] == "model" for i in report["unexplained"])
    got = {(i["kind"], i.get("row") or i.get("status") or i.get("name")) for i in report["unexplained"]}
    assert got == {
        ("row", "postcopy_start: postcopy-device"), ("row", "postcopy_listen_thread: postcopy-device"),
        ("row", "postcopy_listen_thread: failed"), ("row", "qemu_loadvm_state_main: error set on the stream"),
        ("row", "loadvm_postcopy_handle_run"), ("row", "migration_iteration_run: act on PONG 0x42"),
        ("row", "migration_iteration_run: woken by PONG 0x42"), ("guard", "migrate_cancel: refused"),
        ("guard", "migrate: refused"), ("status", "postcopy-device"), ("ping", "QEMU_VM_PING_PACKAGED_LOADED")}


def test_enums_drift_cannot_evaluate(capsys: pytest.CaptureFixture[str], tree: Path) -> None:
    # another enum with shifted values is no concern; a command number drift cannot read is reported
    (tree / "migration/other.h").write_text("enum flags { FLAG_A = 1 << 0, FLAG_B = 1 << 1 };\n")
    edit(tree / "migration/savevm.c", "    MIG_CMD_INVALID = 0,   /* Must be 0 */",
         "    MIG_CMD_INVALID = MIG_CMD_BASE,")
    code, report = drift_json(capsys, tree)
    assert code == 1
    names = {i["name"] for i in report["unexplained"] if i["kind"] == "message"}
    assert "MIG_CMD_INVALID" in names and "MIG_CMD_SWITCHOVER_START" in names  # and every one after it
