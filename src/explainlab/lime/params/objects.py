"""What lime's ``explain_instance`` accepts here, and the objects a parameter set holds:
lime's ``SegmentationAlgorithm`` and scikit-learn's linear regressors, built strictly."""

from __future__ import annotations

import inspect
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

# What the grader passes itself; never part of the parameters.
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


def plain_value(value: Any) -> Any:
    """numpy scalars and tuples to JSON-able builtins."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple | list):
        return [plain_value(v) for v in value]
    return value


def complete(params: Mapping[str, Any]) -> dict[str, Any]:
    """Every explain_instance parameter, lime's default where not given, in signature order."""
    return {name: params.get(name, default) for name, default in explain_defaults().items()}
