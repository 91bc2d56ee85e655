"""Time estimates for the heavy stages on a CPU: image forward passes x measured seconds.

Each stage's cost is dominated by forward passes of its model over its crops; we
count them from the settings and time one batch of the model here, so the estimate
follows this machine (and its load) rather than a table of guesses."""

from __future__ import annotations

import time

import torch

from explainlab.durations import describe
from explainlab.models import LoadedModel

_MEASURED: dict[str, float] = {}


def seconds_per_image(model: LoadedModel, batch: int = 16) -> float:
    """Measured seconds of one image forward pass (batched, on the model's crop), cached per model."""
    return module_seconds_per_image(
        model.name, model.module, model.device, batch, size=model.geometry.crop
    )


def module_seconds_per_image(
    name: str, module: torch.nn.Module, device: torch.device, batch: int = 16, *, size: int = 224
) -> float:
    if name not in _MEASURED:
        x = torch.zeros(batch, 3, size, size, device=device)
        with torch.inference_mode():
            module(x[:2])  # warm-up
            start = time.perf_counter()
            module(x)
        _MEASURED[name] = (time.perf_counter() - start) / batch
    return _MEASURED[name]


# CLIP ViT-B/16's image tower costs about 17.6 GFLOPs per image, ResNet18 1.8.
CLIP_VS_RESNET18 = 17.6 / 1.8


def dissect_seconds(images: int, models: int, device: torch.device) -> float:
    """Probe images x (each target model + CLIP's image tower), from a timed ResNet18
    (random weights: the cost does not depend on them)."""
    import torchvision

    per = module_seconds_per_image(
        "resnet18 (timing)", torchvision.models.resnet18().eval().to(device), device
    )
    return images * per * (models + CLIP_VS_RESNET18)


def target_channels(model: LoadedModel, layer: str | None = None) -> int:
    """Channels of the CAM target layer's map (ScoreCAM runs one masked image each)."""
    target = model.cam_target(layer)
    reshape = target.reshape or (lambda out: out)
    seen: list[int] = []
    handle = target.layer.register_forward_hook(
        lambda _m, _i, out: seen.append(reshape(out).shape[1])
    )
    size = model.geometry.crop
    try:
        with torch.inference_mode():
            model.module(torch.zeros(1, 3, size, size, device=model.device))
    finally:
        handle.remove()
    return seen[0]


def line(stage: str, forwards: float, model: LoadedModel, extra_seconds: float = 0.0) -> str:
    per = seconds_per_image(model)
    total = forwards * per + extra_seconds
    budget = f" + {describe(extra_seconds)} budget" if extra_seconds else ""
    return (
        f"estimate ({model.device.type}): {stage} ≈ {describe(total)} "
        f"({forwards:,.0f} image forward passes of {model.name} at {per:.3f} s{budget})"
    )
