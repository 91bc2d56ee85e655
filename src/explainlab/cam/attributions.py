"""The gradient and perturbation methods of the CAM stage (and of the sanity check's
explainers): one method on one image through
:func:`explainlab.attributions.compute.attribute`, the function ``xl.explain`` computes
them with, so that a run's map equals the API's for the same settings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from explainlab.attributions.compute import attribute, implementation
from explainlab.attributions.settings import AttributionSettings
from explainlab.methods import get_method
from explainlab.models.targets import Reshape


@dataclass(frozen=True, eq=False)
class AttributionMap:
    map: np.ndarray  # (H, W) float32 in [0, 1]: the raw attribution by the settings' rule
    raw: torch.Tensor  # (C, H, W) on the CPU: captum's (RISE's) own attribution
    impl: str  # what computed it: "captum", or "ours" (RISE)


def kernelshap_segments(crop: np.ndarray, seed: int) -> np.ndarray:
    """KernelSHAP's features on a crop: the superpixels of lime's default segmentation
    (quickshift 4 / 200 / 0.2) seeded with ``seed``, as ``xl.explain`` makes them when
    LIME's parameters are its defaults."""
    from explainlab.lime.segments import lime_segments

    return lime_segments(crop, {"random_seed": seed})


def attribution_map(
    method: str,
    model: nn.Module,
    x: torch.Tensor,
    target: int,
    settings: AttributionSettings,
    *,
    crop: np.ndarray,
    layer: nn.Module | None = None,
    reshape: Reshape | None = None,
) -> AttributionMap:
    """Method ``method`` on the one input ``x`` (1, 3, H, W) for class ``target``;
    ``crop`` is the picture of ``x`` (KernelSHAP's superpixels), ``layer`` the target
    layer (Guided Grad-CAM's)."""
    spec = get_method(method)
    segments = kernelshap_segments(crop, settings.seed)[None] if method == "kernelshap" else None
    result = attribute(
        method,
        model,
        x,
        target,
        settings,
        layer=layer if spec.layer else None,
        reshape=reshape if spec.layer else None,
        segments=segments,
    )
    return AttributionMap(result.maps[0], result.raw[0], implementation(spec))
