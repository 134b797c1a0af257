"""The checker stays generic: nothing under ``checker/`` imports the QEMU model or its properties."""

from __future__ import annotations

import ast
from pathlib import Path

CHECKER = Path(__file__).resolve().parent.parent / "checker"
FORBIDDEN = ("model", "properties")


def forbidden_imports(source: str) -> list[str]:
    """The imports in ``source`` that reach into ``model`` or ``properties``, as written."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative imports stay inside checker/
                continue
            names = [node.module or ""]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        else:
            continue
        found += [name for name in names if name.split(".")[0] in FORBIDDEN]
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
    )
    assert forbidden_imports(source) == [
        "model",
        "properties.safety",
        "model.source",
        "properties",
        "model.config",
    ]


def test_checker_imports_nothing_from_model_or_properties() -> None:
    files = sorted(CHECKER.rglob("*.py"))
    assert files, f"no Python files found under {CHECKER}"
    offenders = {
        str(path.relative_to(CHECKER.parent)): found
        for path in files
        if (found := forbidden_imports(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}
