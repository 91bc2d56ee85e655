"""Model registry: ``load_model(name, device)`` and the layer resolver."""

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
)

__all__ = [
    "MODELS",
    "LoadedModel",
    "ModelSpec",
    "canonical_layer_name",
    "get_spec",
    "load_model",
    "require_weights",
    "resolve_device",
    "resolve_layer",
    "weights_sha256",
]
