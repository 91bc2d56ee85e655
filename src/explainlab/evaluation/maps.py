"""The maps of registered methods on a batch of images (N, 3, H, W), each image for its
own class, as batches where the method allows: the CAMs one pass serves share one
forward and backward pass of the batch (:func:`explainlab.cam.gradients.gradient_cams`),
the gradient and perturbation methods run on the batch (captum's, RISE); the other CAMs
run image by image (:func:`explainlab.cam.methods.cam_map`), and LIME and KernelSHAP
through :func:`explainlab.explaining.explain`. Every map is (H, W) in [0, 1]."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from explainlab.attributions.settings import ATTRIBUTION_KINDS, AttributionSettings
from explainlab.methods import MethodSpec, Passes, get_method
from explainlab.models import LoadedModel
from explainlab.models.targets import CamTarget

ONE_BY_ONE = frozenset({"lime", "kernelshap"})  # through explain(): superpixels of each crop


@dataclass(frozen=True, eq=False, kw_only=True)
class MapMaker:
    """How the methods of an evaluation are computed on one model."""

    model: LoadedModel
    where: CamTarget | None  # the CAM target layer, when a method needs one
    impl: str = "fast"
    # model inputs a method runs at once: a batch is split so that its images times the
    # method's forward passes per image stay below it (IntegratedGradients' 50 steps: one
    # image at a time); also ScoreCAM's masked images per pass
    batch_size: int = 32
    attributions: AttributionSettings = field(default_factory=AttributionSettings)
    passes: dict[str, Passes] = field(default_factory=dict)  # each method's, per image

    @classmethod
    def for_methods(
        cls, model: LoadedModel, names: Sequence[str], layer: str | None = None, **options
    ) -> MapMaker:
        from explainlab.estimate import method_passes, target_channels

        specs = [get_method(name) for name in names]
        layered = any(spec.layer for spec in specs)
        where = model.cam_target(layer) if layered else None
        channels = target_channels(model, layer) if layered else 0
        attributions = options.get("attributions", AttributionSettings())
        passes = {
            spec.name: method_passes(
                spec, channels, options.get("impl", "fast"), attributions, model.geometry.crop
            )
            for spec in specs
        }
        return cls(model=model, where=where, passes=passes, **options)

    def all(
        self, names: Sequence[str], x: torch.Tensor, targets: np.ndarray
    ) -> dict[str, tuple[np.ndarray, float]]:
        """``{method: ((N, H, W) float32 maps, seconds for the batch)}``; the CAMs of the
        shared pass each get that pass's seconds."""
        from explainlab.cam.fast import UseLibrary
        from explainlab.cam.gradients import SHARED

        out: dict[str, tuple[np.ndarray, float]] = {}
        shared = [n for n in names if n in SHARED] if self.impl == "fast" else []
        if shared:
            start = time.perf_counter()
            try:
                maps = self._shared(shared, x, targets)
            except UseLibrary:  # each image on its own then, as cam_map decides
                maps = {}
            seconds = time.perf_counter() - start
            out.update({name: (m, seconds) for name, m in maps.items()})
        for name in names:
            if name not in out:
                start = time.perf_counter()
                maps = self.one(name, x, targets)
                out[name] = (maps, time.perf_counter() - start)
        return {name: out[name] for name in names}

    def one(self, name: str, x: torch.Tensor, targets: np.ndarray) -> np.ndarray:
        """(N, H, W) float32 maps of method ``name``: what a measure that re-runs the
        method calls (:class:`explainlab.measures.batch.ModelBatch`'s ``explain``)."""
        from explainlab.cam.fast import UseLibrary
        from explainlab.cam.gradients import SHARED

        spec = get_method(name)
        targets = np.asarray(targets)
        if spec.name in ONE_BY_ONE:
            return self._explained(spec, x, targets)
        if spec.kind == "cam":
            if self.impl == "fast" and spec.name in SHARED:
                try:
                    return self._shared([spec.name], x, targets)[spec.name]
                except UseLibrary:
                    pass
            return self._cams(spec, x, targets)
        if spec.kind in ATTRIBUTION_KINDS:
            return self._attributions(spec, x, targets)
        raise ValueError(f"{spec.title} ({spec.kind}) cannot be evaluated yet")

    def explain_fn(self, name: str):
        """``fn(module, inputs, targets) -> maps``: the method, for the measures that re-run it."""
        return lambda _module, inputs, targets: self.one(name, inputs, np.asarray(targets))

    def _chunks(self, name: str, count: int) -> list[slice]:
        """Slices of ``count`` images, each run at once by method ``name``."""
        passes = self.passes.get(name, Passes(forward=1)).forward
        size = max(1, self.batch_size // max(passes, 1))
        return [slice(i, i + size) for i in range(0, count, size)]

    def _shared(
        self, names: Sequence[str], x: torch.Tensor, targets: np.ndarray
    ) -> dict[str, np.ndarray]:
        """The CAMs of the shared pass on ``x``, ``batch_size`` images at a time."""
        from explainlab.cam.gradients import gradient_cams

        parts = [
            gradient_cams(
                names,
                self.model.module,
                self.where.layer,
                x[part],
                targets[part].tolist(),
                reshape=self.where.reshape,
            )
            for part in self._chunks(names[0], len(x))
        ]
        return {name: np.concatenate([p[name] for p in parts]) for name in names}

    def _attributions(self, spec: MethodSpec, x: torch.Tensor, targets: np.ndarray) -> np.ndarray:
        from explainlab.attributions.compute import attribute

        return np.concatenate(
            [
                attribute(
                    spec.name,
                    self.model.module,
                    x[part],
                    targets[part].tolist(),
                    self.attributions,
                    layer=self.where.layer if spec.layer else None,
                    reshape=self.where.reshape if spec.layer else None,
                ).maps
                for part in self._chunks(spec.name, len(x))
            ]
        ).astype(np.float32)

    def _cams(self, spec: MethodSpec, x: torch.Tensor, targets: np.ndarray) -> np.ndarray:
        from explainlab.cam.methods import cam_map

        return np.stack(
            [
                cam_map(
                    spec.name,
                    self.model.module,
                    self.where.layer,
                    x[i : i + 1],
                    int(t),
                    impl=self.impl,
                    batch_size=self.batch_size,
                    reshape=self.where.reshape,
                ).map
                for i, t in enumerate(targets)
            ]
        ).astype(np.float32)

    def _explained(self, spec: MethodSpec, x: torch.Tensor, targets: np.ndarray) -> np.ndarray:
        from explainlab.explaining import explain

        found = explain(
            self.model,
            {f"image_{i}": one for i, one in enumerate(x)},
            [spec.name],
            [int(t) for t in targets],
            self.where.name if self.where is not None else None,
            attributions=self.attributions,
        )
        return np.stack([e.maps[spec.name] for e in found]).astype(np.float32)
