"""The Python API: explain your own classifier, from a notebook or a script.

    import explainlab as xl
    found = xl.explain(torchvision.models.resnet18(), batch, target=[1, 207])  # any module
    model = xl.load_model("timm:convnext_tiny")        # or xl.wrap(my_module, geometry=...)
    found = xl.explain(model, ["dog.jpg", pil_image], methods=["gradcam", "lime"])
    table = xl.agreement(found)                        # each CAM against the LIME of its image
    pairs = xl.agreement(found, pairs=True)            # every two maps of each image
    card = xl.evaluate(model, "my_images/", ["gradcam", "randomcam"], out="results/card")
    units = xl.dissect_model(model, layers=["layer3", "layer4"], probe="my_images/")

:func:`explain` takes a plain ``nn.Module`` with tensors already preprocessed (as
pytorch-grad-cam and captum do), or a model that knows its geometry with images (file
paths, PIL images or uint8 arrays, each cropped the way the model's weights expect).
Results are records holding the arrays, the class, the crop, timings and provenance;
nothing is written to disk unless you call ``.save(folder)`` (the dissection's feature
cache aside, which lives in ``EXPLAINLAB_CACHE``). :func:`cam_maps` and
:func:`lime_explanations` are :func:`explain` with CAM methods or LIME alone. The
command line and the pipeline are shells over the same functions of the stage packages."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from explainlab import API_NAMES, runfolder
from explainlab.cam.settings import METHODS as CAM_METHODS  # cam_maps' default
from explainlab.evaluation.run import evaluate as evaluate  # re-exported: xl.evaluate
from explainlab.explaining import InputLike, LimeOptions, Target
from explainlab.explaining import explain as explain  # re-exported: xl.explain
from explainlab.explaining import samples as samples  # re-exported: xl.samples
from explainlab.explanation import Explanation as Explanation  # re-exported: xl.Explanation
from explainlab.explanation import LimeExplanation as LimeExplanation  # re-exported
from explainlab.images import Geometry as Geometry  # re-exported: xl.Geometry
from explainlab.models import LoadedModel
from explainlab.models import load_model as load_model  # re-exported: xl.load_model
from explainlab.models import wrap as wrap  # re-exported: xl.wrap

__all__ = list(API_NAMES)  # one list: the package's lazy attributes


def sample_images(keys: Sequence[str] | None = None) -> list[Path]:
    """The assignment's ten ImageNet images (or those named: ``["goldfish", "kite"]``) as
    files, from the offline mirror or downloaded with their checksums: images to try the
    API on."""
    from explainlab.images import mission_sources

    return [source.path for source in mission_sources(keys)]


def cam_maps(
    model: nn.Module | LoadedModel | str,
    images: InputLike | Iterable[InputLike],
    *,
    methods: Sequence[str] = CAM_METHODS,
    layer: str | None = None,
    target: Target = None,
    impl: str = "fast",
    batch_size: int = 32,
) -> list[Explanation]:
    """:func:`explain` with Grad-CAM, AblationCAM and ScoreCAM by default: each image's
    maps for ``target`` (default: its top-1 class) at ``layer`` (default: the model's,
    else located)."""
    return explain(model, images, methods, target, layer, impl=impl, batch_size=batch_size)


def lime_explanations(
    model: nn.Module | LoadedModel | str,
    images: InputLike | Iterable[InputLike],
    *,
    params: Mapping[str, Any] | str | Path | None = None,
    seed: int = 0,
    explainer: str = "fast",
    target: Target = None,
    num_features: int = 5,
) -> list[LimeExplanation]:
    """:func:`explain` with LIME alone, returning LIME's own records (superpixels, their
    weights, the mask of the ``num_features`` best). ``params``: the ``explain_instance``
    arguments in readable form (``{"num_samples": 300, "segmentation_fn": {"algo_type":
    "slic", "n_segments": 50}}``), the same for every image, or a parameter file
    (per-image tables); lime's defaults where not given."""
    options = LimeOptions(params=params, seed=seed, explainer=explainer, num_features=num_features)
    found = explain(model, images, ["lime"], target, lime=options)
    return [e.raw["lime"] for e in found]


# --- comparison ---------------------------------------------------------------------------


def _lime_of(record: Explanation | LimeExplanation) -> LimeExplanation | None:
    return record if isinstance(record, LimeExplanation) else record.raw.get("lime")


