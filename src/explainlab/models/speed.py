"""How a model explainlab loads runs fastest on a CPU, as measured side by side on this
project's 2-core machine (``make bench BENCH_ARGS=forward``): weights in channels-last
memory format, and forward calls of a few images. On a GPU both are left as they are
(channels-last made EfficientNet-Lite0's depthwise convolutions several times slower
there, and large calls fill a GPU)."""

from __future__ import annotations

import torch
from torch import nn

CPU_CHUNK = 8  # images per forward call on a CPU: about 2x faster per image than 64
GPU_CHUNK = 64


def memory_format(device: torch.device) -> torch.memory_format:
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format


def for_speed(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` (already on ``device``) with its 4-D weights channels-last on a CPU; the
    values are unchanged, the convolutions' results equal to about 1e-5."""
    return module.to(memory_format=memory_format(device))


def forward_chunk(device: torch.device) -> int:
    """How many images to give the model per forward call on ``device``."""
    return CPU_CHUNK if device.type == "cpu" else GPU_CHUNK


def layout(module: nn.Module, device: torch.device) -> str:
    """How ``module`` runs, in a few characters (part of what a measured rate is of):
    channels-last or not, and the images per forward call."""
    weights = next((p for p in module.parameters() if p.ndim == 4), None)
    cl = weights is not None and weights.is_contiguous(memory_format=torch.channels_last)
    return f"{'cl' if cl else 'nchw'}{forward_chunk(device)}"
