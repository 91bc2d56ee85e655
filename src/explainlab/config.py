"""Typed run configuration: TOML tables onto the stages' dataclasses, validated on load.

Each stage owns the dataclass of its own table (``explainlab.cam.settings`` ...); this
module composes them (with the run-wide tables of :mod:`explainlab.settings`) and loads a
config file strictly: unknown keys, wrong types and invalid values are refused with the
table and key named. A config is a path or the name of a shipped one (``assignment``,
``offline``). Like the settings modules, it imports no stage code."""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from explainlab import configs
from explainlab.assignment.settings import ScoreboardSettings, TuneSettings
from explainlab.cam.settings import CamSettings
from explainlab.compare.settings import CompareSettings
from explainlab.dissect.settings import DissectSettings
from explainlab.errors import ConfigError
from explainlab.lime.settings import LimeSettings
from explainlab.settings import ImageSettings, ModelFile, RunSettings, from_table, plain
from explainlab.stages import STAGE_NAMES


@dataclass(frozen=True)
class RunConfig:
    run: RunSettings = field(default_factory=RunSettings)
    images: ImageSettings = field(default_factory=ImageSettings)
    dissect: DissectSettings = field(default_factory=DissectSettings)
    cam: CamSettings = field(default_factory=CamSettings)
    tune: TuneSettings = field(default_factory=TuneSettings)
    lime: LimeSettings = field(default_factory=LimeSettings)
    scoreboard: ScoreboardSettings = field(default_factory=ScoreboardSettings)
    compare: CompareSettings = field(default_factory=CompareSettings)
    # models of your own, by the name the stages' `model` uses ([models.<name>])
    models: dict[str, ModelFile] = field(default_factory=dict)
    source: str = ""  # the file it was read from

    @property
    def run_dir(self) -> Path:
        return Path(self.run.output_root) / self.run.name

    def to_dict(self) -> dict[str, Any]:
        return {
            f.name: plain(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.name != "source"
        }


def load_config(spec: str | Path) -> RunConfig:
    """Read a config: a TOML file, or the name of a shipped config (``offline``)."""
    path = configs.resolve(spec)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{spec}: config file not found",
            hint=f"give a TOML file, or one of the shipped configs: {', '.join(configs.names())}",
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    config = from_table(RunConfig, data, str(path))
    return dataclasses.replace(config, source=str(path))


def with_overrides(
    config: RunConfig,
    *,
    stages: Sequence[str] | None = None,
    images: Sequence[str] | None = None,
    output_root: str | None = None,
) -> RunConfig:
    """The config with the command line's choices of stages, images and output folder
    (each checked as in the file)."""
    run, image_settings = config.run, config.images
    if stages:
        ordered = tuple(s for s in STAGE_NAMES if s in stages)
        run = from_table(RunSettings, {**plain(run), "stages": list(ordered)}, "--stages")
    if output_root:
        run = dataclasses.replace(run, output_root=output_root)
    if images:
        image_settings = from_table(
            ImageSettings, {**plain(image_settings), "sources": list(images)}, "--images"
        )
    return dataclasses.replace(config, run=run, images=image_settings)
