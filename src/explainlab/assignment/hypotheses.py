"""Hypotheses about how the grader runs LIME: which image it perturbs, and so what its
hidden ground truth is made of. Each is checked against the public scoreboard by
:mod:`explainlab.assignment.calibrate`; the tuner and the scoreboard use one of them.

``crop``: the grader explains the model's own crop (224x224, the model's geometry), as the
rest of explainlab does; the reference is the consensus of long lime-default runs on it.

``full``: the grader explains the image file at its own size; its classifier function
applies the model's evaluation transform (resize of the shorter side, centre crop) to
every perturbed image; the reference is the same consensus, computed on the full image.

``gradcam``: the grader explains the crop, and its ground truth is the model's Grad-CAM
region: the Grad-CAM map's top pixels covering the LIME mask's own area (Grad-CAM against
LIME averages an area-matched IoU near the grader's scores, so it deserves a check).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF

from explainlab.errors import UnknownNameError
from explainlab.images import Sample, open_rgb, to_tensor
from explainlab.lime.classifier import ModelClassifier
from explainlab.models import LoadedModel
from explainlab.settings import DEFAULT_MAX_PIXELS


@dataclass(frozen=True)
class Hypothesis:
    name: str
    about: str
    full_size: bool  # LIME perturbs the file at its own size (else the model's crop)
    truth: str = "consensus"  # the ground truth: LIME's consensus, or "gradcam"

    def image(self, sample: Sample, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
        """The (H, W, 3) uint8 image LIME perturbs under this hypothesis."""
        if not self.full_size:
            return sample.crop
        return np.asarray(open_rgb(sample.path, max_pixels=max_pixels), dtype=np.uint8).copy()

    def classifier(self, model: LoadedModel) -> ModelClassifier:
        return resizing_classifier(model) if self.full_size else ModelClassifier.for_model(model)


HYPOTHESES: dict[str, Hypothesis] = {
    h.name: h
    for h in (
        Hypothesis(
            "crop", "LIME on the model's 224x224 crop (consensus reference on the crop)", False
        ),
        Hypothesis(
            "full",
            "LIME on the image file at its own size, the classifier resizing and cropping "
            "each perturbed image (consensus reference on the full image)",
            True,
        ),
        Hypothesis(
            "gradcam",
            "LIME on the model's 224x224 crop; the truth is the model's Grad-CAM region, its "
            "top pixels matching the LIME mask's area",
            False,
            "gradcam",
        ),
    )
}
DEFAULT_HYPOTHESIS = "crop"


def get_hypothesis(name: str) -> Hypothesis:
    try:
        return HYPOTHESES[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown reference hypothesis {name!r}", hint=f"use one of {', '.join(HYPOTHESES)}"
        ) from None


def resizing_preprocess(model: LoadedModel) -> Callable[[np.ndarray], torch.Tensor]:
    """(N, H, W, 3) uint8 images of any size -> the model's normalised (N, 3, crop, crop)
    tensor: its geometry's resize (antialiased) and centre crop, on the batch."""
    geometry = model.geometry
    mode = TF.InterpolationMode(geometry.interpolation)

    def preprocess(images: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(images)).movedim(-1, -3)
        x = TF.resize(x, geometry.resize, interpolation=mode, antialias=True)
        x = TF.center_crop(x, [geometry.crop, geometry.crop])
        return to_tensor(x.movedim(-3, -1).numpy(), geometry).to(model.device)

    return preprocess


def resizing_classifier(model: LoadedModel) -> ModelClassifier:
    return ModelClassifier.for_model(model, preprocess=resizing_preprocess(model), resizes=True)
