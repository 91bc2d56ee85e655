"""The bottom of the configuration: the TOML table -> dataclass converter, and the
settings of the run as a whole (``[run]``, ``[images]``).

Every stage owns the dataclass of its own table (``explainlab.cam.settings`` ...); those
modules, this one and :mod:`explainlab.config` import nothing but the standard library
and each other, so reading a config (or answering ``--help``) never loads torch or a
stage's libraries."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from explainlab.errors import ConfigError
from explainlab.stages import stage_names

T = TypeVar("T")

DEFAULT_MAX_PIXELS = 120_000_000  # larger images are refused (decompression bombs)
MIN_PIXELS = 224 * 224


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    name: str = "default"
    output_root: str = "results"
    device: str = "auto"
    seed: int = 0
    # the stages to run (always in data-flow order); default: all, the packages' included
    stages: tuple[str, ...] = field(default_factory=stage_names)

    def validate(self) -> None:
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise ValueError("name must be a plain folder name")
        if self.device not in ("auto", "cpu") and not self.device.startswith("cuda"):
            raise ValueError("device must be auto, cpu or cuda[:N]")
        known = stage_names()
        unknown = [s for s in self.stages if s not in known]
        if unknown:
            raise ValueError(f"stages must be among {', '.join(known)}; got {unknown}")


@dataclass(frozen=True)
class ImageSettings:
    # "mission" (the ten), mission keys, image files or folders
    sources: tuple[str, ...] = ("mission",)
    max_pixels: int = DEFAULT_MAX_PIXELS

    def validate(self) -> None:
        if not self.sources:
            raise ValueError("sources must name at least one image source")
        if self.max_pixels < MIN_PIXELS:
            raise ValueError("max_pixels must be at least 224*224")


@dataclass(frozen=True)
class ModelFile:
    """A model of your own for a run config (``[models.<name>]``), used by that name in
    any stage's ``model``: a TorchScript file, or a state dict with its architecture."""

    file: str
    arch: str = ""  # torchvision:NAME or timm:NAME, for a state dict
    classes: str = ""  # a file of class names, one a line (default: by the output count)

    def validate(self) -> None:
        if not self.file.strip():
            raise ValueError("file must name a model file")
        if self.arch and self.arch.partition(":")[0] not in ("torchvision", "timm"):
            raise ValueError("arch must be torchvision:NAME or timm:NAME")


def setting(
    default: Any,
    help: str,
    *,
    choices: tuple | Mapping[str, Any] | Callable[[], tuple] | None = None,
    noun: str = "choice",
    aliases: tuple[str, ...] = (),
    metavar: str | None = None,
) -> Any:
    """A field that is also a command-line option (:func:`explainlab.cli_common.add_settings`):
    ``help`` says what it does (with "(default ...)" in its own words where the default
    needs them, else the default is appended); ``choices`` are its allowed values (a tuple,
    a function giving them when the parser is built, or names for values: the option takes
    the names); ``noun`` names one in the refusal of an unknown value; ``aliases`` are
    earlier spellings of the option, field-like names that still work."""
    cli = {"help": help, "choices": choices, "noun": noun, "aliases": aliases, "metavar": metavar}
    return dataclasses.field(default=default, metadata={"cli": cli})


def plain(value: Any) -> Any:
    """A settings dataclass (nested) as JSON-able builtins: fingerprints, manifests."""
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def from_table(cls: type[T], table: dict[str, Any], where: str) -> T:
    """Build dataclass ``cls`` from a TOML table: keys checked, types converted, validated."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table, got {type(table).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and f.name != "source"}  # type: ignore[arg-type]
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}",
            hint=f"known keys: {', '.join(fields)}",
        )
    values = {
        name: _convert(hints[name], table[name], f"{where}: {name}")
        for name in fields
        if name in table
    }
    obj = cls(**values)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        try:
            validate()
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return obj


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return from_table(hint, value, where)  # type: ignore[arg-type]
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(arg, value, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(
            errors[0] if len(errors) == 1 else f"{where}: {value!r} fits none of {hint}"
        )
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        item = args[0] if args else Any
        converted = [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(converted) if origin is tuple else converted
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        if len(args) == 2 and dataclasses.is_dataclass(args[1]):
            return {k: _convert(args[1], v, f"{where}.{k}") for k, v in value.items()}
        return dict(value)
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float) and isinstance(value, bool):
        raise ConfigError(f"{where}: expected {hint.__name__}, got a boolean")
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ConfigError(
            f"{where}: expected {hint.__name__}, got {type(value).__name__} {value!r}"
        )
    return value


def field_default(cls: type, name: str) -> Any:
    """The default of dataclass field ``name`` of ``cls`` (the command line's defaults)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
            break
    raise KeyError(f"{cls.__name__} has no field {name!r} with a default")
