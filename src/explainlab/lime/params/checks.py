"""Every check of one image's parameters (object form): all problems, not only the first,
each an error (lime's newest would refuse it), a warning (it runs, but worth knowing)
or a note (what the lime installed here lacks). Parameters are checked against lime's
newest ``explain_instance`` (its repository's)
(:data:`explainlab.lime.params.objects.LIME_SIGNATURE`), not only the installed one."""

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
    LIME_SIGNATURE,
    MODEL_CLASSES,
    REGRESSORS,
    SEGMENTATION_FUNCTIONS,
    arg_names,
    distance_metrics,
    lacking_here,
    lime_version,
    show,
)

INT64 = 2**63  # lime hands integers to numpy: larger ones cannot be held
MAX_ITERATIONS = 100_000  # a regressor's iterations: 100x scikit-learn's largest default


@dataclass(frozen=True)
class Problem:
    """One thing wrong (``error``) or worth knowing (``warning``) about a parameter set."""

    where: str  # the file and image key
    message: str
    severity: str = "error"  # "error", "warning" or "note"
    param: str = ""  # the parameter concerned, if one

    def __str__(self) -> str:
        at = f"{self.where}: {self.param}" if self.param else self.where
        return f"{self.severity}: {at}: {self.message}"


def problem_at(at: tuple[str, str], message: str, severity: str = "error") -> Problem:
    return Problem(at[0], message, severity, at[1])


def errors(problems: Sequence[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def notes(problems: Sequence[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "note"]


def _is_int(value: Any) -> bool:
    return (
        isinstance(value, int | np.integer)
        and not isinstance(value, bool | np.bool_)
        and -INT64 <= value < INT64
    )


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool | np.bool_)


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool | np.bool_)
        and math.isfinite(float(value))
    )


