"""One gradient or perturbation method on a batch: its raw attribution and its maps,
computed in eval mode with its randomness seeded, the model left as it was found."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from explainlab.attributions.maps import attribution_map
from explainlab.attributions.settings import AttributionSettings
from explainlab.errors import InputError
from explainlab.methods import OURS, MethodSpec, get_method

KINDS = ("gradient", "perturbation")


def implementation(spec: MethodSpec) -> str:
    """What computes an attribution: ``captum`` for captum's methods, ``ours`` for our
    own (RISE)."""
    return "ours" if spec.reference == OURS else spec.reference.partition(".")[0]


@dataclass(frozen=True, eq=False)
class Attribution:
    raw: torch.Tensor  # (N, C, H, W) on the CPU: the method's own output (RISE's: C = 1)
    maps: np.ndarray  # (N, H, W) float32 in [0, 1]: ``raw`` by the settings' map rule


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """torch's and numpy's global generators seeded inside (captum draws from both:
    SmoothGrad's noise and KernelSHAP's samples from torch, GradientSHAP's from numpy),
    and put back as they were afterwards."""
    devices = [device] if device.type == "cuda" else []
    state = np.random.get_state()
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        np.random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(state)


def feature_mask(segments: np.ndarray, device: torch.device) -> torch.Tensor:
    """(N, H, W) superpixel ids as captum's feature mask: (N, 1, H, W), numbered from 0."""
    _, ids = np.unique(segments, return_inverse=True)
    return torch.as_tensor(ids.reshape(segments.shape), device=device)[:, None].long()


def attribute(
    name: str,
    model: nn.Module,
    x: torch.Tensor,
    target: int | Sequence[int],
    settings: AttributionSettings | None = None,
    *,
    layer: nn.Module | None = None,
    reshape: object | None = None,
    segments: np.ndarray | None = None,
) -> Attribution:
    """Method ``name`` on ``x`` (N, 3, H, W, on the model's device) for ``target`` (one
    class, or one per input). ``layer``: the target layer (Guided Grad-CAM), whose output
    must be a spatial map (``reshape`` None); ``segments``: (N, H, W) superpixels
    (KernelSHAP's features)."""
    from explainlab.cam.guards import model_kept

    spec = get_method(name)
    if spec.kind not in KINDS:
        raise ValueError(
            f"{spec.title} is a {spec.kind} method, not a gradient or perturbation one"
        )
    settings = settings or AttributionSettings()
    settings.validate()
    if spec.layer and (layer is None or reshape is not None):
        raise InputError(
            f"{spec.title} needs a target layer whose output is a spatial map (N, C, h, w)",
            hint="captum's GuidedGradCam takes no reshape: use it on a CNN, or pass layer=",
        )
    if name == "kernelshap" and segments is None:
        raise ValueError("KernelSHAP needs the superpixels (segments) of each input")
    targets = [int(target)] * len(x) if isinstance(target, int | np.integer) else list(target)
    extra = {"layer": layer}
    if segments is not None:
        extra["feature_mask"] = feature_mask(np.asarray(segments), x.device)
    compute = spec.load("compute")
    with (
        model_kept(model),
        seeded(settings.seed, x.device),
        torch.enable_grad(),
        warnings.catch_warnings(),
    ):
        # captum warns that it sets requires_grad and hooks, both undone when it returns
        warnings.filterwarnings("ignore", category=UserWarning, module=r"captum\.")
        inputs = x.detach().clone().requires_grad_(spec.kind == "gradient")
        raw = compute(model, inputs, targets, settings, **extra).detach().float().cpu()
    maps = np.stack([attribution_map(one, settings.map_rule) for one in raw])
    return Attribution(raw=raw, maps=maps)
