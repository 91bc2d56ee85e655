"""What ``explain_instance`` accepts (lime's newest, from its repository, and the
lime installed here), and the objects a parameter set holds: lime's
``SegmentationAlgorithm`` and scikit-learn's linear regressors, built strictly.

The contract is lime's newest signature, from its repository
(``..., random_seed=None, progress_bar=True``). lime 0.2.0.1, the last release
on PyPI and the one installed here, lacks ``progress_bar``: a parameter set may hold it
(lime's newest takes it), and every local run (dry run, scoreboard, tuner) drops it."""

from __future__ import annotations

import inspect
import reprlib
import types
from collections.abc import Mapping
from functools import cache
from typing import Any

import numpy as np
from lime.lime_image import LimeImageExplainer
from lime.utils.generic_utils import has_arg
from lime.wrappers.scikit_image import SegmentationAlgorithm
from skimage import segmentation as sk_segmentation
from sklearn import linear_model

from explainlab.errors import ConfigError
from explainlab.versions import package_versions

# What the caller of explain_instance passes itself; never part of the parameters.
FORBIDDEN_KEYS: tuple[str, ...] = ("image", "classifier_fn")
# Keys a parameter file may hold that are not explain_instance arguments.
EXTRA_KEYS: tuple[str, ...] = ("mask_num_features",)
DEFAULTS_TABLE = "defaults"

SEGMENTATION_FUNCTIONS: dict[str, types.FunctionType] = {
    "quickshift": sk_segmentation.quickshift,
    "slic": sk_segmentation.slic,
    "felzenszwalb": sk_segmentation.felzenszwalb,
}
# Linear regressors whose fit() takes sample_weight and that expose coef_ and intercept_,
# as lime's LimeBase requires.
REGRESSORS: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        linear_model.Ridge,
        linear_model.Lasso,
        linear_model.ElasticNet,
        linear_model.LinearRegression,
        linear_model.BayesianRidge,
        linear_model.HuberRegressor,
    )
}


# explain_instance(image, classifier_fn, ...) of lime's newest version (its repository).
LIME_SIGNATURE: dict[str, Any] = {
    "labels": (1,),
    "hide_color": None,
    "top_labels": 5,
    "num_features": 100000,
    "num_samples": 1000,
    "batch_size": 10,
    "segmentation_fn": None,
    "distance_metric": "cosine",
    "model_regressor": None,
    "random_seed": None,
    "progress_bar": True,
}
MODEL_CLASSES = 1000  # the parameters explain an ImageNet classifier: 1000 outputs


def lime_version() -> str:
    return package_versions("lime")["lime"]


@cache
def explain_defaults() -> dict[str, Any]:
    """The installed lime's explain_instance parameters (minus image, classifier_fn) and
    their defaults, in signature order."""
    signature = inspect.signature(LimeImageExplainer.explain_instance)
    return {
        name: p.default
        for name, p in signature.parameters.items()
        if name not in ("self", *FORBIDDEN_KEYS)
    }


def lacking_here() -> tuple[str, ...]:
    """lime's newest explain_instance parameters that the installed lime does not take
    (``progress_bar`` under lime 0.2.0.1): accepted in a parameter set, dropped locally."""
    return tuple(name for name in LIME_SIGNATURE if name not in explain_defaults())


def local_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` without what the installed lime lacks: what a local run may pass."""
    lacking = lacking_here()
    return {name: value for name, value in params.items() if name not in lacking}


@cache
def distance_metrics() -> frozenset[str]:
    """Metric names scikit-learn's pairwise_distances accepts (lime computes distances with it)."""
    from sklearn.metrics import pairwise

    names = set(getattr(pairwise, "_VALID_METRICS", ())) | set(pairwise.distance_metrics())
    names.discard("precomputed")  # lime passes data, not a distance matrix
    return frozenset(names)


def segmentation(algo_type: str, **params: Any) -> SegmentationAlgorithm:
    """lime's SegmentationAlgorithm, refusing parameter names the algorithm does not take
    (lime itself drops them silently, so a typo would go unnoticed)."""
    if algo_type not in SEGMENTATION_FUNCTIONS:
        raise ConfigError(
            f"unknown segmentation algorithm {algo_type!r}",
            hint=f"use one of {', '.join(SEGMENTATION_FUNCTIONS)}",
        )
    function = SEGMENTATION_FUNCTIONS[algo_type]
    unknown = [name for name in params if not has_arg(function, name)]
    if unknown:
        raise ConfigError(
            f"{algo_type} takes no parameter(s) {', '.join(unknown)}",
            hint=f"{algo_type} parameters: {', '.join(arg_names(function))}",
        )
    return SegmentationAlgorithm(algo_type, **params)


def regressor(name: str, **params: Any) -> Any:
    if name not in REGRESSORS:
        raise ConfigError(
            f"model_regressor {name!r} is not an allowed scikit-learn linear regressor",
            hint=f"use one of {', '.join(REGRESSORS)}",
        )
    try:
        return REGRESSORS[name](**params)
    except TypeError as exc:
        raise ConfigError(f"model_regressor {name}: {exc}") from None


def arg_names(function: Any) -> list[str]:
    return [
        n
        for n, p in inspect.signature(function).parameters.items()
        if n != "image"
        and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]


def builtin(value: Any) -> Any:
    """``value`` with numpy scalars and arrays made builtins (an array becomes a tuple),
    and lime's and scikit-learn's objects rebuilt from builtin arguments: what a pickle
    may hold to load under any numpy (a numpy 2 pickle names ``numpy._core``, which
    numpy 1 lacks)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return tuple(builtin(v) for v in value.tolist())
    if isinstance(value, tuple | list | set | frozenset):
        return type(value)(builtin(v) for v in value)
    if isinstance(value, dict):
        return {builtin(k): builtin(v) for k, v in value.items()}
    if isinstance(value, SegmentationAlgorithm):
        return SegmentationAlgorithm(value.algo_type, **builtin(dict(value.target_params)))
    if type(value) in REGRESSORS.values():
        return type(value)(**builtin(value.get_params(deep=False)))
    return value


def portable(params: Mapping[str, Any]) -> dict[str, Any]:
    """One image's parameters as the pickle holds them: builtins only, besides the lime
    and scikit-learn objects a parameter really needs (see :func:`builtin`)."""
    return {str(name): builtin(value) for name, value in params.items()}


_SHOW = reprlib.Repr()
_SHOW.maxlevel, _SHOW.maxstring, _SHOW.maxother, _SHOW.maxlong = 3, 80, 80, 40


def show(value: Any) -> str:
    """A short repr for messages, safe on anything a hostile file holds (deep nesting,
    integers too long to print, objects whose repr fails)."""
    if isinstance(value, int) and value.bit_length() > 128:
        return f"an integer of {value.bit_length()} bits"
    try:
        return _SHOW.repr(value)
    except Exception:  # a crafted object's own repr may fail in any way
        return f"a {type(value).__name__}"


def plain_value(value: Any) -> Any:
    """numpy scalars and tuples to JSON-able builtins."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple | list):
        return [plain_value(v) for v in value]
    return value


def complete(params: Mapping[str, Any], *, newest: bool = False) -> dict[str, Any]:
    """Every explain_instance parameter of the installed lime, its default where not given,
    in signature order: what a local run passes. ``newest``: also those lime's newest
    takes and the installed one lacks, where ``params`` sets them (the pickle keeps them)."""
    full = {name: params.get(name, default) for name, default in explain_defaults().items()}
    if newest:
        full |= {name: params[name] for name in lacking_here() if name in params}
    return full