def check_params(params: Mapping[str, Any], where: str) -> list[Problem]:
    """Every problem of one image's parameters (object form), not only the first."""
    if not isinstance(params, Mapping):
        return [Problem(where, f"expected a dict of parameters, got {type(params).__name__}")]
    problems: list[Problem] = []
    for name, value in params.items():
        at = (where, str(name) if isinstance(name, str) else show(name))
        if not isinstance(name, str):
            problems.append(Problem(where, f"parameter names must be strings, got {show(name)}"))
        elif name in FORBIDDEN_KEYS:
            problems.append(
                problem_at(
                    at,
                    "must not be in the parameters: explain_instance receives the image and "
                    "the classifier function from the caller; remove it",
                )
            )
        elif name in EXTRA_KEYS:
            if not (_is_int(value) and value >= 1):
                problems.append(problem_at(at, f"must be an integer >= 1, got {show(value)}"))
        elif name not in LIME_SIGNATURE:
            close = difflib.get_close_matches(name, list(LIME_SIGNATURE), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(
                problem_at(
                    at,
                    f"not a parameter of explain_instance as the assignment prints it{hint}; "
                    f"accepted: {', '.join(LIME_SIGNATURE)}",
                )
            )
        elif name in lacking_here():
            problems.extend(_check_lacking_here(name, value, at))
        else:
            problems.extend(_check_value(name, value, at, params))
    return problems


def _check_lacking_here(name: str, value: Any, at: tuple[str, str]) -> list[Problem]:
    """A parameter of lime's newest explain_instance that the installed lime lacks."""
    if name == "progress_bar" and not _is_bool(value):
        return [problem_at(at, f"must be True or False, got {show(value)}")]
    return [
        problem_at(
            at,
            f"accepted: lime's newest explain_instance takes it; lime {lime_version()} "
            "installed here has no such argument, so local runs (dry run, score, tune) "
            "drop it",
            "note",
        )
    ]


def _check_value(
    name: str, value: Any, at: tuple[str, str], params: Mapping[str, Any]
) -> list[Problem]:
    problems: list[Problem] = []

    def bad(message: str, severity: str = "error") -> None:
        problems.append(problem_at(at, message, severity))

    if name in ("num_samples", "batch_size", "num_features"):
        if not (_is_int(value) and value >= 1):
            bad(f"must be an integer >= 1 (below 2**63), got {show(value)}")
    elif name == "top_labels":
        problems.extend(_check_top_labels(value, at, params))
    elif name == "labels":
        problems.extend(_check_labels(value, at, params))
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
            bad(f"must be None or an integer in [0, 2**32), got {show(value)}")
    elif name == "distance_metric":
        if callable(value):
            bad("a function cannot be pickled portably; use a metric name such as 'cosine'")
        elif not isinstance(value, str) or value not in distance_metrics():
            close = difflib.get_close_matches(str(show(value)), sorted(distance_metrics()), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            bad(
                f"{show(value)} is not a metric scikit-learn's pairwise_distances knows{hint}; "
                f"known: {', '.join(sorted(distance_metrics()))}"
            )
    elif name == "segmentation_fn":
        problems.extend(check_segmentation(value, at))
    elif name == "model_regressor":
        problems.extend(check_regressor(value, at))
    return problems


def _top_labels_set(params: Mapping[str, Any]) -> bool:
    """lime explains the top classes (and ignores ``labels``) when top_labels is truthy."""
    value = params.get("top_labels", LIME_SIGNATURE["top_labels"])
    try:
        return bool(value)
    except Exception:  # an array's truth is ambiguous: lime would fail on top_labels
        return True


def _check_top_labels(value: Any, at: tuple[str, str], params: Mapping[str, Any]) -> list[Problem]:
    # lime: `if top_labels: top = np.argsort(predictions)[-top_labels:]`, else `labels`
    if _is_bool(value):
        return [
            problem_at(
                at,
                f"{value}: lime takes it for {int(value)}; write {int(value) or None}",
                "warning",
            )
        ]
    if value is not None and not _is_int(value):
        return [problem_at(at, f"must be None or an integer >= 1, got {show(value)}")]
    if value is not None and value <= -MODEL_CLASSES:
        return [problem_at(at, f"{value}: argsort()[{-value}:] leaves no class to explain")]
    if value is not None and value < 0:
        return [
            problem_at(
                at,
                f"{value}: lime explains all classes but the {-value} least likely "
                f"(argsort()[{-value}:]), {MODEL_CLASSES + value} regressions: slow",
                "warning",
            )
        ]
    if not value:
        labels = params.get("labels", LIME_SIGNATURE["labels"])
        return [
            problem_at(
                at,
                f"{value}: only the classes in labels ({show(labels)}) are explained, so the "
                "image's top class may have no explanation",
                "warning",
            )
        ]
    return []


def _class_indices(value: Any) -> bool:
    """A non-empty collection of class indices of an ImageNet model, as lime iterates it
    (numpy indexing: -1 is the last class)."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(
        value, Sequence | set | frozenset | np.ndarray
    ):
        return False
    if isinstance(value, np.ndarray) and value.ndim != 1:
        return False
    return len(value) > 0 and all(_is_int(v) and -MODEL_CLASSES <= v < MODEL_CLASSES for v in value)


def _check_labels(value: Any, at: tuple[str, str], params: Mapping[str, Any]) -> list[Problem]:
    if _top_labels_set(params):
        # lime 0.2.0.1 and its newest: `if top_labels: top = argsort(...)`: labels unused
        if _class_indices(value) and _same_labels(value, LIME_SIGNATURE["labels"]):
            return []
        top = params.get("top_labels", LIME_SIGNATURE["top_labels"])
        return [
            problem_at(
                at,
                f"{show(value)} is accepted but not used: lime ignores labels when top_labels "
                f"is set (top_labels={show(top)}); without top_labels it would have to be a "
                "list of class indices",
                "warning",
            )
        ]
    if _class_indices(value):
        if any(v < 0 for v in value):
            return [
                problem_at(
                    at,
                    f"{show(value)}: negative indices count from the last class (-1 is class "
                    f"{MODEL_CLASSES - 1})",
                    "warning",
                )
            ]
        return []
    if value is None:
        reason = "lime would fail (TypeError: 'NoneType' object is not iterable)"
    else:
        reason = (
            f"lime explains exactly these classes: it needs a non-empty list of class "
            f"indices in [0, {MODEL_CLASSES}) (of an ImageNet model), got {show(value)}"
        )
    return [problem_at(at, f"with top_labels=None (or 0) {reason}")]


def _same_labels(value: Any, other: Any) -> bool:
    try:
        return [int(v) for v in value] == [int(v) for v in other]
    except (TypeError, ValueError):
        return False


def _check_hide_color(value: Any, at: tuple[str, str]) -> list[Problem]:
    if value is None:
        return []
    values = (
        value if isinstance(value, Sequence | np.ndarray) and not isinstance(value, str) else None
    )
    if values is None:
        values = [value]
    elif len(values) != 3:
        return [problem_at(at, f"must be None, a number or 3 numbers (R, G, B), got {show(value)}")]
    if not all(_is_number(v) and 0 <= v <= 255 for v in values):
        return [
            problem_at(
                at,
                f"colour values must be numbers in [0, 255] (the image is uint8), got {show(value)}",
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
                "pickled or unpickled elsewhere; use lime.wrappers.scikit_image."
                "SegmentationAlgorithm('quickshift' | 'slic' | 'felzenszwalb', ...)",
            )
        ]
    problems: list[Problem] = []
    algo = getattr(value, "algo_type", None)
    expected = SEGMENTATION_FUNCTIONS.get(algo) if isinstance(algo, str) else None
    if expected is None:
        return [
            problem_at(
                at, f"algo_type {show(algo)} is not one of {', '.join(SEGMENTATION_FUNCTIONS)}"
            )
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
                    f"{algo} takes no parameter {show(key)}; its parameters: "
                    f"{', '.join(arg_names(expected))}",
                )
            )
        elif callable(item):
            problems.append(problem_at(at, f"{key}: {_describe(item)} is not allowed"))
    problems.extend(_stray_functions(value, at, allowed=("target_fn",)))
    if algo == "slic" and not _equals(target.get("start_label", 1), 0):
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
                    "versions: another machine's version may fail with TypeError",
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
    for key in ("max_iter", "n_iter"):  # lime fits it: a crafted count would never end
        if (
            key in options
            and options[key] is not None
            and not (_is_int(options[key]) and 1 <= options[key] <= MAX_ITERATIONS)
        ):
            problems.append(
                problem_at(
                    at,
                    f"{key} must be an integer in [1, {MAX_ITERATIONS}], got {show(options[key])}",
                )
            )
    for key in ("alpha", "alpha_1", "alpha_2", "lambda_1", "lambda_2", "epsilon"):
        if key in options and not (_is_number(options[key]) and options[key] >= 0):
            problems.append(
                problem_at(at, f"{key} must be a number >= 0, got {show(options[key])}")
            )
    for key, item in options.items():
        if callable(item):
            problems.append(problem_at(at, f"{key}: {_describe(item)} is not allowed"))
    return [*problems, *_stray_functions(value, at)]


def _stray_functions(
    value: Any, at: tuple[str, str], allowed: tuple[str, ...] = ()
) -> list[Problem]:
    """A crafted pickle can give an allowed object attributes that are functions (one
    shadowing ``fit``, say), which lime would then call: refused."""
    try:
        attributes = dict(vars(value))
    except TypeError:
        return []
    return [
        problem_at(at, f"its attribute {show(name)} holds {_describe(item)}, which is not allowed")
        for name, item in attributes.items()
        if callable(item) and name not in allowed
    ]


def _equals(value: Any, expected: Any) -> bool:
    try:
        return bool(value == expected)
    except Exception:  # an array or a crafted object compares in its own way
        return False
