"""Exact fast variants of pytorch-grad-cam's GradCAM, AblationCAM and ScoreCAM.

Each computes the same channel weights as the library (same ablation values, same
scores, same softmax) and turns them into the map with :func:`maps.weighted_map`, the
library's own post-processing; the tests hold them to the library within 1e-4.

- Grad-CAM: one forward pass without autograd, then the gradient of the target score
  through the layers after the target layer only (the library back-propagates through
  the whole network and fills every parameter's ``.grad``).
- AblationCAM: the network runs once; for each batch of ablated channels only the tail
  after the target layer runs (see :mod:`split`), not the whole network.
- ScoreCAM: masked inputs are built batch by batch (never all C at once), channels whose
  upsampled map is constant share one all-zero mask and hence one forward pass, and the
  passes run under ``inference_mode`` (in channels-last memory format on a CPU).
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from explainlab.cam.guards import model_kept
from explainlab.cam.maps import weighted_map
from explainlab.cam.split import capture, check_image, check_target, split_at
from explainlab.models.speed import forward_chunk, memory_format
from explainlab.models.targets import Reshape

ABLATION_VALUE = 1e7  # pytorch-grad-cam's AblationLayer, used when the minimum is not 0


class UseLibrary(Exception):
    """Raised by a fast variant that cannot run on this model, with the reason: the
    library's implementation runs instead (:func:`explainlab.cam.methods.cam_map`)."""


def _size(x: torch.Tensor) -> tuple[int, int]:
    return int(x.shape[-2]), int(x.shape[-1])


# --- Grad-CAM ---------------------------------------------------------------------------


def fast_gradcam(
    model: nn.Module,
    layer: nn.Module,
    x: torch.Tensor,
    target: int,
    *,
    reshape: Reshape | None = None,
) -> np.ndarray:
    if reshape is not None:  # a transformer's tokens: the shared pass reshapes them
        from explainlab.cam.gradients import gradient_cams

        return gradient_cams(["gradcam"], model, layer, x, [target], reshape=reshape)["gradcam"][0]
    with model_kept(model):
        split = split_at(model, layer, x)
        check_target(target, split.num_classes)
        if split.path != "fx":
            # Without a separate tail the library's full backward pass is what there is.
            raise UseLibrary(f"Grad-CAM without a separate tail ({split.reason})")
        with torch.enable_grad():
            a = split.activation.detach().clone().requires_grad_(True)
            (grad,) = torch.autograd.grad(split.tail(a)[0, target], a)
        weights = np.mean(grad.cpu().numpy(), axis=(2, 3))  # GradCAM.get_cam_weights
        return weighted_map(weights, split.activation, _size(x))


# --- AblationCAM ------------------------------------------------------------------------


def ablation_values(activation: torch.Tensor, batch_size: int) -> torch.Tensor:
    """The value pytorch-grad-cam writes into the ablated channel of each row of a batch.

    Its AblationLayer uses 0 when the activation's minimum is 0; otherwise row i gets
    ``min(batch) - 1e7``, where the batch minimum already includes rows 0..i-1, so the
    value steps down by 1e7 (in float32) along the batch and restarts with every batch."""
    low = activation.min()
    if low == 0:
        return torch.zeros(batch_size, dtype=activation.dtype, device=activation.device)
    values, current = [], low
    for _ in range(batch_size):
        current = current - ABLATION_VALUE
        values.append(current)
    return torch.stack(values)


