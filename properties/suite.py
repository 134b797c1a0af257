"""The QEMU model and its properties, bound together for the generic checker.

This is the one place where the checker meets QEMU: the ``migmodel.suites`` entry point in
``pyproject.toml`` names ``qemu_suite``, and the CLI loads it without importing ``model``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from checker.spec import Model, Suite
from model import config as configs
from model.system import MigrationModel
from properties import conformance, presentation, replayed
from properties.qemu import PROPERTIES


def _build(config: Any) -> Model:
    return MigrationModel(config)


def _describe(config: Any) -> str:
    return f"{config.description} ({config.summary()})"


def _mutants() -> dict[str, tuple[str, Sequence[str], Callable[[Any], Model], bool]]:
    from model.mutants import MUTANTS
    from model.system import all_rows

    def builder(rows: tuple[Any, ...]) -> Callable[[Any], Model]:
        return lambda config: MigrationModel(config, rows=rows)

    return {name: (m.doc, m.configs, builder(m.rows(all_rows())), m.equivalent)
            for name, m in MUTANTS.items()}


def qemu_suite() -> Suite:
    return Suite(
        name="qemu",
        configs=lambda: dict(configs.NAMED),
        build=_build,
        properties=lambda: PROPERTIES,
        describe_config=_describe,
        machine_diagrams=presentation.machine_diagrams,
        project=presentation.project,
        project_axes=("source", "destination"),
        explain=presentation.explain,
        sequence=presentation.sequence,
        questions=lambda: presentation.QUESTIONS,
        mutants=_mutants,
        conformance=conformance.load_case,
        real_runs=replayed.seen_on_real_qemu,
    )
