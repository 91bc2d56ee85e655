"""RISE (Petsiuk, Das and Saenko, 2018, "RISE: Randomized Input Sampling for Explanation
of Black-box Models"): the class's probability on the image seen through random masks,
as the weight of each mask in their sum. No library has it; this follows the paper.

Each mask is a ``cells`` x ``cells`` grid of cells kept with probability ``p``,
upsampled bilinearly to (cells + 1) x the cell size and cropped to the image at a random
shift of less than one cell (so that its edges fall anywhere, not on a fixed grid).
Hidden pixels take the baseline value (0: the mean colour under the model's
normalisation). The saliency of a pixel is ``sum_i P(class | x * M_i) M_i / (n p)``: its
expected score when it is kept (the paper's Monte Carlo estimate)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from explainlab.attributions.settings import AttributionSettings


def rise_masks(
    count: int, height: int, width: int, *, cells: int, probability: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The masks' grids (count, 1, cells, cells) and shifts (count, 2), drawn up front
    from one seeded generator: the same seed gives the same masks at any batch size."""
    generator = torch.Generator().manual_seed(seed)
    grids = (torch.rand(count, 1, cells, cells, generator=generator) < probability).float()
    cell_h, cell_w = math.ceil(height / cells), math.ceil(width / cells)
    shifts = torch.stack(
        [
            torch.randint(0, cell_h, (count,), generator=generator),
            torch.randint(0, cell_w, (count,), generator=generator),
        ],
        dim=1,
    )
    return grids, shifts


def upsampled(grids: torch.Tensor, shifts: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Grids (n, 1, s, s) upsampled to (s + 1) cells and cropped at their shifts: (n, 1, H, W)."""
    cells = grids.shape[-1]
    cell_h, cell_w = math.ceil(height / cells), math.ceil(width / cells)
    large = F.interpolate(grids, size=((cells + 1) * cell_h, (cells + 1) * cell_w), mode="bilinear")
    return torch.stack(
        [
            large[i, :, top : top + height, left : left + width]
            for i, (top, left) in enumerate(shifts.tolist())
        ]
    )


@torch.no_grad()
def rise(model: nn.Module, x: torch.Tensor, target, settings: AttributionSettings, **_):
    """RISE saliency (N, 1, H, W) of each input of ``x`` for its class in ``target``."""
    n, _, height, width = x.shape
    grids, shifts = rise_masks(
        settings.rise_masks,
        height,
        width,
        cells=settings.rise_cells,
        probability=settings.rise_probability,
        seed=settings.seed,
    )
    targets = [target] * n if isinstance(target, int) else list(target)
    saliency = torch.zeros(n, 1, height, width, device=x.device)
    for start in range(0, settings.rise_masks, settings.batch_size):
        stop = start + settings.batch_size
        masks = upsampled(grids[start:stop], shifts[start:stop], height, width).to(x.device)
        for i in range(n):
            seen = x[i] * masks + settings.baseline * (1 - masks)
            probability = torch.softmax(model(seen).float(), dim=1)[:, targets[i]]
            saliency[i] += (probability.view(-1, 1, 1, 1) * masks).sum(dim=0)
    return saliency / (settings.rise_masks * settings.rise_probability)
