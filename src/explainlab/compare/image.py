"""The comparison of one image, analysis by analysis, into its folder ``compare/<key>/``:
agreement of each map with LIME, agreement between every two maps, the image's
complexity, deletion and insertion curves, and the parameter-randomisation sanity check."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from explainlab import masks, runfolder
from explainlab.compare import complexity, faithfulness, figures, sanity
from explainlab.compare.agreement import Agreement, compare_maps
from explainlab.compare.inputs import ImageInputs
from explainlab.compare.pairs import lime_map, pair_frame, pair_rows
from explainlab.compare.sanity import Explainer
from explainlab.compare.settings import LIME, CompareSettings
from explainlab.images import Sample
from explainlab.measures import measures
from explainlab.models import LoadedModel


def rng_for(seed: int, *names: str) -> np.random.Generator:
    """A generator that depends only on the seed and the names (image key, purpose)."""
    return np.random.default_rng([seed, *(zlib.crc32(n.encode()) for n in names)])


def compare_image(
    settings: CompareSettings,
    item: ImageInputs,
    sample: Sample,
    model: LoadedModel | None,
    methods: Sequence[str],
    explainers: Mapping[str, Explainer],
    blocks: Sequence[str],
    folder: Path,
) -> None:
    """Every analysis of one image; ``model`` None skips the ones that need it."""
    target_name = model.class_names[item.target] if model is not None else str(item.target)
    results = agreement(settings, item, sample, methods, target_name, folder)
    pairs(settings, item, list(results), folder)
    primary = settings.primary_method if settings.primary_method in results else next(iter(results))
    info: dict[str, Any] = {
        "key": item.key,
        "target": item.target,
        "target_name": target_name,
        "lime_label": item.lime.label,
        "label_mismatch": item.lime.label != item.target,
        "methods": list(results),
        "complexity": image_complexity(settings, item, sample, results[primary]),
    }
    if settings.faithfulness and model is not None:
        curves(settings, item, sample, model, list(results), folder)
    if explainers and model is not None:
        sanity_check(settings, item, sample, model, explainers, blocks, folder)
    runfolder.write_json(folder / "item.json", info)


def agreement(
    settings: CompareSettings,
    item: ImageInputs,
    sample: Sample,
    methods: Sequence[str],
    target_name: str,
    folder: Path,
) -> dict[str, Agreement]:
    """Each CAM against LIME's mask: the measures, the IoU sweep, and the image's panel."""
    key, lime = item.key, item.lime
    results = {
        m: compare_maps(
            key,
            m,
            item.maps[m],
            lime,
            threshold=settings.threshold,
            sweep=settings.sweep,
            rng=rng_for(settings.seed, key, m, "area"),
        )
        for m in methods
        if m in item.maps
    }
    rows = pd.DataFrame([row for r in results.values() for row in r.rows()])
    sweep = pd.DataFrame(
        [
            {"key": key, "method": m, "threshold": t, "iou": v}
            for m, r in results.items()
            for t, v in zip(settings.sweep, r.sweep, strict=True)
        ]
    )
    runfolder.write_csv(folder / "agreement.csv", rows)
    runfolder.write_csv(folder / "iou_sweep.csv", sweep)
    figures.save_image_panel(
        sample.crop,
        {m: item.maps[m] for m in results},
        lime.mask,
        {m: r.cam_mask for m, r in results.items()},
        {m: r.area_mask for m, r in results.items()},
        {m: (r.values["iou_threshold"], r.values["iou_area"]) for m, r in results.items()},
        settings.threshold,
        f"{key}: CAM vs LIME for '{target_name}'",
        folder / "panel.png",
    )
    return results


def pairs(
    settings: CompareSettings, item: ImageInputs, methods: Sequence[str], folder: Path
) -> None:
    """Every two of the maps (LIME's weight map among them) by every pair measure."""
    maps = {m: item.maps[m] for m in methods} | {LIME: lime_map(item.lime.weight_map())}
    rows = pair_rows(
        item.key,
        maps,
        threshold=settings.threshold,
        top=settings.pair_top,
        rng=lambda method: rng_for(settings.seed, item.key, method, "top"),
    )
    runfolder.write_csv(folder / "pairs.csv", pair_frame(rows))


def image_complexity(
    settings: CompareSettings, item: ImageInputs, sample: Sample, primary: Agreement
) -> dict[str, Any]:
    """The image's complexity measures; the object is proxied by where the primary CAM
    or LIME point."""
    measures = complexity.measure(
        item.key,
        sample.crop,
        primary.cam_mask | item.lime.mask,
        item.top1_prob,
        edge_sigma=settings.edge_sigma,
        colour_levels=settings.colour_levels,
        seed=settings.seed,
    )
    return measures.row()


def curves(
    settings: CompareSettings,
    item: ImageInputs,
    sample: Sample,
    model: LoadedModel,
    methods: Sequence[str],
    folder: Path,
) -> None:
    """Deletion and insertion curves of each CAM, LIME and random orders."""
    key = item.key
    orders = {
        m: masks.rank_order(item.maps[m], rng_for(settings.seed, key, m, "order")) for m in methods
    }
    orders[LIME] = masks.rank_order(
        item.lime.weight_map(), rng_for(settings.seed, key, "lime", "order")
    )
    randoms = faithfulness.random_orders(
        sample.crop.shape[:2],
        settings.random_patch,
        settings.random_repeats,
        rng_for(settings.seed, key, "random"),
    )
    found = faithfulness.curves(
        model,
        sample,
        item.target,
        orders,
        randoms,
        steps=settings.steps,
        deletion_substrate=settings.deletion_substrate,
        insertion_substrate=settings.insertion_substrate,
        batch_size=settings.batch_size,
    )
    by: dict[str, dict[str, faithfulness.Curve]] = {}
    for c in found:
        by.setdefault(c.method, {})[c.kind] = c
    faith = pd.DataFrame(
        [
            {
                "key": key,
                "method": m,
                "target": item.target,
                "p_full": float(by[m]["deletion"].probs[0]),
                **{spec.name: spec.compute(by[m]) for spec in measures("map")},
            }
            for m in by
        ]
    )
    points = pd.DataFrame(
        [
            {"key": key, "method": c.method, "kind": c.kind, "fraction": f, "prob": p}
            for c in found
            for f, p in zip(c.fractions, c.probs, strict=True)
        ]
    )
    runfolder.write_csv(folder / "faithfulness.csv", faith)
    runfolder.write_csv(folder / "curves.csv", points)
    figures.save_curves(points, folder / "curves.png", f"{key}: deletion and insertion")


def sanity_check(
    settings: CompareSettings,
    item: ImageInputs,
    sample: Sample,
    model: LoadedModel,
    explainers: Mapping[str, Explainer],
    blocks: Sequence[str],
    folder: Path,
) -> None:
    """The explainers' maps as the model's blocks are randomised from the top."""
    bar = tqdm(
        total=(len(blocks) + 1) * len(explainers),
        desc=f"sanity {item.key}",
        leave=False,
        unit="map",
    )
    with bar:
        rows, maps = sanity.sanity_check(
            model.module,
            sample,
            item.target,
            explainers,
            blocks,
            seed=settings.seed,
            progress=bar.update,
        )
    runfolder.write_csv(folder / "sanity.csv", pd.DataFrame([r.row() for r in rows]))
    figures.save_sanity_maps(
        sample.crop,
        maps,
        ["original", *blocks],
        f"{item.key}: maps as the model is randomised from the top",
        folder / "sanity.png",
    )
