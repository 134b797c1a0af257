"""The QEMU model and its properties, bound together for the generic checker.

This is the one place where the checker meets QEMU: the ``migmodel.suites`` entry point in
``pyproject.toml`` names ``qemu_suite``, and the CLI loads it without importing ``model``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from checker.spec import Model, Presentation, Suite, Variant
from model import config as configs
from model.system import MigrationModel
from properties import conformance, presentation, replayed, runs
from properties.qemu import PROPERTIES


def _build(config: Any) -> Model:
    return MigrationModel(config)


def _describe(config: Any) -> str:
    return f"{config.description} ({config.summary()})"


def _mutants() -> list[Variant]:
    from model.mutants import MUTANTS
    from model.system import all_rows

    def builder(rows: tuple[Any, ...]) -> Callable[[Any], Model]:
        return lambda config: MigrationModel(config, rows=rows)

    return [Variant(name, m.doc, tuple(m.configs), builder(m.rows(all_rows())), m.equivalent)
            for name, m in MUTANTS.items()]


def _designs() -> list[Variant]:
    from model.designs import DESIGNS
    from model.system import all_rows

    def builder(rows: tuple[Any, ...]) -> Callable[[Any], Model]:
        return lambda config: MigrationModel(config, rows=rows)

    return [Variant(d.name, d.doc, tuple(c.name for c in d.configs), builder(d.rows(all_rows())),
                    origin=d.origin, intends=tuple(d.intends), own_configs={c.name: c for c in d.configs})
            for d in DESIGNS.values()]


def qemu_suite() -> Suite:
    return Suite(
        name="qemu",
        configs=lambda: dict(configs.NAMED),
        build=_build,
        properties=lambda: PROPERTIES,
        describe_config=_describe,
        presentation=Presentation(
            machine_diagrams=presentation.machine_diagrams,
            project=presentation.project,
            project_axes=("source", "destination"),
            explain=presentation.explain,
            sequence=presentation.sequence,
            questions=lambda: presentation.QUESTIONS,
            explain_state=presentation.explain_state,
        ),
        conformance=conformance.load_case,
        variants={"mutants": _mutants, "designs": _designs},
        real_runs=replayed.seen_on_real_qemu,
        runs=lambda: runs.RUNS,
    )
