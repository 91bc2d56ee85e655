"""Builders for the tuner's tests: the planted-evidence model as a LoadedModel on small
64x64 images (so that lime's 1000-sample defaults take a second), its images, and a cost
model with round, hand-set rates (so tests never measure this machine)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from explainlab.assignment.cost import CostModel, segmentation_key
from explainlab.assignment.settings import SEGMENTATIONS
from explainlab.images import Geometry, ImageSource
from explainlab.models.registry import LoadedModel, ModelSpec
from helpers import RedInBoxNet, red_patches_image

SIZE = 64
BOX = (16, 16, 40, 40)
GEOMETRY = Geometry(resize=SIZE, crop=SIZE)


def red_in_box_model() -> LoadedModel:
    net = RedInBoxNet(BOX, size=SIZE)
    names = [f"class {i}" for i in range(5)]
    spec = ModelSpec(
        name="red_in_box",
        description="planted-evidence test model",
        dataset="test",
        num_classes=5,
        geometry=lambda: GEOMETRY,
        target_layer="features",
        build=lambda: net,
        class_names=lambda: names,
    )
    return LoadedModel(
        spec=spec, module=net, device=torch.device("cpu"), class_names=names, geometry=GEOMETRY
    )


def red_sources(folder: Path, count: int = 2) -> list[ImageSource]:
    """``count`` images with the red patch in the box and a distractor elsewhere."""
    sources = []
    for i in range(count):
        path = folder / f"red{i}.png"
        distractor = (44, 44 - 12 * i, 60, 60 - 12 * i)
        Image.fromarray(red_patches_image(BOX, distractor, size=SIZE, seed=i)).save(path)
        sources.append(ImageSource(f"red{i}", path))
    return sources


def fixed_cost_model(
    model: str = "red_in_box", per_image: float = 0.01, segmentations: Sequence[Any] = ()
) -> CostModel:
    """Round rates: ``per_image`` seconds per model image (plus 2 ms per call), 0.1 s per
    default quickshift of an image (0.02 s for the shipped others and ``segmentations``),
    1 ms per lime-built image, a tenth of that for ours, 1 ms per fit."""
    crop = SIZE * SIZE
    others = [*SEGMENTATIONS, *segmentations]
    rates = {segmentation_key(s): 0.02 / crop for s in others}
    return CostModel(
        model=model,
        device="cpu",
        threads=1,
        machine="test",
        measured_at="2026-01-01T00:00:00+00:00",
        load_average=0.0,
        chunk_sizes=[1, 64],
        chunk_seconds=[0.002 + per_image, 0.002 + 64 * per_image],
        segmentation_per_pixel=rates | {"default": 0.1 / crop},
        row_per_pixel={"lime": 0.001 / crop, "fast": 0.0001 / crop},
        hidden_per_pixel={"lime": 0.00002 / crop, "fast": 0.0},
        fit_seconds=0.001,
        fit_cell_seconds=0.0,
    )
