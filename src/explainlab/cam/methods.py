"""One entry point for every CAM method and implementation: the method's
:class:`~explainlab.methods.MethodSpec` says what computes it."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from explainlab.cam.fast import UseLibrary
from explainlab.cam.library import library_cam
from explainlab.cam.settings import IMPLS
from explainlab.methods import get_method
from explainlab.models.targets import Reshape

TOKENS_NOTE = (
    "pytorch-grad-cam's with its reshape_transform: the fast variants split (N, C, H, W) maps only"
)
NO_FAST_NOTE = "pytorch-grad-cam's: the method has no fast variant"


@dataclass(frozen=True)
class CamMap:
    map: np.ndarray  # (H, W) float32 in [0, 1]
    impl: str  # what computed it: "fast", "library", or "ours" (a method of our own)
    note: str = ""  # why the fast variant did not run (or ran the whole model)


def _call(fn: Callable[..., Any], *args: Any, **options: Any) -> np.ndarray:
    """``fn(*args)`` with those of ``options`` it names as parameters."""
    params = inspect.signature(fn).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        options = {k: v for k, v in options.items() if k in params}
    return fn(*args, **options)


def cam_map(
    method: str,
    model: nn.Module,
    layer: nn.Module,
    x: torch.Tensor,
    target: int,
    *,
    impl: str = "fast",
    batch_size: int = 32,
    scorecam_bf16: bool = False,
    reshape: Reshape | None = None,
) -> CamMap:
    """The normalised (H, W) float32 map in [0, 1] of ``method`` for one image ``x`` (1, 3, H, W).

    ``impl="fast"`` uses our exact fast variants where they apply (same maps as the
    library within 1e-4) and pytorch-grad-cam's where they do not, saying why in the
    note; ``impl="library"`` always uses pytorch-grad-cam. A method of our own (its
    ``compute``) runs that whatever ``impl`` says. ``reshape`` turns a transformer's tokens
    into a map (see :mod:`explainlab.models.targets`). ``scorecam_bf16`` (fast ScoreCAM
    only) trades exactness for speed; off by default."""
    spec = get_method(method, "cam")
    if impl not in IMPLS:
        raise ValueError(f"unknown CAM implementation {impl!r}; known: {', '.join(IMPLS)}")
    if scorecam_bf16 and impl != "fast":
        raise ValueError("scorecam_bf16 applies to the fast ScoreCAM only, not impl 'library'")
    args = (model, layer, x, target)
    if spec.compute is not None:
        saliency = _call(spec.load("compute"), *args, batch_size=batch_size, reshape=reshape)
        return CamMap(saliency, "ours")
    fast = spec.load("fast") if spec.fast is not None else None
    if impl == "library" or fast is None or (reshape is not None and not _takes_tokens(fast)):
        saliency = library_cam(
            method, model, layer, x, target, batch_size=batch_size, reshape=reshape
        )
        if impl == "library":
            return CamMap(saliency, "library")
        return CamMap(saliency, "library", TOKENS_NOTE if reshape is not None else NO_FAST_NOTE)
    notes: list[str] = []
    try:
        saliency = _call(
            fast, *args, batch_size=batch_size, notes=notes, bf16=scorecam_bf16, reshape=reshape
        )
    except UseLibrary as reason:
        saliency = library_cam(
            method, model, layer, x, target, batch_size=batch_size, reshape=reshape
        )
        return CamMap(saliency, "library", str(reason))
    return CamMap(saliency, "fast", "; ".join(notes))


def _takes_tokens(fast: Callable[..., Any]) -> bool:
    """Whether a fast variant reshapes a transformer's tokens itself (names ``reshape``)."""
    return "reshape" in inspect.signature(fast).parameters


def cam_maps_sharing(
    methods: Sequence[str],
    model: nn.Module,
    layer: nn.Module,
    x: torch.Tensor,
    target: int,
    *,
    impl: str = "fast",
    **options: Any,
) -> dict[str, tuple[CamMap, float]]:
    """``{method: (its CamMap, seconds)}`` for one image ``x``: :func:`cam_maps_batch`
    of a batch of one."""
    return cam_maps_batch(methods, model, layer, x, [target], impl=impl, **options)[0]


def cam_maps_batch(
    methods: Sequence[str],
    model: nn.Module,
    layer: nn.Module,
    x: torch.Tensor,
    targets: Sequence[int],
    *,
    impl: str = "fast",
    **options: Any,
) -> list[dict[str, tuple[CamMap, float]]]:
    """For each image of ``x`` (N, 3, H, W) and its target, ``{method: (its CamMap,
    seconds)}``: :func:`cam_map` for each method, except that with ``impl="fast"`` two or
    more of the CAMs one pass can serve (:data:`explainlab.cam.gradients.SHARED`) share
    one forward and backward pass over the whole batch; each of them gets the pass's
    seconds per image, and a note naming the others."""
    from explainlab.cam.gradients import SHARED, gradient_cams

    out: list[dict[str, tuple[CamMap, float]]] = [{} for _ in targets]
    shared = [m for m in dict.fromkeys(methods) if m in SHARED] if impl == "fast" else []
    if len(shared) >= 2:
        start = time.perf_counter()
        try:
            maps = gradient_cams(
                shared, model, layer, x, list(targets), reshape=options.get("reshape")
            )
        except UseLibrary:  # each method on its own then, saying why
            maps = {}
        seconds = (time.perf_counter() - start) / len(targets)
        for method, saliency in maps.items():
            others = ", ".join(m for m in shared if m != method)
            note = f"one forward and backward pass shared with {others} ({seconds:.3f} s an image)"
            for i, found in enumerate(out):
                found[method] = (CamMap(saliency[i], "fast", note), seconds)
    for i, (found, target) in enumerate(zip(out, targets, strict=True)):
        for method in dict.fromkeys(methods):
            if method not in found:
                start = time.perf_counter()
                result = cam_map(method, model, layer, x[i : i + 1], target, impl=impl, **options)
                found[method] = (result, time.perf_counter() - start)
    return [{m: found[m] for m in dict.fromkeys(methods)} for found in out]


def compute_cam(
    method: str,
    model: nn.Module,
    layer: nn.Module,
    x: torch.Tensor,
    target: int,
    **options,
) -> np.ndarray:
    """:func:`cam_map`'s map alone."""
    return cam_map(method, model, layer, x, target, **options).map
