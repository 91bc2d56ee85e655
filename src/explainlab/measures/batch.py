"""What the measures against a model take: :class:`ModelBatch` (the model, a batch of
inputs, their maps and explained classes, the seed of the random draws, and, for the
measures that re-run the method, the method itself), and the model's probabilities.

Every such measure returns one value per image (an array of N), so a caller streaming a
dataset calls it once per batch. Torch is imported where a function needs it: listing
the registry loads no torch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

# explain(model, inputs (N,3,H,W), targets (N,)) -> maps (N,H,W): the method under test
ExplainFn = Callable[["torch.nn.Module", "torch.Tensor", np.ndarray], np.ndarray]


@dataclass(frozen=True, eq=False, kw_only=True)
class ModelBatch:
    """N images, their maps, and the model that was explained."""

    model: torch.nn.Module  # in eval mode; returns logits
    inputs: torch.Tensor  # (N, 3, H, W), as the model takes them (normalised)
    maps: np.ndarray  # (N, H, W): the maps of the method on those inputs
    targets: np.ndarray  # (N,) the explained classes
    explain: ExplainFn | None = None  # the method, for measures that re-run it
    seed: int = 0  # of every random draw a measure makes

    def __post_init__(self) -> None:
        n, _, h, w = self.inputs.shape
        if self.maps.shape != (n, h, w) or len(self.targets) != n:
            raise ValueError(
                f"maps {self.maps.shape} and targets ({len(self.targets)}) must match "
                f"the inputs {tuple(self.inputs.shape)} as (N, H, W) and (N,)"
            )

    def explained(self) -> ExplainFn:
        if self.explain is None:
            raise ValueError("this measure re-runs the method: give ModelBatch an explain")
        return self.explain


def probabilities(model: torch.nn.Module, inputs: torch.Tensor, targets) -> np.ndarray:
    """Softmax probability of each input's class in ``targets`` (float64, on the CPU)."""
    import torch

    with torch.no_grad():
        probs = torch.softmax(model(inputs), dim=1)
    rows = torch.arange(len(inputs), device=probs.device)
    index = torch.as_tensor(np.asarray(targets), device=probs.device)
    return probs[rows, index].double().cpu().numpy()


def normalise_by_max(maps: np.ndarray) -> np.ndarray:
    """Each map divided by its largest absolute value (an all-zero map stays zero): Quantus'
    ``normalise_by_max`` applied to one image at a time, so a map's score never depends on
    the other maps of its batch."""
    maps = np.asarray(maps, dtype=np.float64)
    peak = np.abs(maps).reshape(len(maps), -1).max(axis=1)
    return maps / np.where(peak > 0, peak, 1.0)[:, None, None]
