"""What every stage of one run shares (:class:`Context`), and what a stage gives back
(:class:`StageResult`). The pipeline makes one Context per run; each stage's runner
(``<stage>/stage.py``, named in :mod:`explainlab.stages`) takes it."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from explainlab.config import RunConfig
from explainlab.errors import MissingAssetsError
from explainlab.images import Failure, ImageSource
from explainlab.lime.settings import param_source
from explainlab.models import LoadedModel, load_model, resolve_device
from explainlab.stages import get_stage, stage_dir


@dataclass
class StageResult:
    summary: list[str]  # lines for the final screen
    skipped: bool = False  # up to date: nothing was computed
    failures: list[Failure] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # key numbers for the manifest


@dataclass(kw_only=True)
class Context:
    """What every stage of one run shares: config, inputs, loaded models."""

    config: RunConfig
    sources: list[ImageSource]
    force: frozenset[str] = frozenset()
    stand_in: str = ""  # why stand-in models replaced the asked ones (banner, manifest)
    dissect_missing: MissingAssetsError | None = None  # what the dissection lacks
    models: dict[str, LoadedModel] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        return self.config.run_dir

    def folder(self, stage: str) -> Path:
        return stage_dir(self.run_dir, stage)

    def forced(self, stage: str) -> bool:
        """``--force stage``: recompute the stage from nothing."""
        return stage in self.force

    def model(self, name: str) -> LoadedModel:
        """The model a stage names: registered, torchvision:/timm:, or a [models] entry."""
        if name not in self.models:
            own = self.config.models.get(name)
            if own is None:
                self.models[name] = load_model(name, self.config.run.device)
            else:
                loaded = load_model(
                    own.file,
                    self.config.run.device,
                    arch=own.arch or None,
                    classes=own.classes or None,
                )
                spec = dataclasses.replace(loaded.spec, name=name)
                self.models[name] = dataclasses.replace(loaded, spec=spec)
        return self.models[name]

    def lime_params(self) -> str:
        """The run's LIME parameter file: one a stage wrote, a file, or '' (defaults)."""
        params = self.config.lime.params
        source = param_source(params)
        return str(self.folder(source.stage) / source.file) if source else params

    def stage_options(self, stage: str) -> dict[str, Any]:
        """What every image stage's runner takes from the run: the image size limit,
        ``--force`` and the hook that announces its work."""
        return {
            "max_pixels": self.config.images.max_pixels,
            "force": self.forced(stage),
            "on_start": self.starting(stage),
        }

    def starting(self, stage: str) -> Callable[[], None]:
        """The hook a stage calls once it knows it has work to do (it is not up to date):
        on a CPU, it prints the stage's time estimate first."""

        def announce() -> None:
            estimate = get_stage(stage).load_estimate()
            if estimate is None or resolve_device(self.config.run.device).type != "cpu":
                return
            line = estimate(self)
            if line:
                print(line, file=sys.stdout, flush=True)

        return announce
