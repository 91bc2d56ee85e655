"""pytorch-grad-cam vs our exact fast CAM variants, side by side in one process.

For each model (EfficientNet-Lite0, offline and trained; ResNet50 IMAGENET1K_V2, or a
seeded random-weight ResNet50 when those weights are not available here; one model of
each further family, torchvision and timm, with random weights) and each method, both
implementations run on the same mission images with the same target (the model's
top-1) and batch size; we print seconds per image, the ratio library/ours and the
largest absolute difference between the normalised maps. Transformers (ViT, Swin) hand
their reshaped tokens over to the library, so their ratio is about 1 by design.

The library's ResNet50 AblationCAM and ScoreCAM take minutes per image on a 2-core
CPU, so they are timed on at most ``LIBRARY_HEAVY_IMAGES`` images (said in the output).

The rest of pytorch-grad-cam's CAMs (``FAMILY_MODELS``: EfficientNet-Lite0 and a seeded
random-weight ResNet18) get one row each the same way (the library-only ones too: our
dispatch against the library, ratio about 1), and two rows for the seven gradient CAMs
asked for together: the library runs seven times per image, ours one shared pass per
image, then one pass for all images as one batch.

    python -m benchmarks cam --images 2
    python -m benchmarks.cam --images 1 --models efficientnet_lite0   # a quick check
    python -m benchmarks.cam --models --images 2   # the CAM family's rows alone
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from explainlab.cam.gradients import GRADIENT_CAMS, gradient_cams
from explainlab.cam.methods import cam_maps_sharing, compute_cam
from explainlab.cam.settings import METHODS
from explainlab.cam.split import split_at
from explainlab.errors import ExplainlabError
from explainlab.images import IMAGENET_GEOMETRY, load_samples, mission_sources
from explainlab.methods import get_method, method_names
from explainlab.models import CamTarget, LoadedModel, load_model

MODELS: tuple[str, ...] = (
    "efficientnet_lite0",
    "resnet50",
    "torchvision:mobilenet_v3_small:none",
    "torchvision:densenet121:none",
    "timm:convnext_atto:none",
    "timm:vit_tiny_patch16_224:none",
    "timm:swin_tiny_patch4_window7_224:none",
)
# Methods per family where the library's take minutes an image on 2 cores.
METHODS_OF: dict[str, tuple[str, ...]] = {
    "torchvision:densenet121:none": ("gradcam", "ablationcam"),
    "timm:swin_tiny_patch4_window7_224:none": ("gradcam",),
}
TOLERANCE = 1e-4
BATCH_SIZE = 32
LIBRARY_HEAVY_IMAGES = 1  # library AblationCAM/ScoreCAM on ResNet50: ~290 s and ~200 s each
TARGET_RATIO = {"gradcam": 1.0, "ablationcam": 100.0, "scorecam": 3.0}
FAMILY_MODELS: tuple[str, ...] = ("efficientnet_lite0", "torchvision:resnet18:none")
FAMILY_TOLERANCE = 1e-5
ALL_SEVEN = "all seven gradient CAMs"


@dataclass
class Row:
    model: str
    method: str
    library_s: list[float] = field(default_factory=list)
    ours_s: list[float] = field(default_factory=list)
    diffs: list[float] = field(default_factory=list)
    handed_over: bool = False  # transformers: our fast variants hand over to the library

    def line(self) -> str:
        lib, ours = np.mean(self.library_s), np.mean(self.ours_s)
        ratio = lib / ours
        verdict = "met" if ratio >= TARGET_RATIO[self.method] else "NOT met"
        if self.handed_over:
            verdict = "n/a: the library's (tokens)"
        return (
            f"{self.model:20s} {self.method:12s} {lib:9.2f} ({len(self.library_s)}) "
            f"{ours:9.3f} ({len(self.ours_s)}) {ratio:9.1f}x {max(self.diffs):10.2e}  "
            f">= {TARGET_RATIO[self.method]:g}x {verdict}"
        )


def _resnet50(device: str) -> tuple[LoadedModel | torch.nn.Module, str]:
    try:
        return load_model("resnet50", device), "resnet50-V2"
    except ExplainlabError as exc:
        reason = "; ".join(line.strip() for line in str(exc).splitlines()[:2])
        print(
            f"ResNet50 IMAGENET1K_V2 weights are not available here ({reason}); using "
            "torchvision resnet50 with RANDOM weights (torch.manual_seed(0)) instead.",
            flush=True,
        )
        import torchvision

        torch.manual_seed(0)
        return torchvision.models.resnet50(weights=None).eval().to(device), "resnet50-random"


def _model(name: str, device: str) -> tuple[torch.nn.Module, CamTarget | None, object, str]:
    """(module, CAM target, geometry, label) for a benchmark model."""
    if name == "resnet50":
        loaded, label = _resnet50(device)
        if not isinstance(loaded, LoadedModel):
            layer = loaded.layer4[-1]
            return loaded, CamTarget("layer4.2", layer), IMAGENET_GEOMETRY, label
    else:
        loaded, label = load_model(name, device), name
    return loaded.module, loaded.cam_target(), loaded.geometry, label


def _timed(*args, **kwargs) -> tuple[np.ndarray, float]:
    """``compute_cam(*args, **kwargs)`` and its wall-clock seconds."""
    start = time.perf_counter()
    out = compute_cam(*args, **kwargs)
    return out, time.perf_counter() - start


def bench_model(
    name: str, images: int, methods: Sequence[str], device: str = "cpu"
) -> tuple[list[Row], bool]:
    module, where, geometry, label = _model(name, device)
    layer, reshape = where.layer, where.reshape
    methods = [m for m in methods if m in METHODS_OF.get(name, METHODS)]
    samples, failures = load_samples(mission_sources()[:images], geometry)
    for failure in failures:
        print(f"  skipped image {failure.key}: {failure.error}")
    if not samples:
        print(f"{label}: no images could be loaded")
        return [], False
    if reshape is None:
        split = split_at(module, layer, samples[0].tensor[None].to(device))
        how = f"activation {tuple(split.activation.shape[1:])}, tail path '{split.path}' {split.reason}"
    else:
        how = f"{where.reshape_description}: the library's CAMs (handed over)"
    print(f"\n--- {label}: target layer {where.name} ({type(layer).__name__}), {how}", flush=True)
    with torch.inference_mode():  # warm-up: one-off allocations are nobody's cost
        module(samples[0].tensor[None].to(device))
    rows, ok = [], True
    for method in methods:
        row = Row(label, method, handed_over=reshape is not None)
        heavy = name == "resnet50" and method != "gradcam"
        library_images = min(len(samples), LIBRARY_HEAVY_IMAGES) if heavy else len(samples)
        for i, sample in enumerate(samples):
            x = sample.tensor[None].to(device)
            with torch.inference_mode():
                target = int(module(x).argmax())
            ours, seconds = _timed(
                method, module, layer, x, target, batch_size=BATCH_SIZE, reshape=reshape
            )
            row.ours_s.append(seconds)
            if i < library_images:
                ref, seconds = _timed(
                    method,
                    module,
                    layer,
                    x,
                    target,
                    impl="library",
                    batch_size=BATCH_SIZE,
                    reshape=reshape,
                )
                row.library_s.append(seconds)
                row.diffs.append(float(np.abs(ours - ref).max()))
            print(
                f"  {method} {sample.key}: ours {row.ours_s[-1]:.3f} s"
                + (f", library {row.library_s[-1]:.2f} s" if i < library_images else "")
                + (
                    f" ({_constant_channels(module, layer, x)})"
                    if method == "scorecam" and reshape is None
                    else ""
                ),
                flush=True,
            )
        if library_images < len(samples):
            print(f"  (library {method} timed on {library_images} of {len(samples)} images)")
        ok &= max(row.diffs) <= TOLERANCE
        rows.append(row)
    if "scorecam" in methods and reshape is None:
        _bf16_line(module, layer, samples[0].tensor[None].to(device), label)
    return rows, ok


def _constant_channels(module, layer, x: torch.Tensor) -> str:
    """How many channels ScoreCAM can score with one shared all-zero masked input."""
    a = split_at(module, layer, x).activation.flatten(2)
    constant = int((a.amax(-1) == a.amin(-1)).sum())
    return f"{constant} of {a.shape[1]} channels constant, scored by one shared pass"


def _bf16_line(module, layer, x: torch.Tensor, label: str) -> None:
    with torch.inference_mode():
        target = int(module(x).argmax())
    exact, fp32_s = _timed("scorecam", module, layer, x, target, batch_size=BATCH_SIZE)
    approx, bf16_s = _timed(
        "scorecam", module, layer, x, target, batch_size=BATCH_SIZE, scorecam_bf16=True
    )
    print(
        f"  ScoreCAM bf16 autocast (off by default), {label}, first image: "
        f"{bf16_s:.2f} s vs fp32 {fp32_s:.2f} s ({fp32_s / bf16_s:.2f}x); "
        f"max abs diff to the fp32 map {np.abs(approx - exact).max():.3e}",
        flush=True,
    )


# --- the rest of the CAM family -----------------------------------------------------------


@dataclass
class FamilyRow:
    model: str
    what: str
    library_s: float = 0.0  # summed over the images
    ours_s: float = 0.0
    diff: float = 0.0
    impl: str = ""

    def line(self, images: int) -> str:
        ratio = self.library_s / self.ours_s
        return (
            f"{self.model:26s} {self.what:34s} {self.library_s / images:9.3f} "
            f"{self.ours_s / images:9.3f} {ratio:8.1f}x {self.diff:10.2e}  {self.impl}"
        )


def _family_methods() -> list[str]:
    """Every CAM method but AblationCAM and ScoreCAM, which the rows above time."""
    return [m for m in method_names("cam") if m not in ("ablationcam", "scorecam")]


def bench_family(name: str, images: int, device: str = "cpu") -> list[FamilyRow]:
    loaded = load_model(name, device)
    module, where = loaded.module, loaded.cam_target()
    samples, _ = load_samples(mission_sources()[:images], loaded.geometry)
    xs = [s.tensor[None].to(device) for s in samples]
    with torch.inference_mode():
        targets = [int(module(x).argmax()) for x in xs]
    print(f"\n--- {name}: the CAM family at {where.name}, {len(xs)} images", flush=True)
    options = {"batch_size": BATCH_SIZE, "reshape": where.reshape}
    rows: list[FamilyRow] = []
    library_maps: dict[str, list[np.ndarray]] = {}
    for method in _family_methods():
        row = FamilyRow(name, method)
        for x, target in zip(xs, targets, strict=True):
            ours, seconds = _timed(method, module, where.layer, x, target, **options)
            row.ours_s += seconds
            ref, seconds = _timed(method, module, where.layer, x, target, impl="library", **options)
            row.library_s += seconds
            row.diff = max(row.diff, float(np.abs(ours - ref).max()))
            library_maps.setdefault(method, []).append(ref)
        row.impl = "fast" if get_method(method).fast else "the library's (no fast variant)"
        rows.append(row)
        print(f"  {method}: ours {row.ours_s:.3f} s, library {row.library_s:.3f} s", flush=True)
    together = FamilyRow(name, f"{ALL_SEVEN}, per image", impl="one shared pass per image")
    batched = FamilyRow(name, f"{ALL_SEVEN}, {len(xs)} images", impl="one pass, one batch")
    for i, (x, target) in enumerate(zip(xs, targets, strict=True)):
        start = time.perf_counter()
        found = cam_maps_sharing(list(GRADIENT_CAMS), module, where.layer, x, target, **options)
        together.ours_s += time.perf_counter() - start
        for method in GRADIENT_CAMS:
            ref = library_maps[method][i]
            together.diff = max(together.diff, float(np.abs(found[method][0].map - ref).max()))
    start = time.perf_counter()
    maps = gradient_cams(
        GRADIENT_CAMS, module, where.layer, torch.cat(xs), targets, reshape=where.reshape
    )
    batched.ours_s = time.perf_counter() - start
    for method in GRADIENT_CAMS:
        for i in range(len(xs)):
            batched.diff = max(
                batched.diff, float(np.abs(maps[method][i] - library_maps[method][i]).max())
            )
    together.library_s = batched.library_s = sum(
        r.library_s for r in rows if r.what in GRADIENT_CAMS
    )
    return [*rows, together, batched]


def main(
    images: int = 2,
    models: Sequence[str] = MODELS,
    methods: Sequence[str] = METHODS,
    device: str = "cpu",
    family_models: Sequence[str] = FAMILY_MODELS,
) -> int:
    start_load = os.getloadavg()
    gpu = ""
    if device.startswith("cuda"):
        # Under TF32 the library disagrees with itself by ~1e-3 across batch sizes, so
        # the maps are compared (and timed) in full float32.
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
        gpu = f", GPU {torch.cuda.get_device_name(device)}, TF32 off"
    print(
        f"device {device}{gpu}; torch {torch.__version__}, {torch.get_num_threads()} torch threads, "
        f"{os.cpu_count()} CPUs, load average {start_load[0]:.2f}; "
        f"batch size {BATCH_SIZE}; tolerance {TOLERANCE:g} on normalised maps",
        flush=True,
    )
    rows: list[Row] = []
    ok = True
    for name in models:
        model_rows, model_ok = bench_model(name, images, methods, device)
        rows += model_rows
        ok &= model_ok
    if rows:
        print(
            f"\n{'model':20s} {'method':12s} {'library s/img (n)':>17s} {'ours s/img (n)':>15s} "
            f"{'ratio':>10s} {'max|diff|':>10s}  target"
        )
    for row in rows:
        print(row.line())
    family: list[FamilyRow] = []
    for name in family_models:
        family += bench_family(name, images, device)
    if family:
        print(
            f"\n{'model':26s} {'method':34s} {'library s/img':>13s} {'ours s/img':>9s} "
            f"{'ratio':>9s} {'max|diff|':>10s}  ours"
        )
        for row in family:
            print(row.line(images))
        if any(row.diff > FAMILY_TOLERANCE for row in family):
            ok = False
            print(f"FAILED: a map differs from the library's by more than {FAMILY_TOLERANCE:g}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (start {start_load[0]:.2f})")
    if not ok:
        print(f"FAILED: a map differs from the library's by more than {TOLERANCE:g}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cam", description=__doc__)
    parser.add_argument("--images", type=int, default=2, help="images per model (default 2)")
    parser.add_argument(
        "--models",
        nargs="*",
        default=list(MODELS),
        help="any model names (default: the list in this file)",
    )
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument(
        "--family-models",
        nargs="*",
        default=list(FAMILY_MODELS),
        help="models for the rest of the CAM family's rows (default: the list in this file)",
    )
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    args = parser.parse_args()
    sys.exit(main(args.images, args.models, args.methods, args.device, args.family_models))
