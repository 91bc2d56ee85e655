"""The tuner's candidates: readable-form parameter sets drawn from the search space."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from typing import Any

from explainlab.lime.settings import SearchSpace


def candidates(space: SearchSpace, seed: int) -> Iterator[dict[str, Any]]:
    """Readable-form candidates: first lime's defaults made cheaper (fewer samples, larger
    batches, one label), cheapest first, then the rest of the space in a seeded random order."""

    def make(n: int, seg: Any, hide: Any, top: int, alpha: float, nf: int) -> dict[str, Any]:
        return {
            "num_samples": n,
            "batch_size": min(space.batch_size, n),
            "segmentation_fn": seg,
            "hide_color": hide,
            "top_labels": top,
            "model_regressor": {"class": "Ridge", "alpha": alpha},
            "num_features": nf,
            "random_seed": seed,
        }

    core_top = 1 if 1 in space.top_labels else space.top_labels[0]
    core_alpha = 1.0 if 1.0 in space.alphas else space.alphas[0]
    core = [
        (
            n,
            space.segmentations[0],
            space.hide_colors[0],
            core_top,
            core_alpha,
            space.num_features[0],
        )
        for n in sorted(space.num_samples)
    ]
    rest = [
        c
        for c in itertools.product(
            space.num_samples,
            space.segmentations,
            space.hide_colors,
            space.top_labels,
            space.alphas,
            space.num_features,
        )
        if c not in core
    ]
    random.Random(seed).shuffle(rest)
    for combo in core + rest:
        yield make(*combo)


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
