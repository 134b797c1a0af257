"""The checker stays generic: nothing under ``checker/`` imports the QEMU model, its properties or
the real-QEMU harness, not even by naming a module in a string; and the CLI shell
(``checker/cli.py``) is imported by no other module of ``checker/`` (no hidden import cycle)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

CHECKER = Path(__file__).resolve().parent.parent / "checker"
FORBIDDEN = ("model", "properties", "harness")
MODULE_PATH = re.compile(r"(?:" + "|".join(FORBIDDEN) + r")(?:\.\w+)+(?::\w+)?")
"""A string naming a module (or an entry point's ``module:attr``) of a forbidden package."""


def forbidden_imports(source: str) -> list[str]:
    """The imports in ``source`` that reach into ``model``, ``properties`` or ``harness``, as
    written, including modules named in strings (``import_module("harness.record")``)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative imports stay inside checker/
                continue
            names = [node.module or ""]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_PATH.fullmatch(node.value):
            names = [node.value]
        else:
            continue
        found += [name for name in names if name.split(".")[0] in FORBIDDEN]
    return found


def imports_of(source: str, module: str) -> list[str]:
    """The statements of ``source`` that import ``module`` (or import it from its package), also
    by string."""
    package, _, leaf = module.rpartition(".")
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name == module]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            if node.module == module or (node.module == package and any(a.name == leaf for a in node.names)):
                found.append(node.module or "")
        elif isinstance(node, ast.Constant) and node.value == module:
            found.append(module)
    return found


def test_the_scanner_finds_every_spelling() -> None:
    source = (
        "import model\n"
        "import properties.safety as s\n"
        "from model.source import SOURCE\n"
        "from properties import suite\n"
        "import importlib\n"
        "importlib.import_module('model.config')\n"
        "from checker.spec import Model\n"
        "import modelling\n"
        "from . import spec\n"
        "import harness.record\n"
        "load('harness.record')\n"
        "group = 'properties.suite:qemu_suite'\n"
        "'The harness: see harness.record and model.py.'\n"
        "'harness'\n"
    )
    assert sorted(forbidden_imports(source)) == sorted([
        "model",
        "properties.safety",
        "model.source",
        "properties",
        "model.config",
        "harness.record",
        "harness.record",
        "properties.suite:qemu_suite",
    ])


def test_checker_imports_nothing_from_model_properties_or_harness() -> None:
    files = sorted(CHECKER.rglob("*.py"))
    assert files, f"no Python files found under {CHECKER}"
    offenders = {
        str(path.relative_to(CHECKER.parent)): found
        for path in files
        if (found := forbidden_imports(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_the_shell_is_imported_by_no_other_checker_module() -> None:
    source = ("from checker.cli import load_suite\nimport checker.cli\nfrom checker import cli\n"
              "import_module('checker.cli')\nfrom checker.cli_base import load_suite\nimport checker.cli_base\n")
    assert sorted(imports_of(source, "checker.cli")) == ["checker", "checker.cli", "checker.cli", "checker.cli"]
    offenders = {
        path.name: found
        for path in sorted(CHECKER.rglob("*.py"))
        if path.name != "cli.py" and (found := imports_of(path.read_text(encoding="utf-8"), "checker.cli"))
    }
    assert offenders == {}


def test_only_checker_kinds_names_a_property_kind() -> None:
    """What a kind means is written once (checker/kinds.py): no other checker module tests for a
    particular kind, so adding a kind touches that module only."""
    offenders = {
        path.name: sorted({node.attr for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                           if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                           and node.value.id == "Kind"})
        for path in sorted(CHECKER.rglob("*.py"))
        if path.name != "kinds.py"
    }
    assert {name: kinds for name, kinds in offenders.items() if kinds} == {}


def test_the_suite_is_a_core_with_typed_capabilities() -> None:
    from checker.cli_base import load_suite
    from checker.spec import Presentation, Variant

    suite = load_suite()
    assert isinstance(suite.presentation, Presentation)
    mutants = suite.variants_of("mutants")
    assert mutants and all(isinstance(v, Variant) and v.name == n and v.doc and v.configs
                           for n, v in mutants.items())
    assert suite.variants_of("no-such-family") is None
    # the fields code written against the old Suite read still answer, from the capabilities
    assert suite.explain is suite.presentation.explain and suite.project_axes == suite.presentation.project_axes
    assert suite.mutants is not None
    old = suite.mutants()
    assert {n: (v.doc, v.configs, v.equivalent) for n, v in mutants.items()} == {
        n: (doc, configs, equivalent) for n, (doc, configs, _, equivalent) in old.items()}
