"""The map on the crop from a raw attribution, by the rule the settings name."""

from __future__ import annotations

import numpy as np
import torch

from explainlab.masks import normalise


def attribution_map(raw: torch.Tensor, rule: str) -> np.ndarray:
    """One input's raw attribution (C, H, W) as an (H, W) float32 map in [0, 1]:
    ``"absolute"``: |raw| summed over channels; ``"positive"``: ReLU of the channel sum;
    then min-max normalised (a constant map becomes all zeros)."""
    raw = raw.detach().double().cpu()
    if rule == "absolute":
        per_pixel = raw.abs().sum(dim=0)
    elif rule == "positive":
        per_pixel = raw.sum(dim=0).clamp(min=0)
    else:
        raise ValueError(f"unknown map rule {rule!r}; use 'absolute' or 'positive'")
    return normalise(per_pixel.numpy()).astype(np.float32)
