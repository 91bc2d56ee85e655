"""Model registry: ``load_model(name, device)`` (registered names, ``torchvision:``,
``timm:``, model files), ``wrap`` for your own module, and the CAM target layer."""

from explainlab.models.checkpoints import weights_sha256
from explainlab.models.layers import canonical_layer_name, resolve_layer
from explainlab.models.registry import (
    MODELS,
    LoadedModel,
    ModelSpec,
    get_spec,
    load_model,
    require_weights,
    resolve_device,
    wrap,
)
from explainlab.models.targets import CamTarget, cam_target, locate_target_layer

__all__ = [
    "MODELS",
    "CamTarget",
    "LoadedModel",
    "ModelSpec",
    "cam_target",
    "canonical_layer_name",
    "get_spec",
    "load_model",
    "locate_target_layer",
    "require_weights",
    "resolve_device",
    "resolve_layer",
    "weights_sha256",
    "wrap",
]
