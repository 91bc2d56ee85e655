"""The Python API: explain your own classifier, from a notebook or a script.

    import explainlab as xl
    model = xl.load_model("timm:convnext_tiny")        # or xl.wrap(my_module, geometry=...)
    cams = xl.cam_maps(model, ["dog.jpg", pil_image], methods=["gradcam", "scorecam"])
    limes = xl.lime_explanations(model, ["dog.jpg"], params={"num_samples": 300})
    table = xl.agreement(cams, limes)
    units = xl.dissect_model(model, layers=["layer3", "layer4"], probe="my_images/")

Images are file paths, PIL images or uint8 arrays; each is cropped the way the model's
weights expect (its geometry). Results are records holding the arrays, the class, the
crop, timings and provenance; nothing is written to disk unless you call ``.save(folder)``
(the dissection's feature cache aside, which lives in ``EXPLAINLAB_CACHE``). The command
line and the pipeline are shells over the same functions of the stage packages."""

from __future__ import annotations

import json
import tempfile
import time
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from explainlab import API_NAMES, runfolder
from explainlab.cam.settings import METHODS as CAM_METHODS
from explainlab.images import Geometry as Geometry  # re-exported: xl.Geometry
from explainlab.images import Sample, sample_from
from explainlab.methods import check_methods
from explainlab.models import LoadedModel
from explainlab.models import load_model as load_model  # re-exported: xl.load_model
from explainlab.models import wrap as wrap  # re-exported: xl.wrap

__all__ = list(API_NAMES)  # one list: the package's lazy attributes

ImageLike = str | Path | Image.Image | np.ndarray


def samples(model: LoadedModel, images: ImageLike | Iterable[ImageLike]) -> list[Sample]:
    """``images`` on ``model``'s geometry, keyed by file stem (``image_<i>`` otherwise,
    made unique)."""
    items = [images] if isinstance(images, str | Path | Image.Image | np.ndarray) else list(images)
    out: list[Sample] = []
    seen: set[str] = set()
    for i, image in enumerate(items):
        key = Path(image).stem if isinstance(image, str | Path) else f"image_{i}"
        while key in seen:
            key = f"{key}_{i}"
        seen.add(key)
        out.append(sample_from(image, model.geometry, key=key))
    return out


def _provenance(model: LoadedModel, sample: Sample) -> dict[str, Any]:
    return {
        "model": model.name,
        "model_description": model.spec.description,
        "weights": model.spec.weights_source,
        "geometry": model.geometry.to_dict(),
        "source": str(sample.path),
    }


# --- CAMs ---------------------------------------------------------------------------------


@dataclass(eq=False)
class CamResult:
    """One image's CAM maps (each (crop, crop) float32 in [0, 1]) for one class."""

    key: str
    crop: np.ndarray  # (crop, crop, 3) uint8: what the maps lie on
    target: int
    target_name: str
    maps: dict[str, np.ndarray]
    prediction: dict[str, Any]  # top-5 ids, names, probabilities
    layer: str
    seconds: dict[str, float]
    impl: dict[str, dict[str, str]]  # method -> what computed it, and why not the fast one
    provenance: dict[str, Any] = field(default_factory=dict)

    def save(self, folder: str | Path) -> Path:
        """``<method>.npy`` and ``.png`` overlays, ``panel.png`` and ``item.json``."""
        from explainlab.cam.figures import save_overlay, save_panel

        folder = Path(folder)
        for method, saliency in self.maps.items():
            runfolder.save_npy(folder / f"{method}.npy", saliency)
            save_overlay(self.crop, saliency, folder / f"{method}.png")
        title = f"{self.key}: {self.target_name}  [{self.provenance.get('model', '')}]"
        save_panel(self.crop, self.maps, self.seconds, title, folder / "panel.png")
        runfolder.write_json(folder / "item.json", self._record())
        return folder

    def _record(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "target": self.target,
            "target_name": self.target_name,
            "prediction": self.prediction,
            "layer": self.layer,
            "seconds": self.seconds,
            "impl": self.impl,
            **self.provenance,
        }


