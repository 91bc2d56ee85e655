"""The CAM stage: predictions and one map per method for every image, under ``<run>/cam/``.

Layout (one folder per image key)::

    cam/<key>/<method>.npy     (crop, crop) float32 in [0, 1], on the model's crop
    cam/<key>/<method>_raw.npy a gradient or perturbation method's own attribution
                               (C, crop, crop) float32, captum's (RISE's) as it returns it
    cam/<key>/<method>.png     overlay on the crop
    cam/<key>/panel.png        crop + the overlays, prediction in the title
    cam/<key>/crop.png         the crop the maps lie on
    cam/<key>/item.json        top-5 prediction, target class, layer, its grid (h, w) and
                               channels, seconds and what computed each map (fast or
                               library, and why)
    cam/predictions.csv        top-5 ids, names, probabilities (also copied to <run>/)
    cam/timings.csv            seconds per image per method
    cam/focus.csv, method_agreement.csv, method_summary.csv, pair_summary.csv,
    cam/summary.json           what the maps say, per method and pair (:mod:`summary`), and
    cam/summary.txt            the findings (:mod:`findings`)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from explainlab import runfolder
from explainlab.cam import findings
from explainlab.cam.attributions import attribution_map
from explainlab.cam.figures import save_crop, save_overlay, save_panel
from explainlab.cam.methods import cam_maps_sharing
from explainlab.cam.settings import CamSettings
from explainlab.image_stage import open_image_stage
from explainlab.images import Failure, ImageSource, Sample
from explainlab.methods import get_method, title_of
from explainlab.models import CamTarget, LoadedModel, load_model
from explainlab.settings import DEFAULT_MAX_PIXELS
from explainlab.stages import get_stage

TOP_K = 5


@dataclass(kw_only=True)
class CamOutcome:
    folder: Path
    predictions: pd.DataFrame
    timings: pd.DataFrame
    failures: list[Failure] = field(default_factory=list)
    skipped: bool = False  # the stage was already complete with these settings


def predict(model: LoadedModel, sample: Sample, k: int = TOP_K) -> dict:
    return {
        "key": sample.key,
        "path": str(sample.path),
        "true_id": sample.class_id,
        "true_name": model.class_names[sample.class_id] if sample.class_id is not None else None,
        **model.top_classes(sample.tensor[None], k),
    }


def predictions_frame(items: Sequence[dict]) -> pd.DataFrame:
    rows = []
    for it in items:
        row = {"key": it["key"], "true_id": it["true_id"], "true_name": it["true_name"]}
        for r, (i, n, p) in enumerate(
            zip(it["top_ids"], it["top_names"], it["top_probs"], strict=True), 1
        ):
            row |= {f"top{r}_id": i, f"top{r}_name": n, f"top{r}_prob": round(p, 6)}
        row["top1_correct"] = None if it["true_id"] is None else it["top_ids"][0] == it["true_id"]
        row["target_id"] = it["target_id"]
        rows.append(row)
    return pd.DataFrame(rows)


def timings_frame(items: Sequence[dict], impl: str) -> pd.DataFrame:
    """Seconds per image and method, with the CAM implementation asked for (an
    attribution's own: captum, or ours)."""
    rows = [
        {"key": it["key"], "method": m, "impl": _asked(m, impl, it), "seconds": round(s, 4)}
        for it in items
        for m, s in it["seconds"].items()
    ]
    return pd.DataFrame(rows, columns=["key", "method", "impl", "seconds"])


def _asked(method: str, impl: str, item: dict) -> str:
    if get_method(method).kind == "cam":
        return impl
    return item["impl"][method]["impl"]


def _title(model: LoadedModel, item: dict) -> str:
    name, prob = item["top_names"][0], item["top_probs"][0]
    verdict = ""
    if item["true_id"] is not None:
        verdict = (
            "  ✓ correct"
            if item["top_ids"][0] == item["true_id"]
            else f"  ✗ true: {item['true_name']}"
        )
    target = ""
    if item["target_id"] != item["top_ids"][0]:
        target = f"  |  explained class: {model.class_names[item['target_id']]}"
    return f"{item['key']}: predicted {name} ({prob:.1%}){verdict}{target}  [{model.name}]"


def run_cam(
    settings: CamSettings,
    sources: Sequence[ImageSource],
    run_dir: Path,
    *,
    model: LoadedModel | None = None,
    device: str = "auto",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    force: bool = False,
    on_start: Callable[[], None] | None = None,
) -> CamOutcome:
    """Predictions and one map per method for every image, under ``<run_dir>/cam/``."""
    model = model or load_model(settings.model, device)
    target = model.cam_target(settings.target_layer)
    opened = open_image_stage(
        get_stage("cam").folder,
        settings,
        sources,
        run_dir,
        model=model,
        max_pixels=max_pixels,
        force=force,
        extra={"layer": target.name, "reshape": target.reshape_description},
        on_start=on_start,
    )
    stage, samples, failures = opened.stage, opened.samples, opened.failures
    if opened.up_to_date:
        return _outcome(stage.final, failures, skipped=True)

    for sample in tqdm(samples, desc=f"CAM ({model.name}, {settings.impl})", unit="image"):
        if not stage.has_item(sample.key):
            with stage.item(sample.key) as folder:
                _explain_image(settings, model, target, sample, folder)

    keys = [s.key for s in samples]
    with stage.finishing() as folder:
        items = [json.loads((folder / k / "item.json").read_text()) for k in keys]
        runfolder.write_csv(folder / "predictions.csv", predictions_frame(items))
        runfolder.write_csv(folder / "timings.csv", timings_frame(items, settings.impl))
        findings.write(
            folder, keys, settings.methods, folder, device=model.device.type, where="cam"
        )
    outcome = _outcome(stage.final, failures)
    runfolder.write_csv(Path(run_dir) / "predictions.csv", outcome.predictions)
    return outcome


def _explain_image(
    settings: CamSettings,
    model: LoadedModel,
    target: CamTarget,
    sample: Sample,
    folder: Path,
) -> None:
    """One image's prediction, maps, overlays, panel and item.json into ``folder``."""
    item = predict(model, sample)
    item["target_id"] = (
        settings.target_class if settings.target_class is not None else item["top_ids"][0]
    )
    x = sample.tensor[None].to(model.device)
    maps, seconds, impls = {}, {}, {}
    cams = [m for m in settings.methods if get_method(m).kind == "cam"]
    results = cam_maps_sharing(  # the CAMs one pass serves share it
        cams,
        model.module,
        target.layer,
        x,
        item["target_id"],
        impl=settings.impl,
        batch_size=settings.batch_size,
        scorecam_bf16=settings.scorecam_bf16,
        reshape=target.reshape,
    )
    for method in dict.fromkeys(settings.methods):
        if method in results:
            result, seconds[method] = results[method]
            maps[method] = result.map
            impls[method] = {"impl": result.impl, "note": result.note}
        else:  # a gradient or perturbation attribution, as xl.explain computes it
            start = time.perf_counter()
            found = attribution_map(
                method,
                model.module,
                x,
                item["target_id"],
                settings.attributions,
                crop=sample.crop,
                layer=target.layer,
                reshape=target.reshape,
            )
            seconds[method] = time.perf_counter() - start
            maps[method] = found.map
            impls[method] = {"impl": found.impl, "note": ""}
            runfolder.save_npy(folder / f"{method}_raw.npy", found.raw.numpy())
        runfolder.save_npy(folder / f"{method}.npy", maps[method])
        save_overlay(sample.crop, maps[method], folder / f"{method}.png")
    item["seconds"] = seconds
    item["impl"] = impls  # what computed each map, and why not the fast variant
    item["layer"] = target.name
    item["grid"], item["channels"] = feature_grid(model, target, x)
    item["geometry"] = model.geometry.to_dict()  # the crop every map lies on
    save_crop(sample.crop, folder / "crop.png")
    save_panel(sample.crop, maps, seconds, _title(model, item), folder / "panel.png")
    runfolder.write_json(folder / "item.json", item)


def feature_grid(model: LoadedModel, target: CamTarget, x: torch.Tensor) -> tuple[list, int]:
    """The (h, w) grid and the channels of the target layer's maps for input ``x``: what
    every CAM of the image is a weighted sum of, before it is upsampled to the crop."""
    seen: list[torch.Tensor] = []
    handle = target.layer.register_forward_hook(lambda _m, _i, out: seen.append(out))
    try:
        with torch.no_grad():
            model.module(x)
    finally:
        handle.remove()
    maps = target.reshape(seen[0]) if target.reshape is not None else seen[0]
    return [int(maps.shape[-2]), int(maps.shape[-1])], int(maps.shape[1])


def _outcome(folder: Path, failures: list[Failure], skipped: bool = False) -> CamOutcome:
    return CamOutcome(
        folder=folder,
        predictions=pd.read_csv(folder / "predictions.csv"),
        timings=pd.read_csv(folder / "timings.csv"),
        failures=failures,
        skipped=skipped,
    )


def summary_lines(outcome: CamOutcome) -> list[str]:
    """A short table: one line per image with the prediction and seconds per method."""
    seconds = outcome.timings.pivot_table(index="key", columns="method", values="seconds")
    methods = list(seconds.columns)
    header = f"{'image':28s} {'predicted':28s} {'p':>6s} ok  " + "  ".join(
        f"{title_of(m):>11s}" for m in methods
    )
    lines = [header]
    for _, row in outcome.predictions.iterrows():
        ok = {True: "✓", False: "✗"}.get(row["top1_correct"], "-")
        times = "  ".join(f"{seconds.loc[row['key'], m]:>10.2f}s" for m in methods)
        lines.append(
            f"{row['key']:28.28s} {row['top1_name']:28.28s} {row['top1_prob']:6.3f} {ok:>2s}  {times}"
        )
    return lines
