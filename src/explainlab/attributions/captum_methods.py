"""The captum attributions, each called as captum's documentation does, with the numbers
of :class:`~explainlab.attributions.settings.AttributionSettings`.

Each takes ``(model, x, target, settings, *, layer, feature_mask)`` (``x``: (N, 3, H, W)
on the model's device, requiring gradients; ``target``: one class per input) and returns
captum's attribution as captum returns it. The model is in eval mode and any randomness
is seeded by the caller (:mod:`explainlab.attributions.compute`)."""

from __future__ import annotations

import torch
from captum import attr
from torch import nn

from explainlab.attributions.settings import AttributionSettings
from explainlab.attributions.unshared import deeplift_model


def _baseline(x: torch.Tensor, settings: AttributionSettings) -> torch.Tensor | None:
    """None (captum's own zero baseline) unless another value is set."""
    return None if settings.baseline == 0.0 else torch.full_like(x, settings.baseline)


def saliency(model: nn.Module, x, target, settings, **_) -> torch.Tensor:
    return attr.Saliency(model).attribute(x, target=target)


def inputxgradient(model: nn.Module, x, target, settings, **_) -> torch.Tensor:
    return attr.InputXGradient(model).attribute(x, target=target)


def integratedgradients(model: nn.Module, x, target, settings, **_) -> torch.Tensor:
    return attr.IntegratedGradients(model).attribute(
        x,
        baselines=_baseline(x, settings),
        target=target,
        n_steps=settings.ig_steps,
        method=settings.ig_method,
    )


def smoothgrad(model: nn.Module, x, target, settings, **_) -> torch.Tensor:
    return attr.NoiseTunnel(attr.Saliency(model)).attribute(
        x,
        nt_type="smoothgrad",
        nt_samples=settings.smoothgrad_samples,
        stdevs=settings.smoothgrad_stdev,
        target=target,
    )


def guidedbackprop(model: nn.Module, x, target, settings, **_) -> torch.Tensor:
    return attr.GuidedBackprop(model).attribute(x, target=target)


def guidedgradcam(model: nn.Module, x, target, settings, *, layer, **_) -> torch.Tensor:
    return attr.GuidedGradCam(model, layer).attribute(x, target=target)


def deeplift(model: nn.Module, x, target, settings, **_) -> torch.Tensor:
    """On the model itself, or, where it calls one activation module more than once
    (torchvision's ResNet blocks call ``self.relu`` twice), on a copy that gives each call
    its own module: captum's DeepLift keeps one input per module and fails otherwise."""
    used = deeplift_model(model, x)
    return attr.DeepLift(used).attribute(x, baselines=_baseline(x, settings), target=target)


def gradientshap(model: nn.Module, x, target, settings, **_) -> torch.Tensor:
    """captum's GradientShap requires baselines: the settings' one (one reference)."""
    baselines = torch.full_like(x[:1], settings.baseline)
    return attr.GradientShap(model).attribute(
        x,
        baselines=baselines,
        n_samples=settings.gradientshap_samples,
        stdevs=settings.gradientshap_stdev,
        target=target,
    )


def occlusion(model: nn.Module, x, target, settings, **_) -> torch.Tensor:
    window, stride = settings.occlusion_window, settings.occlusion_stride
    channels = x.shape[1]
    return attr.Occlusion(model).attribute(
        x,
        sliding_window_shapes=(channels, window, window),
        strides=(channels, stride, stride),
        baselines=settings.baseline,
        target=target,
        perturbations_per_eval=settings.batch_size,
    )


def kernelshap(model: nn.Module, x, target, settings, *, feature_mask, **_) -> torch.Tensor:
    """``feature_mask``: (N, 1, H, W) superpixel ids from 0 (LIME's for each crop)."""
    return attr.KernelShap(model).attribute(
        x,
        baselines=settings.baseline,
        target=target,
        feature_mask=feature_mask,
        n_samples=settings.kernelshap_samples,
        perturbations_per_eval=settings.batch_size,
    )
