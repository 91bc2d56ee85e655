"""Settings of the LIME stage: ``[lime]`` of a run config, and what packages add to it: named
parameter files that another stage writes, and more files the stage writes as it finishes.

Plain dataclasses that import nothing but the standard library, so the command line and
the config loader read them without loading lime, torch or scikit-learn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from explainlab import packages
from explainlab.settings import setting

EXPLAINERS: tuple[str, ...] = ("fast", "lime")
DEFAULT_MASK_K = 5  # get_image_and_mask's num_features default


@dataclass(frozen=True, kw_only=True)
class LimeSettings:
    model: str = "resnet50"
    # empty: lime's own defaults for every image
    params: str = setting(
        "",
        "parameter file (TOML or JSON) with explain_instance arguments per image "
        "(default: lime's defaults; 'lime_params' is the shipped example)",
    )
    explainer: str = setting(
        "fast",
        "fast: our vectorised explainer, identical results; lime: lime's own",
        choices=EXPLAINERS,
    )
    # lime 0.2.0.1 needs both seeds: random_state (the sampling), random_seed (the segmentation)
    seed: int = setting(
        0,
        "seeds the sampling (explainer random_state) and random_seed where the file has none",
    )
    target_class: int | None = setting(None, "class index to explain (default: each image's top-1)")
    mask_num_features: int = setting(
        DEFAULT_MASK_K,
        "K superpixels in mask.npy, get_image_and_mask's num_features (default %(default)s; "
        "a file's mask_num_features wins)",
        aliases=("mask_features",),
    )

    def validate(self) -> None:
        if self.explainer not in EXPLAINERS:
            raise ValueError(f"explainer must be one of {', '.join(EXPLAINERS)}")
        if self.mask_num_features < 1:
            raise ValueError("mask_num_features must be at least 1")
        if self.target_class is not None and self.target_class < 0:
            raise ValueError("target_class must be a class index >= 0")
        if self.seed < 0:
            raise ValueError("seed must be >= 0")


@dataclass(frozen=True)
class ParamSource:
    """A parameter file another stage of the run writes, named in ``[lime] params``."""

    stage: str
    file: str  # relative to that stage's folder


_PARAM_SOURCES: dict[str, ParamSource] = {}
# "module:function(param_file, folder, seed) -> None": files a package adds to the lime
# stage's folder as it finishes, each with its line for the summary ({folder}: the folder)
_OUTPUTS: list[tuple[str, str]] = []


def register_param_source(name: str, source: ParamSource) -> None:
    """``[lime] params = name`` means ``source``'s file (read after its stage ran)."""
    _PARAM_SOURCES[name] = source


def register_output(writer: str, line: str) -> None:
    """Have the lime stage call ``writer`` as it finishes (``line``: for the summary)."""
    if (writer, line) not in _OUTPUTS:
        _OUTPUTS.append((writer, line))


def param_source(params: str) -> ParamSource | None:
    packages.load()
    return _PARAM_SOURCES.get(params)


def param_reads(config: Any) -> tuple[str, ...]:
    """The stage whose parameter file ``[lime] params`` names, if one does."""
    source = param_source(config.lime.params)
    return (source.stage,) if source else ()


def outputs() -> list[tuple[str, str]]:
    packages.load()
    return list(_OUTPUTS)
