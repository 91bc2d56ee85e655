"""The compare stage: agreement, complexity, faithfulness and sanity, under ``<run>/compare/``.

Layout::

    compare/<key>/                 per image: panel.png (masks and overlaps),
                                   curves.png, sanity.png, and its rows as CSV / JSON
    compare/agreement.csv          key, method, measure, value (image x method x measure)
    compare/pairs.csv              key, method_a, method_b, measure, value: every two
                                   methods' maps (LIME's weight map among them)
    compare/pair_means.csv         measure, method_a, method_b, images, mean, min, max
    compare/pair_matrix.png        the method-by-method matrix of the pairs' means
    compare/iou_sweep.csv          key, method, threshold, iou
    compare/complexity.csv         complexity measures per image, with the IoUs
    compare/correlations.csv       Spearman's rho and p of each measure with IoU
    compare/faithfulness.csv       key, method, target, p_full, deletion_auc, insertion_auc
    compare/faithfulness_curves.csv, faithfulness_summary.csv
    compare/sanity.csv             key, method, step, block, spearman, ssim
    compare/ceiling.csv            key, iou_area_ceiling: the IoU the CAM grid allows
    compare/overview.png           report 4's key figure (IoU per image, complexity rho)
    compare/iou_bars.png, iou_sweep.png, complexity_scatter.png,
    compare/faithfulness_curves.png, faithfulness_auc.png, sanity.png
    compare/summary.txt, summary.json

One image's analyses are in :mod:`explainlab.compare.image`, the run-wide tables in
:mod:`explainlab.compare.tables`; this module reads the inputs, decides what is up to
date and runs the images."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from explainlab import runfolder
from explainlab.attributions.settings import AttributionSettings
from explainlab.cam.settings import map_method_names
from explainlab.compare import grid, sanity, summary
from explainlab.compare.explainers import attribution_explainer, cam_explainer, lime_explainer
from explainlab.compare.findings import CompareFindings
from explainlab.compare.image import compare_image, rng_for
from explainlab.compare.inputs import ImageInputs, digests, image_keys, read_image
from explainlab.compare.sanity import Explainer
from explainlab.compare.settings import LIME, CompareSettings
from explainlab.compare.tables import Resolution, write_all
from explainlab.errors import ConfigError, InputError
from explainlab.images import (
    IMAGENET_GEOMETRY,
    MISSION_KEYS,
    Failure,
    Geometry,
    ImageSource,
    Sample,
    load_sample,
    mission_sources,
)
from explainlab.methods import get_method
from explainlab.models import LoadedModel, load_model
from explainlab.settings import DEFAULT_MAX_PIXELS, plain
from explainlab.stages import get_stage, stage_dir
from explainlab.versions import package_versions


@dataclass(kw_only=True)
class CompareOutcome:
    folder: Path
    agreement: pd.DataFrame
    faithfulness: pd.DataFrame | None
    sanity: pd.DataFrame | None
    summary: dict[str, Any]
    failures: list[Failure] = field(default_factory=list)
    skipped: bool = False  # the stage was already complete with these settings and inputs


def cam_stage_info(run_dir: Path) -> dict[str, Any]:
    """What the CAM stage recorded in its fingerprint: model name, impl, batch size, and
    the attributions' settings (defaults for a stage recorded before it had them)."""
    try:
        recorded = runfolder.recorded_settings(stage_dir(run_dir, "cam"))
        return {
            "model": str(recorded["model"]),
            "impl": str(recorded["settings"].get("impl", "fast")),
            "batch_size": int(recorded["settings"].get("batch_size", 32)),
            "attributions": AttributionSettings(**recorded["settings"].get("attributions", {})),
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
    """The methods as the CAM stage ran them (CAMs, gradient and perturbation
    attributions), and a plain-lime LIME explainer."""
    reshape = model.cam_target(layer).reshape
    attributions = cam_info.get("attributions") or AttributionSettings()
    out: dict[str, Explainer] = {
        m: (
            cam_explainer(
                m,
                layer,
                impl=cam_info.get("impl", "fast"),
                batch_size=cam_info.get("batch_size", 32),
                reshape=reshape,
            )
            if get_method(m).kind == "cam"
            else attribution_explainer(m, layer, attributions, reshape=reshape)
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
    on_start: Callable[[], None] | None = None,
) -> CompareOutcome:
    """Compare the CAM and LIME results of ``run_dir`` and write ``<run>/compare/``.

    ``model`` and ``samples`` default to the CAM stage's model and images; ``explainers``
    (for the sanity check) to the CAM methods and a plain-lime LIME explainer. Images
    with missing or bad inputs are reported in ``failures``; the others are compared."""
    run_dir = Path(run_dir)
    inputs, failures = _read_inputs(run_dir, settings)
    methods = [m for m in map_method_names() if any(m in i.maps for i in inputs.values())]
    cam_info = cam_stage_info(run_dir)
    model_name = _model_name(run_dir, model, cam_info, settings)
    loaded = _samples(inputs, samples, model, max_pixels, failures)
    if not inputs:
        raise InputError(
            f"{run_dir}: no image has usable CAM and LIME results",
            hint="; ".join(f"{f.key}: {f.error}" for f in failures[:3])
            or "run the CAM and LIME stages",
        )
    keys = list(inputs)
    given_explainers = dict(explainers or {})  # the pipeline passes the LIME stage's
    stage = runfolder.Stage(
        run_dir,
        get_stage("compare").folder,
        {
            "settings": plain(settings),
            "model": model_name if _needs_model(settings) else None,
            "inputs": [[str(p.relative_to(run_dir)), d] for p, d in _input_digests(inputs)],
            "crops": {k: _crop_digest(loaded[k]) for k in keys},
            "explainers_given": sorted(given_explainers),
            "versions": package_versions("torch"),
        },
        items=keys,
    )
    if force:
        stage.reset()
    if stage.complete and not force:
        return _outcome(stage.final, failures, skipped=True)
    if on_start is not None:
        on_start()
    if _needs_model(settings) and model is None:
        model = load_model(str(model_name), device)
    sanity_explainers, blocks = _sanity_setup(
        settings, inputs, model, methods, cam_info, given_explainers
    )
    sanity_keys = set(keys[: settings.sanity_images] if settings.sanity_images else keys)
    for key in tqdm(keys, desc="compare", unit="image"):
        if stage.has_item(key):
            continue
        with stage.item(key) as folder:
            chosen = sanity_explainers if key in sanity_keys else {}
            compare_image(
                settings, inputs[key], loaded[key], model, methods, chosen, blocks, folder
            )
    resolution = grid_resolution(settings, inputs, model)
    with stage.finishing() as folder:
        write_all(settings, folder, keys, methods, model, failures, resolution)
    return _outcome(stage.final, failures)


def grid_resolution(
    settings: CompareSettings, inputs: Mapping[str, ImageInputs], model: LoadedModel | None
) -> Resolution | None:
    """The CAM layer's grid and, per image, the IoU that grid allows against LIME's mask
    (None without a model to read the grid from)."""
    if model is None or not inputs:
        return None
    layer = next(iter(inputs.values())).cam_item.get("layer") or None
    size = grid.cam_grid(model, layer)
    ceilings = {
        key: grid.ceiling_iou(item.lime.mask, size, rng_for(settings.seed, key, "ceiling"))
        for key, item in inputs.items()
    }
    return Resolution(size, ceilings, crop=model.geometry.crop)


def _needs_model(settings: CompareSettings) -> bool:
    return settings.faithfulness or settings.sanity


def _read_inputs(
    run_dir: Path, settings: CompareSettings
) -> tuple[dict[str, ImageInputs], list[Failure]]:
    keys, failures = image_keys(run_dir)
    inputs: dict[str, ImageInputs] = {}
    for key in keys:
        try:
            inputs[key] = read_image(run_dir, key, settings.cam_methods)
        except InputError as exc:
            failures.append(Failure(key, stage_dir(run_dir, "cam") / key, str(exc)))
    return inputs, failures


def _model_name(
    run_dir: Path,
    model: LoadedModel | None,
    cam_info: Mapping[str, Any],
    settings: CompareSettings,
) -> str | None:
    """The model that made the maps (given, or recorded by the CAM stage)."""
    if model is not None and cam_info.get("model") not in (None, model.name):
        raise ConfigError(
            f"the CAM stage of {run_dir} used {cam_info['model']}, not {model.name}",
            hint="compare with the model that made the maps",
        )
    name = model.name if model is not None else cam_info.get("model")
    if _needs_model(settings) and name is None:
        raise InputError(
            f"{stage_dir(run_dir, 'cam')}: cannot tell which model the CAM stage used",
            hint="pass the model (--model on the command line)",
        )
    return name


def _samples(
    inputs: dict[str, ImageInputs],
    given: Sequence[Sample],
    model: LoadedModel | None,
    max_pixels: int,
    failures: list[Failure],
) -> dict[str, Sample]:
    """Each image on its CAM maps' crop: the given samples, else read again. An image
    that cannot be read is dropped from ``inputs`` with its failure."""
    by_key = {s.key: s for s in given}
    loaded: dict[str, Sample] = {}
    for key in list(inputs):
        try:
            loaded[key] = by_key.get(key) or _load_sample(inputs[key], model, max_pixels)
        except InputError as exc:
            failures.append(Failure(key, Path(inputs[key].cam_item.get("path", "")), str(exc)))
            del inputs[key]
    return loaded


def _load_sample(item: ImageInputs, model: LoadedModel | None, max_pixels: int) -> Sample:
    """The image on the crop its CAM maps lie on (the geometry the CAM stage recorded).
    A mission image no longer at its recorded path (a moved mirror) is looked up again."""
    path = item.cam_item.get("path")
    if not path:
        raise InputError(f"cam/{item.key}/item.json: no image path", hint="rerun the CAM stage")
    recorded = item.cam_item.get("geometry")
    if recorded:
        geometry = Geometry.from_dict(recorded)
    else:  # a run folder from before geometries were recorded
        geometry = model.geometry if model is not None else IMAGENET_GEOMETRY
    source = ImageSource(item.key, Path(path), item.cam_item.get("true_id"))
    if not source.path.is_file() and item.key in MISSION_KEYS:
        source = mission_sources([item.key])[0]
    return load_sample(source, geometry, max_pixels=max_pixels)


def _sanity_setup(
    settings: CompareSettings,
    inputs: Mapping[str, ImageInputs],
    model: LoadedModel | None,
    methods: Sequence[str],
    cam_info: Mapping[str, Any],
    given: Mapping[str, Explainer],
) -> tuple[dict[str, Explainer], list[str]]:
    """The sanity check's explainers and the blocks it randomises, top first."""
    if not settings.sanity:
        return {}, []
    wanted = list(settings.sanity_methods) or [*methods, LIME]
    assert model is not None
    layer = str(next(iter(inputs.values())).cam_item.get("layer") or model.cam_target().name)
    available = default_explainers(methods, layer, model, settings, cam_info) | dict(given)
    missing = [m for m in wanted if m not in available]
    if missing:
        raise ConfigError(
            f"sanity_methods {missing} have no explainer",
            hint=f"explainers available: {', '.join(available)}",
        )
    blocks = list(settings.sanity_blocks) or sanity.cascade_blocks(model.module)
    if settings.sanity_max_steps:
        blocks = blocks[: settings.sanity_max_steps]
    return {m: available[m] for m in wanted}, blocks


def _crop_digest(sample: Sample) -> str:
    return hashlib.sha256(sample.crop.tobytes()).hexdigest()[:16]


def _input_digests(inputs: Mapping[str, ImageInputs]) -> list[tuple[Path, str]]:
    paths = [p for i in inputs.values() for p in i.files]
    return [(Path(p), d) for p, d in digests(paths)]


def _outcome(folder: Path, failures: list[Failure], skipped: bool = False) -> CompareOutcome:
    def table(name: str) -> pd.DataFrame | None:
        return pd.read_csv(folder / name) if (folder / name).is_file() else None

    agreement = table("agreement.csv")
    assert agreement is not None
    return CompareOutcome(
        folder=folder,
        agreement=agreement,
        faithfulness=table("faithfulness.csv"),
        sanity=table("sanity.csv"),
        summary=json.loads((folder / "summary.json").read_text()),
        failures=failures,
        skipped=skipped,
    )


def summary_lines(outcome: CompareOutcome) -> list[str]:
    return summary.text(CompareFindings.of(outcome.summary)).rstrip("\n").splitlines()