def fast_ablationcam(
    model: nn.Module,
    layer: nn.Module,
    x: torch.Tensor,
    target: int,
    *,
    batch_size: int = 32,
    notes: list[str] | None = None,
) -> np.ndarray:
    """``batch_size`` is the library's: it sets the ablation values when the layer's
    minimum is not 0 (see :func:`ablation_values`), and the tail's batch. ``notes`` gets
    the reason when the whole model has to run for every batch (exact, not faster)."""
    with model_kept(model), torch.inference_mode():
        split = split_at(model, layer, x)
        check_target(target, split.num_classes)
        if split.path != "fx" and notes is not None:
            notes.append(f"AblationCAM ran the whole model per batch ({split.reason})")
        a = split.activation
        channels = a.shape[1]
        values = ablation_values(a, batch_size)
        scores = []
        for start in tqdm(
            range(0, channels, batch_size), desc="AblationCAM", unit="batch", leave=False
        ):
            chans = torch.arange(start, min(start + batch_size, channels), device=a.device)
            n = len(chans)
            batch = a.expand(n, *a.shape[1:]).clone()
            batch[torch.arange(n, device=a.device), chans] = values[:n, None, None]
            scores.append(split.tail(batch)[:, target].float().cpu())
        ablated = torch.cat(scores).numpy().astype(np.float32)[None]
        original = np.float32(split.logits[0, target].item())
        weights = (original - ablated) / original  # AblationCAM.get_cam_weights
        return weighted_map(weights, a, _size(x))


# --- ScoreCAM ---------------------------------------------------------------------------

_STATS_CHUNK = 256  # channels upsampled at once for their min and max


def _upsampled(a: torch.Tensor, channels: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    # nn.UpsamplingBilinear2d, which the library uses, is bilinear with align_corners=True.
    return F.interpolate(a[:, channels], size=size, mode="bilinear", align_corners=True)


def fast_scorecam(
    model: nn.Module,
    layer: nn.Module,
    x: torch.Tensor,
    target: int,
    *,
    batch_size: int = 32,
    bf16: bool = False,
) -> np.ndarray:
    """``bf16`` runs the masked passes under bfloat16 autocast: faster on CPUs with bf16
    support, not exact (the benchmark reports its deviation); off by default."""
    check_image(x)
    size = _size(x)
    with model_kept(model), torch.inference_mode():
        cap = capture(model, layer, x)
        check_target(target, int(cap.logits.shape[1]))
        # The library reads the activation after the forward pass (a reference on CPU).
        a = cap.after
        channels = a.shape[1]
        mins, maxs = [], []
        for start in range(0, channels, _STATS_CHUNK):
            idx = torch.arange(start, min(start + _STATS_CHUNK, channels), device=a.device)
            flat = _upsampled(a, idx, size).flatten(2)
            maxs.append(flat.max(dim=-1)[0])
            mins.append(flat.min(dim=-1)[0])
        low, high = torch.cat(mins, 1)[0], torch.cat(maxs, 1)[0]
        # (u - min) / (max - min + 1e-8) is exactly 0 where max == min: those channels all
        # mask the image to zeros, so one forward pass scores them all.
        constant = (high == low).nonzero().flatten().tolist()
        varying = (high != low).nonzero().flatten().tolist()
        units = varying + constant[:1]

        precision = (
            torch.autocast(x.device.type, dtype=torch.bfloat16)
            if bf16
            else contextlib.nullcontext()
        )
        unit_scores: list[torch.Tensor] = []
        step = min(batch_size, forward_chunk(x.device))  # scores do not depend on the batch
        for start in tqdm(range(0, len(units), step), desc="ScoreCAM", unit="batch", leave=False):
            idx = torch.tensor(units[start : start + step], device=a.device)
            lo, hi = low[idx][None, :, None, None], high[idx][None, :, None, None]
            masks = (_upsampled(a, idx, size) - lo) / (hi - lo + 1e-8)
            masked = (x[:, None] * masks[:, :, None])[0]  # as ScoreCAM builds input_tensors
            masked = masked.contiguous(memory_format=memory_format(x.device))
            with precision:
                out = model(masked)
            unit_scores.append(out[:, target].float().cpu())
        per_unit = torch.cat(unit_scores)
        scores = torch.empty(channels, dtype=torch.float32)
        scores[varying] = per_unit[: len(varying)]
        if constant:
            scores[constant] = per_unit[len(varying)]
        weights = torch.softmax(scores.view(1, channels), dim=-1).numpy()
        return weighted_map(weights, a, size)
