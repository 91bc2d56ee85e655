"""Reference explanations the scoreboard and the tuner compare candidates with.

``consensus`` (default): lime's default quickshift segmentation of the crop, LIME run at
several seeds with many samples and otherwise default parameters, the top class's
superpixel weights averaged over the seeds. Its mask is the K superpixels with the largest
positive mean weight (K = 5, get_image_and_mask's default). It is computed once per image,
model and settings, and cached under the explainlab cache (``lime-reference/``).

Or masks given by the user: ``<folder>/<key>.npy`` (224x224 bool) or ``<key>.png``
(non-zero pixels are the mask).

Or a saliency map (``gradcam``, :func:`gradcam_reference`): the model's Grad-CAM of its
top class on the crop; the mask a candidate is compared with is the map's top pixels
covering the candidate mask's own area (ties broken by a fixed seed).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image

from explainlab import assets, runfolder
from explainlab.assignment.settings import ReferenceSettings
from explainlab.cam.methods import compute_cam
from explainlab.errors import InputError
from explainlab.lime.classifier import ModelClassifier
from explainlab.lime.fast import FastLimeImageExplainer
from explainlab.lime.params import complete
from explainlab.masks import first_of_order, rank_order, top_positive_mask
from explainlab.models import LoadedModel
from explainlab.versions import LIME_PACKAGES, package_versions

# Reference seeds are far from the seeds candidates are run with (0, 1, ...): a candidate
# run with the same random_state would draw a prefix of the same perturbations.
REFERENCE_SEED_BASE = 10_000
TIE_SEED = 0  # breaks a saliency map's ties (Grad-CAM's zero floor) alike for every candidate


@dataclass(kw_only=True)
class Reference:
    key: str
    label: int | None  # None: the candidate's label is the model's top-1
    segments: np.ndarray | None
    weights: np.ndarray | None  # mean weight per superpixel id
    fixed_mask: np.ndarray | None = None
    saliency: np.ndarray | None = None  # a map whose top pixels, area-matched, are the truth
    per_seed: np.ndarray | None = None  # (seeds, superpixels): each consensus run's weights
    cached: bool = False

    def mask(self, k: int = 5) -> np.ndarray:
        if self.fixed_mask is not None:
            return self.fixed_mask
        assert self.segments is not None and self.weights is not None
        return top_positive_mask(self.segments, dict(enumerate(self.weights.tolist())), k)

    def truth(self, candidate: np.ndarray, k: int = 5) -> np.ndarray:
        """The mask ``candidate`` is scored against: the saliency map's top pixels of the
        candidate's area, else the reference's own mask of ``k`` superpixels."""
        if self.saliency is None:
            return self.mask(k)
        return first_of_order(
            self._saliency_order, int(np.count_nonzero(candidate)), self.saliency.shape
        )

    @cached_property
    def _saliency_order(self) -> np.ndarray:
        """The map's pixels from the most salient down, ties broken by TIE_SEED: sorted
        once, the same for every candidate scored against it."""
        assert self.saliency is not None
        return rank_order(self.saliency, np.random.default_rng(TIE_SEED))


def reference_dir() -> Path:
    return assets.cache_dir().parent / "lime-reference"


def consensus(
    key: str,
    crop: np.ndarray,
    model_name: str,
    classifier: ModelClassifier,
    settings: ReferenceSettings | None = None,
    *,
    cache: Path | None = None,
    variant: str = "",
) -> Reference:
    """The consensus reference of one crop (cached; see the module docstring). ``crop``
    may be any image ``classifier`` takes; ``variant`` names a classifier other than the
    model's own on its crop (a reference hypothesis), and is part of the cache key."""
    settings = settings or ReferenceSettings()
    digest = hashlib.sha256(np.ascontiguousarray(crop).tobytes()).hexdigest()
    identity = {
        "crop": digest,
        "model": model_name,
        "settings": asdict(settings),
        "versions": package_versions(*LIME_PACKAGES),
    }
    fingerprint = runfolder.fingerprint(identity | ({"variant": variant} if variant else {}))
    path = (cache or reference_dir()) / model_name / f"{key}-{fingerprint}.npz"
    if path.is_file():
        with np.load(path) as saved:
            return Reference(
                key=key,
                label=int(saved["label"]),
                segments=saved["segments"],
                weights=saved["weights"],
                per_seed=saved["per_seed"],
                cached=True,
            )

    label, _ = classifier.top_class(crop)
    params = complete(
        {"num_samples": settings.num_samples, "batch_size": settings.batch_size, "random_seed": 0}
    )
    segments = None
    per_seed = []
    saved_deadline = classifier.deadline
    classifier.deadline = None
    try:
        for s in range(settings.seeds):
            explainer = FastLimeImageExplainer(random_state=REFERENCE_SEED_BASE + s)
            explanation = explainer.explain_instance(crop, classifier, **params)
            if segments is None:
                segments = np.asarray(explanation.segments, np.int32)
            elif not np.array_equal(segments, explanation.segments):
                raise RuntimeError("the default segmentation changed between seeds")
            weights = np.zeros(len(np.unique(segments)))
            for feature, weight in explanation.local_exp[label]:
                weights[feature] = weight
            per_seed.append(weights)
    finally:
        classifier.deadline = saved_deadline
    mean = np.mean(per_seed, axis=0)
    with runfolder.atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, label=label, segments=segments, weights=mean, per_seed=np.array(per_seed))
    return Reference(
        key=key, label=label, segments=segments, weights=mean, per_seed=np.array(per_seed)
    )


def gradcam_reference(
    key: str, crop: np.ndarray, model: LoadedModel, classifier: ModelClassifier
) -> Reference:
    """The model's Grad-CAM on ``crop`` (the model's crop, uint8) at its CAM target layer,
    for the top class of ``classifier`` (the consensus's label: the two hypotheses explain
    the same class), as the saliency a candidate's area is matched on."""
    label, _ = classifier.top_class(crop)
    x = model.preprocess(crop[None])
    saliency = compute_cam("gradcam", model.module, model.layer(), x, label, impl="fast")
    return Reference(key=key, label=label, segments=None, weights=None, saliency=saliency)


def mask_reference(key: str, folder: Path, shape: tuple[int, int] = (224, 224)) -> Reference:
    """A user's reference mask for ``key`` from ``folder`` (<key>.npy or <key>.png)."""
    folder = Path(folder)
    npy, png = folder / f"{key}.npy", folder / f"{key}.png"
    if npy.is_file():
        try:
            mask = np.load(npy, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise InputError(f"{npy}: not a readable .npy array ({exc})") from None
    elif png.is_file():
        try:
            with Image.open(png) as image:
                mask = np.asarray(image.convert("L")) > 0
        except OSError as exc:
            raise InputError(f"{png}: not a readable image ({exc})") from None
    else:
        raise InputError(
            f"{folder}: no reference mask for {key} ({npy.name} or {png.name})",
            hint="put one mask per image key in the folder, or use --reference consensus",
        )
    if mask.shape != shape:
        raise InputError(
            f"reference mask for {key} has shape {mask.shape}; {shape} expected",
            hint="masks are on the 224x224 crop of the one geometry",
        )
    return Reference(key=key, label=None, segments=None, weights=None, fixed_mask=mask.astype(bool))
