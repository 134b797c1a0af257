"""The QEMU model and its properties, bound together for the generic checker.

This is the one place where the checker meets QEMU: the ``migmodel.suites`` entry point in
``pyproject.toml`` names ``qemu_suite``, and the CLI loads it without importing ``model``.
"""

from __future__ import annotations

from typing import Any

from checker.spec import Model, Suite
from model import config as configs
from model.system import MigrationModel
from properties.qemu import PROPERTIES


def _build(config: Any) -> Model:
    return MigrationModel(config)


def _describe(config: Any) -> str:
    return f"{config.description} ({config.summary()})"


def qemu_suite() -> Suite:
    return Suite(
        name="qemu",
        configs=lambda: dict(configs.NAMED),
        build=_build,
        properties=lambda: PROPERTIES,
        describe_config=_describe,
    )
