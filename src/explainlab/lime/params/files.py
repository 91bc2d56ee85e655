"""Parameter files: an optional ``defaults`` table and one table per image key, in
readable form (TOML or JSON), every problem of every table reported at once."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from explainlab import configs
from explainlab.errors import ConfigError
from explainlab.lime.params.checks import Problem, errors
from explainlab.lime.params.objects import DEFAULTS_TABLE, complete
from explainlab.lime.params.readable import from_readable, to_readable


@dataclass(frozen=True)
class ParamFile:
    """Per-image explain_instance parameters in readable form (see the module docstring)."""

    defaults: dict[str, Any] = field(default_factory=dict)
    images: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = "lime's defaults"

    def readable_for(self, key: str) -> dict[str, Any]:
        return {**self.defaults, **self.images.get(key, {})}

    def params_for(
        self, key: str, *, seed: int | None = None, newest: bool = False
    ) -> tuple[dict[str, Any], int | None]:
        """Fresh objects (every explain_instance argument, in signature order) and the
        file's mask_num_features for ``key`` (None if not given). ``seed`` fills
        random_seed where the file leaves it None. The installed lime's arguments only,
        unless ``newest``: then also those only lime's newest takes (``progress_bar``)
        where the file sets them: what the pickle holds."""
        table = self.readable_for(key)
        mask_k = table.pop("mask_num_features", None)
        params, problems = from_readable(table, f"{self.source}: {key}")
        if errors(problems):  # checked on load; here only if built by hand
            raise ConfigError("\n".join(map(str, errors(problems))))
        full = complete(params, newest=newest)
        if full["random_seed"] is None and seed is not None:
            full["random_seed"] = int(seed)
        return full, mask_k

    def problems(self) -> list[Problem]:
        """Problems of the defaults table, then of each image table (merged with the
        defaults, reported only for the keys the image table sets itself)."""
        _, found = from_readable(self.defaults, f"{self.source}: {DEFAULTS_TABLE}")
        for key, own in self.images.items():
            _, problems = from_readable(self.readable_for(key), f"{self.source}: {key}")
            found.extend(p for p in problems if p.param in own or not p.param)
        return found

    @classmethod
    def from_objects(cls, mapping: Mapping[str, Mapping[str, Any]], source: str) -> ParamFile:
        """From object-form parameters per key (e.g. a checked pickle's content)."""
        return cls({}, {k: to_readable(v) for k, v in mapping.items()}, source)


def load_param_file(path: str | Path | None) -> ParamFile:
    """Read a TOML or JSON parameter file, or a shipped one by name (``lime_params``);
    None or '' gives lime's defaults. Every problem of every table is reported at once."""
    if not path:
        return ParamFile()
    path = configs.resolve(path)
    if not path.is_file():
        raise ConfigError(
            f"{path}: parameter file not found",
            hint="the shipped example is 'lime_params' (explainlab lime --params lime_params)",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        elif path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(
                f"{path}: a parameter file must end in .toml or .json",
                hint="a parameter pickle is checked with 'explainlab lime validate'",
            )
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be parsed ({exc})") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a parameter file") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise ConfigError(f"{path}: cannot be parsed ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table of image keys, got {type(data).__name__}")
    not_tables = [k for k, v in data.items() if not isinstance(v, dict)]
    if not_tables:
        raise ConfigError(
            f"{path}: top-level entries must be tables (defaults or image keys): "
            f"{', '.join(not_tables)} are not",
            hint="put parameters under [defaults] or [<image key>]",
        )
    images = {k: dict(v) for k, v in data.items() if k != DEFAULTS_TABLE}
    param_file = ParamFile(dict(data.get(DEFAULTS_TABLE, {})), images, str(path))
    found = errors(param_file.problems())
    if found:
        raise ConfigError(
            f"{path}: {len(found)} problem(s):\n" + "\n".join(f"  - {p}" for p in found),
            hint="fix the entries named above",
        )
    return param_file
