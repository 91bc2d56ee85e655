"""Time estimates for the heavy stages on a CPU: image forward passes x measured seconds.

Each stage's cost is dominated by forward passes of its model over its crops; we
count them from the settings and time one batch of the model here, so the estimate
follows this machine (and its load) rather than a table of guesses."""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch

from explainlab.attributions.settings import ATTRIBUTION_KINDS, AttributionSettings
from explainlab.attributions.settings import passes as attribution_passes
from explainlab.durations import describe
from explainlab.methods import MethodSpec, Passes
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


def method_passes(
    spec: MethodSpec, channels: int, impl: str, attributions: AttributionSettings, size: int
) -> Passes:
    """``spec``'s passes per image: an attribution's from its settings and the input's
    size (occlusion's windows), any other's from the registry."""
    if spec.kind in ATTRIBUTION_KINDS:
        return Passes(*attribution_passes(spec.name, attributions, size))
    return spec.passes(channels, impl)


def method_cost_lines(
    model: LoadedModel,
    specs: Sequence[MethodSpec],
    inputs: int,
    *,
    layer: str | None,
    impl: str,
    attributions: AttributionSettings,
) -> list[str]:
    """One line for each costly method of ``specs`` (not :meth:`MethodSpec.cheap`): its
    passes per image and what ``inputs`` images cost on this machine, from one timed
    batch of the model."""
    costly = [spec for spec in specs if not spec.cheap()]
    if not costly:
        return []
    channels = target_channels(model, layer) if any(s.layer for s in costly) else 0
    per = seconds_per_image(model)
    lines = []
    for spec in costly:
        passes = method_passes(spec, channels, impl, attributions, model.geometry.crop)
        seconds = inputs * passes.forward_equivalents() * per
        backward = f" + {passes.backward:,} backward" if passes.backward else ""
        lines.append(
            f"estimate ({model.device.type}): {spec.title} ≈ {describe(seconds)} for "
            f"{inputs} image(s) (per image {passes.forward:,} forward{backward}; a forward "
            f"pass of {model.name} takes {per:.3f} s)"
        )
    return lines
