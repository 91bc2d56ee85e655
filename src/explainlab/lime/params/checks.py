"""Every check of one image's parameters (object form): all problems, not only the first,
each an error (lime or the grader would refuse it) or a warning (worth knowing)."""

from __future__ import annotations

import difflib
import math
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from lime.utils.generic_utils import has_arg
from lime.wrappers.scikit_image import SegmentationAlgorithm

from explainlab.lime.params.objects import (
    EXTRA_KEYS,
    FORBIDDEN_KEYS,
    REGRESSORS,
    SEGMENTATION_FUNCTIONS,
    arg_names,
    distance_metrics,
    explain_defaults,
    lime_version,
    plain_value,
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong (``error``) or worth knowing (``warning``) about a parameter set."""

    where: str  # the file and image key
    message: str
    severity: str = "error"
    param: str = ""  # the parameter concerned, if one

    def __str__(self) -> str:
        at = f"{self.where}: {self.param}" if self.param else self.where
        return f"{self.severity}: {at}: {self.message}"


def problem_at(at: tuple[str, str], message: str, severity: str = "error") -> Problem:
    return Problem(at[0], message, severity, at[1])


def errors(problems: Sequence[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool | np.bool_)
        and math.isfinite(float(value))
    )


def check_params(params: Mapping[str, Any], where: str) -> list[Problem]:
    """Every problem of one image's parameters (object form), not only the first."""
    problems: list[Problem] = []
    if not isinstance(params, Mapping):
        return [Problem(where, f"expected a dict of parameters, got {type(params).__name__}")]
    known = explain_defaults()
    for name, value in params.items():
        at = (where, str(name))
        if not isinstance(name, str):
            problems.append(Problem(where, f"parameter names must be strings, got {name!r}"))
        elif name in FORBIDDEN_KEYS:
            problems.append(
                problem_at(
                    at,
                    "must not be in the parameters: explain_instance receives the image and "
                    "the classifier function from the caller; remove it",
                )
            )
        elif name == "progress_bar" and name not in known:
            problems.append(
                problem_at(
                    at,
                    f"lime {lime_version()} (installed here; 0.2.0.1 is the release on PyPI) has "
                    "no progress_bar parameter, although some lime documentation shows it; "
                    "explain_instance would fail with TypeError: remove it",
                )
            )
        elif name in EXTRA_KEYS:
            if not (_is_int(value) and value >= 1):
                problems.append(problem_at(at, f"must be an integer >= 1, got {value!r}"))
        elif name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(
                problem_at(
                    at,
                    f"not a parameter of explain_instance in lime {lime_version()}{hint}; "
                    f"accepted: {', '.join(known)}",
                )
            )
        else:
            problems.extend(_check_value(name, value, at, params))
    return problems


def _check_value(
    name: str, value: Any, at: tuple[str, str], params: Mapping[str, Any]
) -> list[Problem]:
    problems: list[Problem] = []

    def bad(message: str, severity: str = "error") -> None:
        problems.append(problem_at(at, message, severity))

    if name in ("num_samples", "batch_size", "num_features"):
        if not (_is_int(value) and value >= 1):
            bad(f"must be an integer >= 1, got {value!r}")
    elif name == "top_labels":
        if value is not None and not (_is_int(value) and value >= 0):
            bad(f"must be None or an integer >= 1, got {value!r}")
        elif value == 0:
            bad("0 behaves like None: only the classes in labels are explained", "warning")
        elif value is None:
            labels = params.get("labels", explain_defaults()["labels"])
            bad(
                f"None: only the classes in labels {plain_value(labels)} are explained, so the "
                "image's top class may have no explanation",
                "warning",
            )
    elif name == "labels":
        if value is None and params.get("top_labels", explain_defaults()["top_labels"]):
            # a public submission the grader scored had this: lime never reads labels then
            bad("None: unused, since top_labels chooses the classes explained", "warning")
        elif isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
            bad(f"must be a list of class indices, got {value!r}")
        elif len(value) == 0 or not all(_is_int(v) and v >= 0 for v in value):
            bad(f"must be a non-empty list of class indices >= 0, got {plain_value(value)!r}")
    elif name == "hide_color":
        problems.extend(_check_hide_color(value, at))
    elif name == "random_seed":
        if value is None:
            bad(
                "None: lime draws the segmentation seed from the explainer's random state, "
                "so the explanation is not reproducible from these parameters",
                "warning",
            )
        elif not (_is_int(value) and 0 <= value < 2**32):
            bad(f"must be None or an integer in [0, 2**32), got {value!r}")
    elif name == "distance_metric":
        if callable(value):
            bad("a function cannot be pickled portably; use a metric name such as 'cosine'")
        elif not isinstance(value, str) or value not in distance_metrics():
            close = difflib.get_close_matches(str(value), sorted(distance_metrics()), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            bad(
                f"{value!r} is not a metric scikit-learn's pairwise_distances knows{hint}; "
                f"known: {', '.join(sorted(distance_metrics()))}"
            )
    elif name == "segmentation_fn":
        problems.extend(check_segmentation(value, at))
    elif name == "model_regressor":
        problems.extend(check_regressor(value, at))
    return problems


def _check_hide_color(value: Any, at: tuple[str, str]) -> list[Problem]:
    if value is None:
        return []
    values = (
        value if isinstance(value, Sequence | np.ndarray) and not isinstance(value, str) else None
    )
    if values is None:
        values = [value]
    elif len(values) != 3:
        return [
            problem_at(
                at, f"must be None, a number or 3 numbers (R, G, B), got {plain_value(value)!r}"
            )
        ]
    if not all(_is_number(v) and 0 <= v <= 255 for v in values):
        return [
            problem_at(
                at,
                f"colour values must be numbers in [0, 255] (the image is uint8), got {plain_value(value)!r}",
            )
        ]
    return []


def _describe(value: Any) -> str:
    if isinstance(value, types.FunctionType) and value.__name__ == "<lambda>":
        return "a lambda"
    if isinstance(value, types.FunctionType | types.MethodType | types.BuiltinFunctionType):
        return f"the function {value.__module__}.{value.__qualname__}"
    return f"{type(value).__module__}.{type(value).__qualname__}"


def check_segmentation(value: Any, at: tuple[str, str]) -> list[Problem]:
    if value is None:
        return []
    if not isinstance(value, SegmentationAlgorithm):
        return [
            problem_at(
                at,
                f"{_describe(value)} is not allowed: lambdas and local functions cannot be "
                "pickled or unpickled by the grader; use lime.wrappers.scikit_image."
                "SegmentationAlgorithm('quickshift' | 'slic' | 'felzenszwalb', ...)",
            )
        ]
    problems: list[Problem] = []
    algo = getattr(value, "algo_type", None)
    expected = SEGMENTATION_FUNCTIONS.get(algo) if isinstance(algo, str) else None
    if expected is None:
        return [
            problem_at(at, f"algo_type {algo!r} is not one of {', '.join(SEGMENTATION_FUNCTIONS)}")
        ]
    function = getattr(value, "target_fn", None)
    if function is not expected:
        problems.append(
            problem_at(at, f"its target function is {_describe(function)}, not skimage's {algo}")
        )
    target = getattr(value, "target_params", None)
    if not isinstance(target, dict):
        return [*problems, problem_at(at, "target_params must be a dict")]
    for key, item in target.items():
        if not isinstance(key, str) or not has_arg(expected, key):
            problems.append(
                problem_at(
                    at,
                    f"{algo} takes no parameter {key!r}; its parameters: "
                    f"{', '.join(arg_names(expected))}",
                )
            )
        elif callable(item):
            problems.append(problem_at(at, f"{key}: {_describe(item)} is not allowed"))
    if algo == "slic" and target.get("start_label", 1) != 0:
        problems.append(
            problem_at(
                at,
                "slic numbers superpixels from 1 (start_label=1) but lime 0.2.0.1 maps feature "
                "i to superpixel id i, so the last superpixel is never hidden; add start_label=0",
                "warning",
            )
        )
    for key in ("rng", "random_seed", "max_num_iter", "channel_axis"):
        if key in target:
            problems.append(
                problem_at(
                    at,
                    f"{algo} parameter {key!r} is named differently in other scikit-image "
                    "versions: the grader's version may fail with TypeError",
                    "warning",
                )
            )
    return problems


def check_regressor(value: Any, at: tuple[str, str]) -> list[Problem]:
    if value is None:
        return []
    if type(value) not in REGRESSORS.values():
        return [
            problem_at(
                at,
                f"{_describe(value)} is not allowed; use one of scikit-learn's linear "
                f"regressors: {', '.join(REGRESSORS)}",
            )
        ]
    problems = []
    try:
        options = value.get_params(deep=False)
    except Exception as exc:  # a crafted object may lack its attributes
        return [problem_at(at, f"its parameters cannot be read ({exc})")]
    for key in ("alpha", "alpha_1", "alpha_2", "lambda_1", "lambda_2", "epsilon"):
        if key in options and not (_is_number(options[key]) and options[key] >= 0):
            problems.append(problem_at(at, f"{key} must be a number >= 0, got {options[key]!r}"))
    for key, item in options.items():
        if callable(item):
            problems.append(problem_at(at, f"{key}: {_describe(item)} is not allowed"))
    return problems
