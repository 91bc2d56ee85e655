"""Explainers as callables ``fn(model_module, sample, target) -> map`` (on the sample's
crop) for the sanity check: the CAM methods through
:func:`explainlab.cam.methods.compute_cam`; the gradient and perturbation methods through
:func:`explainlab.cam.attributions.attribution_map` (as the CAM stage computes them); a
plain ``lime`` explainer (LIME's defaults:
quickshift 4 / 200 / 0.2, superpixels hidden by their mean colour); and the LIME stage's
own explanation (its parameter file and explainer), which the pipeline plugs in."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from explainlab.attributions.settings import AttributionSettings
from explainlab.cam.attributions import attribution_map
from explainlab.cam.methods import compute_cam
from explainlab.compare.sanity import Explainer
from explainlab.images import Geometry, Sample, to_tensor
from explainlab.lime.classifier import ModelClassifier
from explainlab.lime.settings import LimeSettings
from explainlab.masks import superpixel_map
from explainlab.methods import get_method
from explainlab.models import resolve_layer
from explainlab.models.speed import forward_chunk
from explainlab.models.targets import Reshape


def _device(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


def cam_explainer(
    method: str,
    layer: str,
    *,
    impl: str = "fast",
    batch_size: int = 32,
    reshape: Reshape | None = None,
) -> Explainer:
    """The CAM ``method`` at the layer called ``layer`` (resolved in whichever model it
    gets), its output reshaped to a map by ``reshape`` (transformers)."""

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
            reshape=reshape,
        )

    return explain


def attribution_explainer(
    method: str,
    layer: str,
    settings: AttributionSettings,
    *,
    reshape: Reshape | None = None,
) -> Explainer:
    """The gradient or perturbation ``method`` with ``settings``; Guided Grad-CAM at the
    layer called ``layer`` (resolved in whichever model it gets)."""
    needs_layer = get_method(method).layer

    def explain(module: nn.Module, sample: Sample, target: int) -> np.ndarray:
        x = sample.tensor[None].to(_device(module))
        return attribution_map(
            method,
            module,
            x,
            target,
            settings,
            crop=sample.crop,
            layer=resolve_layer(module, layer) if needs_layer else None,
            reshape=reshape,
        ).map

    return explain


def _classifier(module: nn.Module, geometry: Geometry) -> ModelClassifier:
    """LIME's classifier function for ``module`` (whichever weights it has now)."""
    device = _device(module)
    return ModelClassifier(
        module=module,
        preprocess=lambda images: to_tensor(images, geometry).to(device),
        chunk=forward_chunk(device),
    )


def lime_explainer(
    geometry: Geometry, *, num_samples: int, seed: int, batch_size: int = 32
) -> Explainer:
    """Plain ``LimeImageExplainer.explain_instance`` on the crop; the map is each pixel's
    superpixel weight for ``target``. Seeded: the same model gives the same map."""
    from lime.lime_image import LimeImageExplainer

    def explain(module: nn.Module, sample: Sample, target: int) -> np.ndarray:
        explanation = LimeImageExplainer(random_state=seed).explain_instance(
            sample.crop,
            _classifier(module, geometry),
            labels=(target,),
            top_labels=None,
            num_samples=num_samples,
            batch_size=batch_size,
            random_seed=seed,
        )
        return superpixel_map(explanation.segments, dict(explanation.local_exp[target]))

    return explain


def lime_params_explainer(settings: LimeSettings, params: str, geometry: Geometry) -> Explainer:
    """The LIME stage's own explanation (``params``: its parameter file; its explainer and
    seed) as a map: each pixel carries its superpixel's weight for ``target``."""
    from explainlab.lime.explain import explain as explain_lime
    from explainlab.lime.params import load_param_file

    param_file = load_param_file(params)

    def explain(module: nn.Module, sample: Sample, target: int) -> np.ndarray:
        chosen, _ = param_file.params_for(sample.key, seed=settings.seed)
        result = explain_lime(
            sample.crop,
            _classifier(module, geometry),
            chosen,
            seed=settings.seed,
            explainer=settings.explainer,
            label=target,
        )
        return superpixel_map(result.segments, result.weight_map())

    return explain
