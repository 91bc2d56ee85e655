"""The compare stage: agreement, complexity, faithfulness and sanity, under ``<run>/compare/``.

Layout::

    compare/<key>/                 per image: panel.png (masks and overlaps),
                                   curves.png, sanity.png, and its rows as CSV / JSON
    compare/agreement.csv          key, method, measure, value (image x method x measure)
    compare/iou_sweep.csv          key, method, threshold, iou
    compare/complexity.csv         complexity measures per image, with the IoUs
    compare/correlations.csv       Spearman's rho and p of each measure with IoU
    compare/faithfulness.csv       key, method, target, p_full, deletion_auc, insertion_auc
    compare/faithfulness_curves.csv, faithfulness_summary.csv
    compare/sanity.csv             key, method, step, block, spearman, ssim
    compare/iou_bars.png, iou_sweep.png, complexity_scatter.png,
    compare/faithfulness_curves.png, faithfulness_auc.png, sanity.png
    compare/summary.txt, summary.json
"""

from __future__ import annotations

import hashlib
import json
import shutil
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from explainlab import __version__, runfolder
from explainlab.cam.settings import METHODS as CAM_METHODS
from explainlab.compare import complexity, faithfulness, figures, masks, sanity, summary
from explainlab.compare.agreement import compare_maps
from explainlab.compare.explainers import cam_explainer, lime_explainer
from explainlab.compare.inputs import ImageInputs, digests, image_keys, read_image
from explainlab.compare.sanity import Explainer
from explainlab.compare.settings import LIME, CompareSettings
from explainlab.errors import ConfigError, InputError
from explainlab.images import (
    DEFAULT_MAX_PIXELS,
    IMAGENET_GEOMETRY,
    Failure,
    Geometry,
    ImageSource,
    Sample,
    load_sample,
)
from explainlab.models import LoadedModel, load_model


@dataclass
class CompareOutcome:
    folder: Path
    agreement: pd.DataFrame
    faithfulness: pd.DataFrame | None
    sanity: pd.DataFrame | None
    summary: dict[str, Any]
    failures: list[Failure] = field(default_factory=list)
    skipped: bool = False  # the stage was already complete with these settings and inputs


def rng_for(seed: int, *names: str) -> np.random.Generator:
    """A generator that depends only on the seed and the names (image key, purpose)."""
    return np.random.default_rng([seed, *(zlib.crc32(n.encode()) for n in names)])


def cam_stage_info(run_dir: Path) -> dict[str, Any]:
    """What the CAM stage recorded in its fingerprint: model name, impl, batch size."""
    try:
        recorded = runfolder.recorded_settings(Path(run_dir) / "cam")
        return {
            "model": str(recorded["model"]),
            "impl": str(recorded["settings"].get("impl", "fast")),
            "batch_size": int(recorded["settings"].get("batch_size", 32)),
        }
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def default_explainers(
    methods: Sequence[str],
    layer: str,
    model: LoadedModel,
    settings: CompareSettings,
    cam_info: Mapping[str, Any],
) -> dict[str, Explainer]:
    """The CAM methods as the CAM stage ran them, and a plain-lime LIME explainer."""
    out: dict[str, Explainer] = {
        m: cam_explainer(
            m, layer, impl=cam_info.get("impl", "fast"), batch_size=cam_info.get("batch_size", 32)
        )
        for m in methods
    }
    out[LIME] = lime_explainer(
        model.geometry,
        num_samples=settings.lime_samples,
        seed=settings.seed,
        batch_size=settings.lime_batch_size,
    )
    return out


