"""The readable (JSON/TOML) form of parameters and its conversion to and from the
object form (see the package docstring)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lime.wrappers.scikit_image import SegmentationAlgorithm

from explainlab.errors import ConfigError
from explainlab.lime.params.checks import Problem, check_params, problem_at
from explainlab.lime.params.objects import REGRESSORS, plain_value, regressor, segmentation

_NULLABLE = (
    "labels",
    "hide_color",
    "top_labels",
    "segmentation_fn",
    "model_regressor",
    "random_seed",
)


def to_readable(params: Mapping[str, Any]) -> dict[str, Any]:
    """Object form -> JSON-able form (the JSON twin of the pickle)."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, SegmentationAlgorithm):
            out[name] = {"algo_type": value.algo_type} | {
                k: plain_value(v) for k, v in value.target_params.items()
            }
        elif type(value) in REGRESSORS.values():
            defaults = type(value)().get_params(deep=False)
            changed = {
                k: plain_value(v)
                for k, v in value.get_params(deep=False).items()
                if not _same(v, defaults.get(k))
            }
            out[name] = {"class": type(value).__name__} | changed
        else:
            out[name] = plain_value(value)
    return out


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return False


def _is_none(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.lower() == "none")


def from_readable(table: Mapping[str, Any], where: str) -> tuple[dict[str, Any], list[Problem]]:
    """Readable form -> object form, and every problem found (conversion and checks)."""
    params: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, value in table.items():
        at = (where, name)
        if name in _NULLABLE and _is_none(value):
            params[name] = None
        elif name == "segmentation_fn" and isinstance(value, Mapping):
            options = dict(value)
            algo = options.pop("algo_type", None)
            if algo is None:
                problems.append(problem_at(at, "a segmentation table needs algo_type"))
                continue
            try:
                params[name] = segmentation(str(algo), **{k: _tuple(v) for k, v in options.items()})
            except ConfigError as exc:
                problems.append(problem_at(at, str(exc)))
        elif name == "model_regressor" and isinstance(value, Mapping):
            options = dict(value)
            cls = options.pop("class", None)
            if cls is None:
                problems.append(problem_at(at, "a regressor table needs class (e.g. Ridge)"))
                continue
            try:
                params[name] = regressor(str(cls), **options)
            except ConfigError as exc:
                problems.append(problem_at(at, str(exc)))
        elif name in ("labels", "hide_color") and isinstance(value, list):
            params[name] = tuple(value)
        else:
            params[name] = value
    problems.extend(check_params(params, where))
    return params, problems


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