def cam_maps(
    model: LoadedModel,
    images: ImageLike | Iterable[ImageLike],
    *,
    methods: Sequence[str] = CAM_METHODS,
    layer: str | None = None,
    target: int | None = None,
    impl: str = "fast",
    batch_size: int = 32,
) -> list[CamResult]:
    """Grad-CAM, AblationCAM and ScoreCAM of each image for ``target`` (default: each
    image's top-1 class) at ``layer`` (default: the model's, else located)."""
    from explainlab.cam.methods import cam_map
    from explainlab.cam.run import predict
    from explainlab.image_stage import check_target_class

    check_methods(methods, "cam")
    check_target_class(model, target)
    where = model.cam_target(layer)
    results = []
    for sample in samples(model, images):
        prediction = predict(model, sample)
        chosen = int(prediction["top_ids"][0] if target is None else target)
        x = sample.tensor[None].to(model.device)
        maps, seconds, used = {}, {}, {}
        for method in methods:
            start = time.perf_counter()
            result = cam_map(
                method,
                model.module,
                where.layer,
                x,
                chosen,
                impl=impl,
                batch_size=batch_size,
                reshape=where.reshape,
            )
            seconds[method] = time.perf_counter() - start
            maps[method] = result.map
            used[method] = {"impl": result.impl, "note": result.note}
        results.append(
            CamResult(
                sample.key,
                sample.crop,
                chosen,
                model.class_names[chosen],
                maps,
                {k: prediction[k] for k in ("top_ids", "top_names", "top_probs")},
                where.name,
                seconds,
                used,
                _provenance(model, sample),
            )
        )
    return results


# --- LIME ---------------------------------------------------------------------------------


@dataclass(eq=False)
class LimeExplanation:
    """One image's LIME explanation for one class, on the model's crop."""

    key: str
    crop: np.ndarray
    label: int
    label_name: str
    probability: float
    segments: np.ndarray  # (crop, crop) int32 superpixel ids
    weights: list[tuple[int, float]]  # every superpixel, by |weight| descending
    mask: np.ndarray  # (crop, crop) bool: the top ``num_features`` positive superpixels
    num_features: int
    params: dict[str, Any]  # the explain_instance arguments, readable form
    seconds: float
    provenance: dict[str, Any] = field(default_factory=dict)

    def weight_map(self) -> np.ndarray:
        """Each pixel carries its superpixel's weight."""
        from explainlab.masks import superpixel_map

        return superpixel_map(self.segments, dict(self.weights))

    def save(self, folder: str | Path) -> Path:
        """``segments.npy``, ``mask.npy``, ``weights.json`` and the figures."""
        from explainlab.lime.figures import save_figures

        folder = Path(folder)
        runfolder.save_npy(folder / "segments.npy", self.segments)
        runfolder.save_npy(folder / "mask.npy", self.mask)
        runfolder.write_json(
            folder / "weights.json",
            {
                "key": self.key,
                "label": self.label,
                "label_name": self.label_name,
                "probability": self.probability,
                "weights": [list(w) for w in self.weights],
                "params": self.params,
                "seconds": self.seconds,
                **self.provenance,
            },
        )
        save_figures(
            folder,
            self.crop,
            self.segments,
            self.weights,
            self.mask,
            num_features=self.num_features,
            title=f"{self.key}: LIME for {self.label_name} (p={self.probability:.2f})",
        )
        return folder


def lime_explanations(
    model: LoadedModel,
    images: ImageLike | Iterable[ImageLike],
    *,
    params: Mapping[str, Any] | str | Path | None = None,
    seed: int = 0,
    explainer: str = "fast",
    target: int | None = None,
    num_features: int = 5,
) -> list[LimeExplanation]:
    """LIME of each image for ``target`` (default: its top-1 class). ``params``: the
    ``explain_instance`` arguments in readable form (``{"num_samples": 300,
    "segmentation_fn": {"algo_type": "slic", "n_segments": 50}}``), the same for every
    image, or a parameter file (per-image tables); lime's defaults where not given."""
    from explainlab.image_stage import check_target_class
    from explainlab.lime.classifier import ModelClassifier
    from explainlab.lime.explain import explain
    from explainlab.lime.params import ParamFile, errors, load_param_file, to_readable

    check_target_class(model, target)
    if params is None or isinstance(params, Mapping):
        param_file = ParamFile(dict(params or {}), {}, "the params argument")
        problems = errors(param_file.problems())
        if problems:
            from explainlab.errors import ConfigError

            raise ConfigError("\n".join(map(str, problems)))
    else:
        param_file = load_param_file(params)
    classifier = ModelClassifier.for_model(model)
    out = []
    for sample in samples(model, images):
        chosen, file_k = param_file.params_for(sample.key, seed=seed)
        k = file_k or num_features
        result = explain(
            sample.crop, classifier, chosen, seed=seed, explainer=explainer, label=target
        )
        out.append(
            LimeExplanation(
                sample.key,
                sample.crop,
                result.label,
                model.class_names[result.label],
                result.probability,
                result.segments,
                result.weights,
                result.mask(k),
                k,
                to_readable(result.params),
                result.seconds,
                _provenance(model, sample),
            )
        )
    return out


# --- comparison ---------------------------------------------------------------------------


