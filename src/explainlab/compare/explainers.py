"""Explainers as callables ``fn(model_module, sample, target) -> (224, 224) map`` for the
sanity check: the CAM methods through :func:`explainlab.cam.methods.compute_cam`, and a
plain ``lime`` explainer (LIME's defaults: quickshift 4 / 200 / 0.2, superpixels hidden
by their mean colour) for when the pipeline does not plug in the LIME stage's own."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from explainlab.cam.methods import compute_cam
from explainlab.compare.masks import superpixel_map
from explainlab.compare.sanity import Explainer
from explainlab.images import Geometry, Sample, to_tensor
from explainlab.models import resolve_layer


def _device(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


def cam_explainer(
    method: str, layer: str, *, impl: str = "fast", batch_size: int = 32
) -> Explainer:
    """The CAM ``method`` at the layer called ``layer`` (resolved in whichever model it gets)."""

    def explain(module: nn.Module, sample: Sample, target: int) -> np.ndarray:
        x = sample.tensor[None].to(_device(module))
        return compute_cam(
            method,
            module,
            resolve_layer(module, layer),
            x,
            target,
            impl=impl,
            batch_size=batch_size,
        )

    return explain


def lime_explainer(
    geometry: Geometry, *, num_samples: int, seed: int, batch_size: int = 32
) -> Explainer:
    """Plain ``LimeImageExplainer.explain_instance`` on the crop; the map is each pixel's
    superpixel weight for ``target``. Seeded: the same model gives the same map."""
    from lime.lime_image import LimeImageExplainer

    def explain(module: nn.Module, sample: Sample, target: int) -> np.ndarray:
        device = _device(module)

        @torch.inference_mode()
        def classifier(images: np.ndarray) -> np.ndarray:
            x = to_tensor(np.asarray(images, dtype=np.uint8), geometry).to(device)
            return torch.softmax(module(x).float(), dim=1).cpu().numpy()

        explanation = LimeImageExplainer(random_state=seed).explain_instance(
            sample.crop,
            classifier,
            labels=(target,),
            top_labels=None,
            num_samples=num_samples,
            batch_size=batch_size,
            random_seed=seed,
        )
        return superpixel_map(explanation.segments, dict(explanation.local_exp[target]))

    return explain
