"""The stages of a run, each declared once: its name, its output folder under the run
folder, the config table of its settings, its runner, its time estimate and the stages
whose outputs it reads. The pipeline, the manifest, the reports and the bundle take
folder names from here; nothing else types them.

Runners and estimates are named as ``"module:function"`` and imported only when a run
needs them, so this module (and the config that validates ``[run] stages`` with it)
stays free of torch and the stages' libraries. A runner takes the run's
:class:`explainlab.context.Context` and returns a :class:`explainlab.context.StageResult`;
an estimate takes the Context and returns one line (or None), printed on a CPU when,
and only when, the stage has work to do.

The core declares its own stages here; a package (:mod:`explainlab.packages`) adds its
stages with :func:`register_stage` when it is imported, which happens the first time
the registry is read (``STAGES``, ``STAGE_NAMES``, :func:`get_stage`)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import Any

from explainlab import packages


@dataclass(frozen=True, kw_only=True)
class StageSpec:
    name: str
    folder: str  # its output folder, relative to the run folder
    table: str | None  # the run config's table (RunConfig attribute) of its settings
    runner: str  # "module:function(ctx) -> StageResult"
    estimate: str | None  # "module:function(ctx) -> str | None"
    reads: tuple[str, ...]  # the stages whose outputs it reads
    about: str  # one line for --help and the README
    # "module:function(config) -> tuple[str, ...]": the stages it reads under a config
    # besides ``reads`` (a parameter file another stage writes)
    reads_of: str | None = None
    # False: it is built from whichever of its reads' outputs are there
    reads_required: bool = True
    model: str | None = None  # the config table whose model it explains
    # its table is the offline config's when that model stands in (explainlab.fallback)
    stands_in: bool = False

    def load_runner(self) -> Callable[[Any], Any]:
        return resolve_path(self.runner)

    def load_estimate(self) -> Callable[[Any], str | None] | None:
        return resolve_path(self.estimate) if self.estimate else None

    def reads_under(self, config: Any) -> tuple[str, ...]:
        """The stages whose outputs it reads under ``config``."""
        return self.reads + (tuple(resolve_path(self.reads_of)(config)) if self.reads_of else ())


def resolve_path(path: str) -> Callable[..., Any]:
    """``"module:name"`` (or ``"module:Class.attribute"``) imported and looked up."""
    module, _, name = path.partition(":")
    return reduce(getattr, name.split("."), importlib.import_module(module))


# The core's stages, in the order of the data flow (the order a run takes them in); the
# viewer last, after whatever a package adds.
_STAGES: list[StageSpec] = [
    StageSpec(
        name="dissect",
        folder="dissect",
        table="dissect",
        runner="explainlab.dissect.stage:run_stage",
        estimate="explainlab.dissect.stage:estimate",
        reads=(),
        about="label every unit of the chosen layers with a concept (CLIP-Dissect), then analyse",
    ),
    StageSpec(
        name="cam",
        folder="cam",
        table="cam",
        runner="explainlab.cam.stage:run_stage",
        estimate="explainlab.cam.stage:estimate",
        reads=(),
        about="predictions and each chosen CAM method's map per image",
        model="cam",
        stands_in=True,
    ),
    StageSpec(
        name="lime",
        folder="lime",
        table="lime",
        runner="explainlab.lime.stage:run_stage",
        estimate="explainlab.lime.stage:estimate",
        reads=(),
        about="LIME explanations per image, and the parameter pickle",
        reads_of="explainlab.lime.settings:param_reads",  # a parameter file a stage wrote
        model="lime",
        stands_in=True,
    ),
    StageSpec(
        name="compare",
        folder="compare",
        table="compare",
        runner="explainlab.compare.stage:run_stage",
        estimate="explainlab.compare.stage:estimate",
        reads=("cam", "lime"),
        about="agreement of CAM and LIME, complexity, faithfulness, sanity check",
        model="cam",
        stands_in=True,
    ),
    StageSpec(
        name="view",
        folder="view",
        table=None,
        runner="explainlab.view.stage:run_stage",
        estimate=None,
        reads=("dissect", "cam", "lime", "compare"),
        about="the run as static HTML pages (view/index.html), opened from the file system",
        reads_required=False,  # it shows whichever results are there
    ),
]


def register_stage(spec: StageSpec, *, after: str) -> None:
    """Add a package's stage to the data flow right after stage ``after`` (``""``: first)."""
    if any(s.name == spec.name for s in _STAGES):
        raise ValueError(f"stage {spec.name!r} is registered twice")
    at = 0 if not after else [s.name for s in _STAGES].index(after) + 1
    _STAGES.insert(at, spec)


def all_stages() -> tuple[StageSpec, ...]:
    """Every stage, the packages' included, in the order of the data flow."""
    packages.load()
    return tuple(_STAGES)


def stage_names() -> tuple[str, ...]:
    return tuple(s.name for s in all_stages())


def __getattr__(name: str) -> Any:
    # STAGES and STAGE_NAMES are read when used, after the packages have registered
    if name == "STAGES":
        return all_stages()
    if name == "STAGE_NAMES":
        return stage_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_stage(name: str) -> StageSpec:
    for spec in all_stages():
        if spec.name == name:
            return spec
    raise KeyError(f"unknown stage {name!r}; stages: {', '.join(stage_names())}")


def stage_dir(run_dir: Path | str, name: str) -> Path:
    """The output folder of stage ``name`` in the run folder ``run_dir``."""
    return Path(run_dir) / get_stage(name).folder