def agreement(
    cams: Sequence[CamResult],
    limes: Sequence[LimeExplanation],
    *,
    threshold: float = 0.5,
    seed: int = 0,
) -> pd.DataFrame:
    """Agreement of every CAM map with the LIME explanation of the same image (matched by
    key): one row per image x method x measure (IoU at ``threshold`` and area-matched,
    Dice, the chance IoU, pointing game, superpixel rank correlation, ...)."""
    from explainlab.compare.agreement import compare_maps
    from explainlab.compare.inputs import LimeResult
    from explainlab.compare.settings import DEFAULT_SWEEP
    from explainlab.errors import InputError

    by_key = {e.key: e for e in limes}
    rows: list[dict] = []
    for result in cams:
        explanation = by_key.get(result.key)
        if explanation is None:
            raise InputError(
                f"no LIME explanation of {result.key!r} to compare its CAMs with",
                hint="explain the same images with xl.cam and xl.lime",
            )
        if explanation.crop.shape != result.crop.shape or not np.array_equal(
            explanation.crop, result.crop
        ):
            raise InputError(
                f"{result.key}: the CAM and LIME results lie on different crops",
                hint="explain both with the same model and image",
            )
        lime_result = LimeResult(
            explanation.segments.astype(np.int64),
            dict(explanation.weights),
            explanation.mask,
            explanation.label,
            explanation.label_name,
        )
        for method, saliency in result.maps.items():
            rng = np.random.default_rng([seed, zlib.crc32(f"{result.key}/{method}".encode())])
            agreement = compare_maps(
                result.key,
                method,
                saliency,
                lime_result,
                threshold=threshold,
                sweep=DEFAULT_SWEEP,
                rng=rng,
            )
            rows.extend(agreement.rows())
    return pd.DataFrame(rows, columns=["key", "method", "measure", "value"])


# --- dissection ---------------------------------------------------------------------------


@dataclass(eq=False)
class DissectResult:
    """Every unit's concept (``labels``: layer, unit, description, similarity) and each
    unit's five best concepts, of one model."""

    model: str
    labels: pd.DataFrame
    top_concepts: pd.DataFrame
    args: dict[str, Any]

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        runfolder.write_csv(folder / "descriptions.csv", self.labels)
        runfolder.write_csv(folder / "top_concepts.csv", self.top_concepts)
        runfolder.write_json(folder / "args.json", self.args)
        return folder


def dissect_model(
    model: LoadedModel,
    *,
    layers: Sequence[str],
    probe: str | Path | Sequence[str | Path] = "broden",
    concepts: str | Path = "20k",
    probe_limit: int = 0,
    similarity: str = "soft_wpmi",
    similarity_params: Mapping[str, float] | None = None,
    clip_model: str | None = None,
    clip_pretrained: str | None = None,
    encoder: Any = None,
    seed: int = 0,
    batch_size: int = 64,
) -> DissectResult:
    """CLIP-Dissect of ``model``'s ``layers`` on the ``probe`` images (``broden`` or
    folders) with the ``concepts`` set (a name such as ``20k`` or a file).
    ``similarity_params`` overrides the similarity's (``{"top_k": 20}`` for a small probe
    set); ``encoder`` replaces CLIP (any object with CLIP-Dissect's ``ConceptEncoder``
    interface)."""
    from explainlab.dissect.activations import TargetModel
    from explainlab.dissect.run import run_dissect
    from explainlab.dissect.settings import DissectSettings

    probes = [probe] if isinstance(probe, str | Path) else list(probe)
    defaults = DissectSettings()
    settings = DissectSettings(
        models=(model.name,),
        layers=tuple(layers),
        probe=tuple(str(p) for p in probes),
        probe_limit=probe_limit,
        seed=seed,
        concept_set=str(concepts),
        clip_model=clip_model or defaults.clip_model,
        clip_pretrained=clip_pretrained or defaults.clip_pretrained,
        similarity=similarity,
        similarity_params=dict(similarity_params or {}),
        batch_size=batch_size,
        num_workers=0,
    )
    settings.validate()
    target = TargetModel(
        model.name, model.module, model.geometry, model.spec.weights_source, model.device
    )
    with tempfile.TemporaryDirectory(prefix="explainlab-dissect-") as tmp:
        outcome = run_dissect(
            settings, Path(tmp), targets={model.name: target}, encoder=encoder, device=model.device
        )
        folder = outcome.folders[model.name]
        return DissectResult(
            model.name,
            pd.read_csv(folder / "descriptions.csv"),
            pd.read_csv(folder / "top_concepts.csv"),
            json.loads((folder / "args.json").read_text()),
        )