def run_compare(
    settings: CompareSettings,
    run_dir: Path,
    *,
    model: LoadedModel | None = None,
    samples: Sequence[Sample] = (),
    explainers: Mapping[str, Explainer] | None = None,
    device: str = "auto",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    force: bool = False,
) -> CompareOutcome:
    """Compare the CAM and LIME results of ``run_dir`` and write ``<run>/compare/``.

    ``model`` and ``samples`` default to the CAM stage's model and images; ``explainers``
    (for the sanity check) to the CAM methods and a plain-lime LIME explainer. Images
    with missing or bad inputs are reported in ``failures``; the others are compared."""
    run_dir = Path(run_dir)
    keys, failures = image_keys(run_dir)
    inputs: dict[str, ImageInputs] = {}
    for key in keys:
        try:
            inputs[key] = read_image(run_dir, key, settings.cam_methods)
        except InputError as exc:
            failures.append(Failure(key, run_dir / "cam" / key, str(exc)))
    methods = [m for m in CAM_METHODS if any(m in i.maps for i in inputs.values())]

    cam_info = cam_stage_info(run_dir)
    needs_model = settings.faithfulness or settings.sanity
    if model is not None and cam_info.get("model") not in (None, model.name):
        raise ConfigError(
            f"the CAM stage of {run_dir} used {cam_info['model']}, not {model.name}",
            hint="compare with the model that made the maps",
        )
    model_name = model.name if model is not None else cam_info.get("model")
    if needs_model and model_name is None:
        raise InputError(
            f"{run_dir / 'cam'}: cannot tell which model the CAM stage used",
            hint="pass the model (--model on the command line)",
        )
    given = {s.key: s for s in samples}
    loaded: dict[str, Sample] = {}
    for key in list(inputs):
        try:
            loaded[key] = given.get(key) or _load_sample(inputs[key], model, max_pixels)
        except InputError as exc:
            failures.append(Failure(key, Path(inputs[key].cam_item.get("path", "")), str(exc)))
            del inputs[key]
    if not inputs:
        raise InputError(
            f"{run_dir}: no image has usable CAM and LIME results",
            hint="; ".join(f"{f.key}: {f.error}" for f in failures[:3])
            or "run the CAM and LIME stages",
        )
    keys = [k for k in keys if k in inputs]
    # The pipeline may pass some explainers (the LIME stage's); the others are ours.
    given_explainers = dict(explainers or {})
    sanity_methods: list[str] = []
    if settings.sanity:
        sanity_methods = list(settings.sanity_methods) or [*methods, LIME]

    stage = runfolder.Stage(
        run_dir,
        "compare",
        {
            "settings": asdict(settings),
            "model": model_name if needs_model else None,
            "inputs": [[str(p.relative_to(run_dir)), d] for p, d in _input_digests(inputs)],
            "crops": {k: _crop_digest(loaded[k]) for k in keys},
            "explainers_given": sorted(given_explainers),
            "versions": {"explainlab": __version__, "torch": torch.__version__},
        },
    )
    if stage.complete and not force:
        return _outcome(stage.final, failures, skipped=True)
    if force and stage.partial.exists():
        shutil.rmtree(stage.partial)

    if needs_model and model is None:
        model = load_model(str(model_name), device)
    sanity_explainers: dict[str, Explainer] = {}
    blocks: list[str] = []
    if sanity_methods:
        assert model is not None
        layer = str(next(iter(inputs.values())).cam_item.get("layer") or model.spec.target_layer)
        available = default_explainers(methods, layer, model, settings, cam_info)
        available.update(given_explainers)
        missing = [m for m in sanity_methods if m not in available]
        if missing:
            raise ConfigError(
                f"sanity_methods {missing} have no explainer",
                hint=f"explainers available: {', '.join(available)}",
            )
        sanity_explainers = {m: available[m] for m in sanity_methods}
        blocks = list(settings.sanity_blocks) or sanity.cascade_blocks(model.module)
        if settings.sanity_max_steps:
            blocks = blocks[: settings.sanity_max_steps]
    sanity_keys = set(keys[: settings.sanity_images] if settings.sanity_images else keys)

    for key in tqdm(keys, desc="compare", unit="image"):
        if stage.has_item(key):
            continue
        with stage.item(key) as folder:
            _compare_image(
                settings,
                inputs[key],
                loaded[key],
                model,
                methods,
                sanity_explainers if key in sanity_keys else {},
                blocks,
                folder,
            )

    with stage.finishing() as folder:
        _finish(settings, folder, keys, methods, model, failures)
    return _outcome(stage.final, failures)


def _crop_digest(sample: Sample) -> str:
    return hashlib.sha256(sample.crop.tobytes()).hexdigest()[:16]


