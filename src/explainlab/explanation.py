"""The records the Python API returns: :class:`Explanation` (one input, every method's
map on it) and :class:`LimeExplanation` (LIME's own attribution: superpixels and their
weights). They hold arrays in memory; only ``.save(folder)`` writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from explainlab import runfolder


@dataclass(eq=False, kw_only=True)
class Explanation:
    """One input explained by one or more methods, for one class.

    ``crop`` is what the maps lie on: the model's crop of an image, or, for a tensor
    input, a picture of the tensor (un-normalised with the model's mean and std where its
    preprocessing is known, else min-max scaled). ``raw`` holds a method's own
    attribution where it has one beyond the map (``raw["lime"]``: a
    :class:`LimeExplanation`; a gradient or perturbation method's: its (C, H, W) tensor,
    as captum returns it)."""

    key: str
    crop: np.ndarray  # (H, W, 3) uint8
    tensor: torch.Tensor  # (3, H, W): the input as the model took it, on the CPU
    target: int  # the class explained
    target_name: str
    maps: dict[str, np.ndarray]  # method -> (H, W) float32 in [0, 1]
    raw: dict[str, Any]  # method -> its own attribution, where it has one
    prediction: dict[str, Any]  # top-5 ids, names, probabilities
    layer: str  # the target layer ("" when no method needs one)
    seconds: dict[str, float]  # method -> wall time
    impl: dict[str, dict[str, str]]  # method -> what computed it, and a note on why
    provenance: dict[str, Any] = field(default_factory=dict)

    def save(self, folder: str | Path) -> Path:
        """``<method>.npy`` and ``.png`` overlays, ``panel.png`` and ``item.json``; the
        gradient and perturbation methods' raw attributions as ``<method>_raw.npy``; LIME's
        superpixels, mask, weights and figures under ``lime/``."""
        from explainlab.cam.figures import save_overlay, save_panel

        folder = Path(folder)
        for method, saliency in self.maps.items():
            runfolder.save_npy(folder / f"{method}.npy", saliency)
            save_overlay(self.crop, saliency, folder / f"{method}.png")
        for method, attribution in self.raw.items():
            if isinstance(attribution, torch.Tensor):  # captum's (RISE's): (C, H, W)
                runfolder.save_npy(folder / f"{method}_raw.npy", attribution.numpy())
        title = f"{self.key}: {self.target_name}  [{self.provenance.get('model', '')}]"
        save_panel(self.crop, self.maps, self.seconds, title, folder / "panel.png")
        runfolder.write_json(folder / "item.json", self._record())
        if "lime" in self.raw:  # its own panel.png: kept apart
            self.raw["lime"].save(folder / "lime")
        return folder

    def _record(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "target": self.target,
            "target_name": self.target_name,
            "prediction": self.prediction,
            "layer": self.layer,
            "seconds": self.seconds,
            "impl": self.impl,
            **self.provenance,
        }


@dataclass(eq=False, kw_only=True)
class LimeExplanation:
    """One image's LIME explanation for one class, on the model's crop."""

    key: str
    crop: np.ndarray
    label: int
    label_name: str
    probability: float
    segments: np.ndarray  # (crop, crop) int32 superpixel ids
    weights: list[tuple[int, float]]  # every superpixel, by |weight| descending
    mask: np.ndarray  # (crop, crop) bool: the top ``num_features`` positive superpixels
    num_features: int
    params: dict[str, Any]  # the explain_instance arguments, readable form
    seconds: float
    provenance: dict[str, Any] = field(default_factory=dict)

    def weight_map(self) -> np.ndarray:
        """Each pixel carries its superpixel's weight."""
        from explainlab.masks import superpixel_map

        return superpixel_map(self.segments, dict(self.weights))

    def save(self, folder: str | Path) -> Path:
        """``segments.npy``, ``mask.npy``, ``weights.json`` and the figures."""
        from explainlab.lime.figures import save_figures

        folder = Path(folder)
        runfolder.save_npy(folder / "segments.npy", self.segments)
        runfolder.save_npy(folder / "mask.npy", self.mask)
        runfolder.write_json(
            folder / "weights.json",
            {
                "key": self.key,
                "label": self.label,
                "label_name": self.label_name,
                "probability": self.probability,
                "weights": [list(w) for w in self.weights],
                "params": self.params,
                "seconds": self.seconds,
                **self.provenance,
            },
        )
        save_figures(
            folder,
            self.crop,
            self.segments,
            self.weights,
            self.mask,
            num_features=self.num_features,
            title=f"{self.key}: LIME for {self.label_name} (p={self.probability:.2f})",
        )
        return folder
