"""The tuner's candidates (readable form), in groups that share one set of model outputs
(:mod:`explainlab.assignment.sharing`): a group is a segmentation and a hide colour, every
candidate has the run's seed as random_seed, and a group's members are every num_samples,
top_labels, Ridge alpha and num_features of the search space."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

from explainlab.assignment.settings import SearchSpace
from explainlab.lime.params import complete, to_readable

Group = tuple[Any, Any]  # (segmentation_fn, hide_color), readable form
DEFAULT_GROUP: Group = (None, None)  # lime's default segmentation and hide colour


def baseline(seed: int) -> dict[str, Any]:
    """lime's default parameters, with random_seed fixed to the run's seed (the pickle
    fixes it too) so that the baseline shares its model outputs with its ladder."""
    return to_readable(complete({"random_seed": seed}))


def ladder(space: SearchSpace, seed: int) -> list[dict[str, Any]]:
    """lime's defaults with each num_samples of the space: searched on every image,
    whatever the budget (they come from the baseline's own model outputs)."""
    return [
        baseline(seed) | {"num_samples": n, "batch_size": space.batch_size}
        for n in sorted(space.num_samples)
    ]


def groups(space: SearchSpace, seed: int) -> list[Group]:
    """Every (segmentation, hide colour) of the space in the order searched: lime's
    defaults' group first, then the default segmentation's other hide colours (the
    consensus reference segments as lime does by default), then the rest in a seeded
    random order."""
    everything = [
        g for g in itertools.product(space.segmentations, space.hide_colors) if g != DEFAULT_GROUP
    ]
    default_segmentation = [g for g in everything if g[0] is None]
    rest = [g for g in everything if g[0] is not None]
    random.Random(seed).shuffle(rest)
    return [DEFAULT_GROUP, *default_segmentation, *rest]


def members(
    space: SearchSpace, group: Group, seed: int, max_samples: int | None = None
) -> list[dict[str, Any]]:
    """The candidates of ``group`` with at most ``max_samples`` samples (the ladder too,
    for lime's defaults' group), cheapest first."""
    segmentation, hide = group
    found: dict[str, dict[str, Any]] = {}
    if group == DEFAULT_GROUP:
        found |= {json.dumps(c, sort_keys=True): c for c in ladder(space, seed)}
    in_space = segmentation in space.segmentations and hide in space.hide_colors
    for n, top, alpha, nf in itertools.product(
        sorted(space.num_samples), space.top_labels, space.alphas, space.num_features
    ):
        if not in_space:
            break
        candidate = {
            "num_samples": n,
            "batch_size": space.batch_size,
            "segmentation_fn": segmentation,
            "hide_color": hide,
            "top_labels": top,
            "model_regressor": {"class": "Ridge", "alpha": alpha},
            "num_features": nf,
            "random_seed": seed,
        }
        found.setdefault(json.dumps(candidate, sort_keys=True), candidate)
    chosen = [c for c in found.values() if max_samples is None or c["num_samples"] <= max_samples]
    return sorted(chosen, key=lambda c: c["num_samples"])


def group_name(group: Group) -> str:
    segmentation, hide = group
    seg = describe({"segmentation_fn": segmentation})["segmentation"]
    return f"{seg}, hide {'mean' if hide is None else hide}"


def describe(readable: dict[str, Any]) -> dict[str, Any]:
    """Flat columns for the trials table."""
    seg = readable.get("segmentation_fn")
    if isinstance(seg, dict):
        seg_text = (
            seg["algo_type"]
            + "("
            + ", ".join(f"{k}={v}" for k, v in seg.items() if k != "algo_type")
            + ")"
        )
    else:
        seg_text = "quickshift(default)"
    hide = readable.get("hide_color")
    reg = readable.get("model_regressor")
    return {
        "num_samples": readable.get("num_samples"),
        "segmentation": seg_text,
        "hide_color": "mean" if hide is None else hide,
        "top_labels": readable.get("top_labels"),
        "alpha": reg.get("alpha", 1.0) if isinstance(reg, dict) else 1.0,
        "num_features": readable.get("num_features"),
        "batch_size": readable.get("batch_size"),
    }
