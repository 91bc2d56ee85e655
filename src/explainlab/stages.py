"""The stages of a run, each declared once: its name, its output folder under the run
folder, the config table of its settings, its runner, its time estimate and the stages
whose outputs it reads. The pipeline, the manifest, the reports and the bundle take
folder names from here; nothing else types them.

Runners and estimates are named as ``"module:function"`` and imported only when a run
needs them, so this module (and the config that validates ``[run] stages`` with it)
stays free of torch and the stages' libraries. A runner takes the run's
:class:`explainlab.context.Context` and returns a :class:`explainlab.context.StageResult`;
an estimate takes the Context and returns one line (or None), printed on a CPU when,
and only when, the stage has work to do."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StageSpec:
    name: str
    folder: str  # its output folder, relative to the run folder
    table: str | None  # the run config's table (RunConfig attribute) of its settings
    runner: str  # "module:function(ctx) -> StageResult"
    estimate: str | None  # "module:function(ctx) -> str | None"
    reads: tuple[str, ...]  # the stages whose outputs it reads
    about: str  # one line for --help and the README

    def load_runner(self) -> Callable[[Any], Any]:
        return _resolve(self.runner)

    def load_estimate(self) -> Callable[[Any], str | None] | None:
        return _resolve(self.estimate) if self.estimate else None


def _resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


# In the order of the data flow (the order a run takes them in).
STAGES: tuple[StageSpec, ...] = (
    StageSpec(
        "dissect",
        "dissect",
        "dissect",
        "explainlab.dissect.stage:run_stage",
        "explainlab.dissect.stage:estimate",
        (),
        "label every unit of the chosen layers with a concept (CLIP-Dissect), then analyse",
    ),
    StageSpec(
        "cam",
        "cam",
        "cam",
        "explainlab.cam.stage:run_stage",
        "explainlab.cam.stage:estimate",
        (),
        "predictions and each chosen CAM method's map per image",
    ),
    StageSpec(
        "tune",
        "lime_tune",
        "tune",
        "explainlab.assignment.tune.stage:run_stage",
        "explainlab.assignment.tune.stage:estimate",
        (),
        "search LIME parameters per image for IoU against time",
    ),
    StageSpec(
        "lime",
        "lime",
        "lime",
        "explainlab.lime.stage:run_stage",
        "explainlab.lime.stage:estimate",
        ("tune",),  # its parameters, when [lime] params = "tuned"
        "LIME explanations per image, and the parameter pickle",
    ),
    StageSpec(
        "scoreboard",
        "lime_score",
        "scoreboard",
        "explainlab.assignment.scoreboard:run_stage",
        "explainlab.assignment.scoreboard:estimate",
        ("tune",),  # the run's parameters, when [lime] params = "tuned"
        "score the run's LIME parameters (and lime's defaults) as the grader would",
    ),
    StageSpec(
        "compare",
        "compare",
        "compare",
        "explainlab.compare.stage:run_stage",
        "explainlab.compare.stage:estimate",
        ("cam", "lime"),
        "agreement of CAM and LIME, complexity, faithfulness, sanity check",
    ),
    StageSpec(
        "report",
        "reports",
        None,
        "explainlab.assignment.report.stage:run_stage",
        None,
        ("dissect", "cam", "lime", "scoreboard", "compare"),
        "the PDF reports, built from the run's own numbers",
    ),
)
STAGE_NAMES: tuple[str, ...] = tuple(s.name for s in STAGES)
_BY_NAME = {s.name: s for s in STAGES}


def get_stage(name: str) -> StageSpec:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown stage {name!r}; stages: {', '.join(STAGE_NAMES)}") from None


def stage_dir(run_dir: Path | str, name: str) -> Path:
    """The output folder of stage ``name`` in the run folder ``run_dir``."""
    return Path(run_dir) / get_stage(name).folder
