"""Typed run configuration: TOML tables onto the stages' dataclasses, validated on load.

Each stage owns the dataclass of its own table (``explainlab.cam.settings`` ...); this
module composes them (with the run-wide tables of :mod:`explainlab.settings`) and loads a
config file strictly: unknown keys, wrong types and invalid values are refused with the
table and key named. A config is a path or the name of a shipped one (``assignment``,
``offline``). Like the settings modules, it imports no stage code."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from explainlab import configs
from explainlab.cam.settings import CamSettings
from explainlab.compare.settings import CompareSettings
from explainlab.dissect.settings import DissectSettings
from explainlab.errors import ConfigError
from explainlab.lime.settings import LimeSettings, ScoreboardSettings, TuneSettings
from explainlab.settings import ImageSettings, ModelFile, RunSettings, from_table, plain


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