def _input_digests(inputs: Mapping[str, ImageInputs]) -> list[tuple[Path, str]]:
    paths = [p for i in inputs.values() for p in i.files]
    return [(Path(p), d) for p, d in digests(paths)]


def _load_sample(item: ImageInputs, model: LoadedModel | None, max_pixels: int) -> Sample:
    """The image on the crop its CAM maps lie on (the geometry the CAM stage recorded)."""
    path = item.cam_item.get("path")
    if not path:
        raise InputError(f"cam/{item.key}/item.json: no image path", hint="rerun the CAM stage")
    recorded = item.cam_item.get("geometry")
    if recorded:
        geometry = Geometry.from_dict(recorded)
    else:  # a run folder from before geometries were recorded
        geometry = model.geometry if model is not None else IMAGENET_GEOMETRY
    source = ImageSource(item.key, Path(path), item.cam_item.get("true_id"))
    return load_sample(source, geometry, max_pixels=max_pixels)


def _compare_image(
    settings: CompareSettings,
    item: ImageInputs,
    sample: Sample,
    model: LoadedModel | None,
    methods: Sequence[str],
    explainers: Mapping[str, Explainer],
    blocks: Sequence[str],
    folder: Path,
) -> None:
    key, lime = item.key, item.lime
    # Agreement of each CAM with LIME.
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
    agreement = pd.DataFrame([row for r in results.values() for row in r.rows()])
    sweep = pd.DataFrame(
        [
            {"key": key, "method": m, "threshold": t, "iou": v}
            for m, r in results.items()
            for t, v in zip(settings.sweep, r.sweep, strict=True)
        ]
    )
    runfolder.write_csv(folder / "agreement.csv", agreement)
    runfolder.write_csv(folder / "iou_sweep.csv", sweep)
    target_name = model.class_names[item.target] if model is not None else str(item.target)
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

    # Complexity: the object is proxied by where the primary CAM or LIME point.
    primary = settings.primary_method if settings.primary_method in results else next(iter(results))
    measures = complexity.measure(
        key,
        sample.crop,
        results[primary].cam_mask | lime.mask,
        item.top1_prob,
        edge_sigma=settings.edge_sigma,
        colour_levels=settings.colour_levels,
        seed=settings.seed,
    )
    info: dict[str, Any] = {
        "key": key,
        "target": item.target,
        "target_name": target_name,
        "lime_label": lime.label,
        "label_mismatch": lime.label != item.target,
        "methods": list(results),
        "complexity": measures.row(),
    }

    if settings.faithfulness and model is not None:
        orders = {
            m: masks.rank_order(item.maps[m], rng_for(settings.seed, key, m, "order"))
            for m in results
        }
        orders[LIME] = masks.rank_order(
            lime.weight_map(), rng_for(settings.seed, key, "lime", "order")
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
        curve_rows = [
            {"key": key, "method": c.method, "kind": c.kind, "fraction": f, "prob": p}
            for c in found
            for f, p in zip(c.fractions, c.probs, strict=True)
        ]
        by = {(c.method, c.kind): c for c in found}
        faith = pd.DataFrame(
            [
                {
                    "key": key,
                    "method": m,
                    "target": item.target,
                    "p_full": float(by[(m, "deletion")].probs[0]),
                    "deletion_auc": by[(m, "deletion")].auc,
                    "insertion_auc": by[(m, "insertion")].auc,
                }
                for m in dict.fromkeys(c.method for c in found)
            ]
        )
        curves = pd.DataFrame(curve_rows)
        runfolder.write_csv(folder / "faithfulness.csv", faith)
        runfolder.write_csv(folder / "curves.csv", curves)
        figures.save_curves(curves, folder / "curves.png", f"{key}: deletion and insertion")

    if explainers and model is not None:
        bar = tqdm(
            total=(len(blocks) + 1) * len(explainers), desc=f"sanity {key}", leave=False, unit="map"
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
        runfolder.write_csv(folder / "sanity.csv", pd.DataFrame([asdict(r) for r in rows]))
        figures.save_sanity_maps(
            sample.crop,
            maps,
            ["original", *blocks],
            f"{key}: maps as the model is randomised from the top",
            folder / "sanity.png",
        )
    runfolder.write_json(folder / "item.json", info)


def _concat(folder: Path, keys: Sequence[str], name: str) -> pd.DataFrame | None:
    parts = [pd.read_csv(folder / k / name) for k in keys if (folder / k / name).is_file()]
    return pd.concat(parts, ignore_index=True) if parts else None


def _finish(
    settings: CompareSettings,
    folder: Path,
    keys: list[str],
    methods: list[str],
    model: LoadedModel | None,
    failures: list[Failure],
) -> None:
    items = [json.loads((folder / k / "item.json").read_text()) for k in keys]
    agreement = _concat(folder, keys, "agreement.csv")
    sweep = _concat(folder, keys, "iou_sweep.csv")
    assert agreement is not None and sweep is not None
    runfolder.write_csv(folder / "agreement.csv", agreement)
    runfolder.write_csv(folder / "iou_sweep.csv", sweep)

    iou = {
        m: agreement[(agreement["method"] == m) & (agreement["measure"] == "iou_area")].set_index(
            "key"
        )["value"]
        for m in methods
    }
    comp = pd.DataFrame([it["complexity"] for it in items])
    table = comp.copy()
    for m in methods:
        table[f"iou_area_{m}"] = table["key"].map(iou[m])
    runfolder.write_csv(folder / "complexity.csv", table)
    corr = complexity.correlations(comp, iou)
    runfolder.write_csv(folder / "correlations.csv", corr)
    primary = settings.primary_method if settings.primary_method in methods else methods[0]
    answer = complexity.answer(
        corr[corr["method"] == primary], iou[primary], figures.title(primary)
    )

    figures.save_iou_bars(agreement, primary, folder / "iou_bars.png")
    figures.save_sweep(sweep, folder / "iou_sweep.png")
    figures.save_complexity_scatter(
        comp,
        iou[primary],
        corr[corr["method"] == primary],
        primary,
        folder / "complexity_scatter.png",
    )

    faith = _concat(folder, keys, "faithfulness.csv")
    if faith is not None:
        curves = _concat(folder, keys, "curves.csv")
        assert curves is not None
        runfolder.write_csv(folder / "faithfulness.csv", faith)
        runfolder.write_csv(folder / "faithfulness_curves.csv", curves)
        runfolder.write_csv(folder / "faithfulness_summary.csv", summary.faithfulness_table(faith))
        figures.save_curves(
            curves,
            folder / "faithfulness_curves.png",
            f"Deletion and insertion, mean over {faith['key'].nunique()} images",
        )
        figures.save_auc_summary(faith, folder / "faithfulness_auc.png")
    sanity_rows = _concat(folder, keys, "sanity.csv")
    if sanity_rows is not None:
        runfolder.write_csv(folder / "sanity.csv", sanity_rows)
        figures.save_sanity(sanity_rows, folder / "sanity.png")

    numbers = summary.key_numbers(
        model=model.name if model is not None else None,
        keys=keys,
        methods=methods,
        primary=primary,
        agreement=agreement,
        correlations=corr,
        answer=answer,
        faithfulness=faith,
        sanity=sanity_rows,
        label_mismatches=[it["key"] for it in items if it["label_mismatch"]],
        failures=[f"{f.key}: {f.error}" for f in failures],
    )
    runfolder.write_json(folder / "summary.json", numbers)
    runfolder.write_text(folder / "summary.txt", summary.text(numbers))


def _outcome(folder: Path, failures: list[Failure], skipped: bool = False) -> CompareOutcome:
    def table(name: str) -> pd.DataFrame | None:
        return pd.read_csv(folder / name) if (folder / name).is_file() else None

    agreement = table("agreement.csv")
    assert agreement is not None
    return CompareOutcome(
        folder,
        agreement,
        table("faithfulness.csv"),
        table("sanity.csv"),
        json.loads((folder / "summary.json").read_text()),
        failures,
        skipped,
    )


def summary_lines(outcome: CompareOutcome) -> list[str]:
    return summary.text(outcome.summary).rstrip("\n").splitlines()