def agreement(
    cams: Sequence[Explanation],
    limes: Sequence[LimeExplanation | Explanation] | None = None,
    *,
    threshold: float = 0.5,
    seed: int = 0,
    pairs: bool | None = None,
    top: float = 0.2,
) -> pd.DataFrame:
    """Agreement of every map of ``cams`` (but LIME's own) with the LIME explanation of the
    same image (matched by key; ``limes`` None: each Explanation's own, from
    ``methods=[..., "lime"]``): one row per image x method x measure (IoU at
    ``threshold`` and area-matched, Dice, the chance IoU, pointing game, superpixel rank
    correlation, ...).

    ``pairs=True`` instead compares every two maps of each image, LIME's weight map among
    them where there is one: one row per image x pair (``method_a``, ``method_b``) x pair
    measure (IoU and Dice at ``threshold``, IoU of the top pixels covering ``top`` of the
    crop, the pixels' rank correlation). ``pairs=None`` (the default) means True where no
    LIME explanation is given at all, False otherwise."""
    if pairs is None:
        pairs = limes is None and not any(_lime_of(e) is not None for e in cams)
    if pairs:
        return _pair_agreement(cams, limes, threshold=threshold, seed=seed, top=top)
    from explainlab.compare.agreement import compare_maps
    from explainlab.compare.inputs import LimeResult
    from explainlab.compare.settings import DEFAULT_SWEEP
    from explainlab.errors import InputError

    by_key = {e.key: _lime_of(e) for e in (cams if limes is None else limes)}
    rows: list[dict] = []
    for result in cams:
        explanation = by_key.get(result.key)
        if explanation is None:
            raise InputError(
                f"no LIME explanation of {result.key!r} to compare its CAMs with",
                hint="explain the same images with LIME: xl.explain(..., methods=[..., 'lime'])",
            )
        _check_same_crop(result, explanation)
        lime_result = LimeResult(
            segments=explanation.segments.astype(np.int64),
            weights=dict(explanation.weights),
            mask=explanation.mask,
            label=explanation.label,
            label_name=explanation.label_name,
        )
        for method, saliency in result.maps.items():
            if method == "lime":  # LIME against itself
                continue
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


def _check_same_crop(result: Explanation, lime: LimeExplanation) -> None:
    from explainlab.errors import InputError

    if lime.crop.shape != result.crop.shape or not np.array_equal(lime.crop, result.crop):
        raise InputError(
            f"{result.key}: the CAM and LIME results lie on different crops",
            hint="explain both with the same model and image",
        )


def _pair_agreement(
    explanations: Sequence[Explanation],
    limes: Sequence[LimeExplanation | Explanation] | None,
    *,
    threshold: float,
    seed: int,
    top: float,
) -> pd.DataFrame:
    from explainlab.compare.pairs import lime_map, pair_frame, pair_rows

    by_key = {e.key: _lime_of(e) for e in limes or ()}
    rows: list[dict] = []
    for result in explanations:
        maps = dict(result.maps)
        explanation = by_key.get(result.key)
        if explanation is not None and "lime" not in maps:
            _check_same_crop(result, explanation)
            maps["lime"] = lime_map(explanation.weight_map())
        rows += pair_rows(
            result.key,
            maps,
            threshold=threshold,
            top=top,
            rng=lambda method, key=result.key: np.random.default_rng(
                [seed, zlib.crc32(f"{key}/{method}/top".encode())]
            ),
        )
    return pair_frame(rows)


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
    folders) with the ``concepts`` set (a name such as ``20k`` or a file), computed in
    memory: the tables the dissect stage would write. ``similarity_params`` overrides the
    similarity's (``{"top_k": 20}`` for a small probe set); ``encoder`` replaces CLIP (any
    object with CLIP-Dissect's ``ConceptEncoder`` interface)."""
    from explainlab.dissect.activations import TargetModel
    from explainlab.dissect.run import label_model
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
        name=model.name,
        module=model.module,
        geometry=model.geometry,
        weights=model.spec.weights_source,
        device=model.device,
    )
    labels = label_model(settings, target, encoder=encoder, device=model.device)
    return DissectResult(
        model.name,
        labels.tables["descriptions.csv"],
        labels.tables["top_concepts.csv"],
        labels.args,
    )
