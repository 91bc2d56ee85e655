"""Typed run configuration: TOML tables onto the stages' dataclasses, validated on load.

Each stage owns the dataclass of its own table (``explainlab.cam.settings`` ...); this
module composes them (with the run-wide tables of :mod:`explainlab.settings`) and loads a
config file strictly: unknown keys, wrong types and invalid values are refused with the
table and key named. A package adds its stages' tables (:func:`register_table`). A config
is a path or the name of one a package ships (:mod:`explainlab.configs`). Like the
settings modules, it imports no stage code."""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Sequence
from dataclasses import field
from pathlib import Path
from typing import Any

from explainlab import configs
from explainlab.cam.settings import CamSettings
from explainlab.compare.settings import CompareSettings
from explainlab.dissect.settings import DissectSettings
from explainlab.errors import ConfigError
from explainlab.lime.settings import LimeSettings
from explainlab.settings import ImageSettings, ModelFile, RunSettings, from_table, plain
from explainlab.stages import all_stages, stage_names

# The stages' tables: the core's; a package adds its own with register_table.
_TABLES: dict[str, type] = {
    "dissect": DissectSettings,
    "cam": CamSettings,
    "lime": LimeSettings,
    "compare": CompareSettings,
}


def register_table(name: str, settings: type) -> None:
    """A package's config table ``[name]``, read onto the dataclass ``settings``."""
    if name in _TABLES or name in ("run", "images", "models", "source"):
        raise ValueError(f"config table [{name}] is registered twice")
    _TABLES[name] = settings


class RunConfig:
    """A run's config: ``run``, ``images``, one attribute per stage table (the packages'
    included) and ``models``. Instances are frozen dataclasses of :func:`config_class`."""

    run: RunSettings
    images: ImageSettings
    models: dict[str, ModelFile]  # models of your own, by the name a stage's `model` uses
    source: str  # the file it was read from

    @property
    def run_dir(self) -> Path:
        return Path(self.run.output_root) / self.run.name

    def to_dict(self) -> dict[str, Any]:
        return {
            f.name: plain(getattr(self, f.name))
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if f.name != "source"
        }


_CLASSES: dict[tuple[str, ...], type] = {}


def config_class() -> type[RunConfig]:
    """The dataclass of a run config: run, images, the stages' tables in the order of the
    data flow (then any table without a stage), models."""
    stage_tables = [s.table for s in all_stages() if s.table in _TABLES]
    order = list(dict.fromkeys([*stage_tables, *_TABLES]))
    key = tuple(order)
    if key not in _CLASSES:
        fields: list[tuple[str, Any, Any]] = [
            ("run", RunSettings, field(default_factory=RunSettings)),
            ("images", ImageSettings, field(default_factory=ImageSettings)),
            *((name, _TABLES[name], field(default_factory=_TABLES[name])) for name in order),
            ("models", dict[str, ModelFile], field(default_factory=dict)),
            ("source", str, field(default="")),
        ]
        _CLASSES[key] = dataclasses.make_dataclass(
            "RunConfig", fields, bases=(RunConfig,), frozen=True, namespace={"__module__": __name__}
        )
    return _CLASSES[key]


def default_config(**tables: Any) -> RunConfig:
    """A config of the defaults (with ``tables`` given)."""
    return config_class()(**tables)


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
    config = from_table(config_class(), data, str(path))
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
        ordered = tuple(s for s in stage_names() if s in stages)
        run = from_table(RunSettings, {**plain(run), "stages": list(ordered)}, "--stages")
    if output_root:
        run = dataclasses.replace(run, output_root=output_root)
    if images:
        image_settings = from_table(
            ImageSettings, {**plain(image_settings), "sources": list(images)}, "--images"
        )
    return dataclasses.replace(config, run=run, images=image_settings)
