"""CLIP-Dissect on the CPU: both ResNet18s x layer2/3/4, ``--probe-limit`` probe images
(2000 by default), CLIP ViT-B/16 (QuickGELU) and the 20k concept set.

Prints the seconds of every phase, the total, and (when run below 2000 images) the
total extrapolated to 2000 images: the image passes scale with the number of images,
the text features and the similarities do not (soft_wpmi reads top_k images per unit).

Two comparisons with the reference computation, same inputs, same process:
- text features: open_clip's own ``encode_text`` (77 tokens) against ours (trimmed);
- soft_wpmi: the reference's formulation (the whole images x concepts matrix, softmax,
  one unit at a time) against ours (chunked by units, only the top images' rows).

Offline, what is unavailable is replaced and said: random CLIP weights, random ResNet
weights, and probe images synthesised from the ten mission images (random crops, flips
and colour changes) when Broden is not in the cache or mirror.

``python -m benchmarks dissect`` (2000 images) or
``python -m benchmarks.dissect --probe-limit 100`` (a quick check)."""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageEnhance

from explainlab import assets
from explainlab.dissect.activations import (
    TargetModel,
    load_target,
    random_target,
    record_activations,
)
from explainlab.dissect.clip_features import OpenClipEncoder
from explainlab.dissect.concepts import load_concepts
from explainlab.dissect.probes import probe_loader, resolve_probe
from explainlab.dissect.settings import DissectSettings
from explainlab.dissect.similarity import FactoredScores, compute_similarity
from explainlab.errors import MissingAssetsError
from explainlab.images import mission_sources, open_rgb

MODELS = ("resnet18", "resnet18_places365")
LAYERS = ("layer2", "layer3", "layer4")
PROBE_LIMIT = 2000
TARGET_MINUTES = 30


def synthesise_probe(folder: Path, n: int, seed: int = 0) -> Path:
    """``n`` probe images from the ten mission images: random crops (30-100% of the
    area), flips, rotations, brightness/contrast/colour changes; JPEG on disk."""
    rng = np.random.default_rng(seed)
    bases = [open_rgb(s.path) for s in mission_sources()]
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        image = bases[i % len(bases)]
        w, h = image.size
        scale = math.sqrt(rng.uniform(0.3, 1.0))
        cw, ch = int(w * scale), int(h * scale)
        left, top = rng.integers(0, w - cw + 1), rng.integers(0, h - ch + 1)
        out = image.crop((left, top, left + cw, top + ch)).resize((256, 256))
        if rng.random() < 0.5:
            out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        out = out.rotate(float(rng.uniform(-20, 20)))
        for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
            out = enhancer(out).enhance(float(rng.uniform(0.6, 1.4)))
        out.save(folder / f"synth_{i:05d}.jpg", quality=90)
    return folder


def _probe(limit: int, workdir: Path):
    try:
        assets.fetch("broden1_224.zip", allow_download=False)
        return resolve_probe(["broden"], limit=limit), "Broden (broden1_224), fixed-seed subset"
    except MissingAssetsError:
        folder = synthesise_probe(workdir / "probe", limit)
        note = (
            f"SYNTHESISED: Broden is not available offline, so {limit} images were made from "
            "the ten mission images (crops, flips, rotations, colour changes)"
        )
        return resolve_probe([str(folder)]), note


def _target(name: str) -> TargetModel:
    try:
        return load_target(name, "cpu")
    except MissingAssetsError:
        return random_target(name, seed=0)


def _encoder() -> tuple[OpenClipEncoder, str]:
    name = DissectSettings().clip_model
    try:
        return OpenClipEncoder(name, "openai"), f"open_clip {name}, pretrained openai"
    except MissingAssetsError:
        encoder = OpenClipEncoder(name, "none")
        return (
            encoder,
            f"RANDOM open_clip {name} weights (the real ones are not available offline)",
        )


def reference_soft_wpmi(
    clip_feats: torch.Tensor, acts: torch.Tensor, top_k: int = 100
) -> torch.Tensor:
    """The reference's formulation: softmax of the whole images x concepts matrix, then
    one unit at a time (a=10, lam=1, min_prob=1e-7, p from 0.998 to 0.97)."""
    probs = torch.softmax(10.0 * clip_feats, dim=1)
    top = torch.topk(acts, k=top_k, dim=0).indices
    p = (0.998 - torch.arange(top_k) / top_k * (0.998 - 0.97)).unsqueeze(1)
    rows = []
    for unit in range(acts.shape[1]):
        gathered = probs[top[:, unit]]
        rows.append(torch.log(1 + p * (gathered - 1) + 1e-7).sum(dim=0, keepdim=True))
    given = torch.cat(rows)
    prior = torch.logsumexp(given, dim=0, keepdim=True) - math.log(given.shape[0])
    return given - prior


def run(probe_limit: int = PROBE_LIMIT, workers: int = 2) -> int:
    seconds: dict[str, float] = {}
    scales: dict[str, bool] = {}  # does the phase scale with the number of images?

    def timed(name: str, scales_with_images: bool, fn):
        start = time.perf_counter()
        result = fn()
        seconds[name] = time.perf_counter() - start
        scales[name] = scales_with_images
        print(f"  {name:44s} {seconds[name]:8.1f} s", flush=True)
        return result

    with tempfile.TemporaryDirectory(prefix="bench-dissect-") as tmp:
        probe, probe_note = timed(
            "probe images (prepare)", True, lambda: _probe(probe_limit, Path(tmp))
        )
        n = len(probe)
        print(f"probe set: {n} images; {probe_note}")
        concepts = load_concepts("20k")
        (encoder, clip_note) = timed("CLIP model load", False, _encoder)
        print(f"CLIP: {clip_note}")

        def image_features():
            feats = []
            for _, batch, _ in probe_loader(
                probe.paths, encoder.preprocess, batch_size=32, num_workers=workers
            ):
                feats.append(encoder.encode_images(batch))
            return torch.cat(feats)

        images = timed("CLIP image features", True, image_features)
        texts = timed(
            f"CLIP text features, ours ({len(concepts)} words)",
            False,
            lambda: encoder.encode_texts(concepts.words),
        )

        # the library's own text encoding on a sample (all 20k would take long), same words
        sample = list(concepts.words[:: max(1, len(concepts) // 512)])[:512]
        encoder.trim_text = False
        library = timed(
            "CLIP text, open_clip encode_text (512 words)",
            False,
            lambda: encoder.encode_texts(sample),
        )
        encoder.trim_text = True
        ours = timed(
            "CLIP text, ours (the same 512 words)", False, lambda: encoder.encode_texts(sample)
        )
        text_ratio = (
            seconds["CLIP text, open_clip encode_text (512 words)"]
            / seconds["CLIP text, ours (the same 512 words)"]
        )
        text_diff = float((library - ours).abs().max())

        scores = FactoredScores(images, texts)
        compared = None
        for name in MODELS:
            target = _target(name)
            print(f"{name}: {target.weights}")
            loader = probe_loader(
                probe.paths, target.geometry.transform, batch_size=32, num_workers=workers
            )
            acts, valid, _ = timed(
                f"{name} activations (3 layers, one pass)",
                True,
                lambda target=target, loader=loader: record_activations(
                    target, LAYERS, loader, "avg"
                ),
            )
            top_k = min(100, int(valid.sum()))
            for layer in LAYERS:
                a = torch.from_numpy(acts[layer])
                sim = timed(
                    f"{name} {layer} soft_wpmi ({a.shape[1]} units)",
                    False,
                    lambda a=a, k=top_k: compute_similarity("soft_wpmi", scores, a, {"top_k": k}),
                )
                if compared is None and layer == "layer4":
                    dense = scores.block(slice(None))
                    ref = timed(
                        "soft_wpmi, reference formulation (layer4)",
                        False,
                        lambda a=a, dense=dense, k=top_k: reference_soft_wpmi(dense, a, k),
                    )
                    compared = (
                        seconds["soft_wpmi, reference formulation (layer4)"],
                        seconds[f"{name} {layer} soft_wpmi ({a.shape[1]} units)"],
                        float((ref - sim).abs().max()),
                        float(ref.abs().max()),
                    )

    # the dissection itself: not the side comparisons, not making the probe images
    pipeline = [
        k for k in seconds if "512 words" not in k and "reference" not in k and "prepare" not in k
    ]
    total = sum(seconds[k] for k in pipeline)
    factor = PROBE_LIMIT / n
    projected = sum(seconds[k] * (factor if scales[k] else 1.0) for k in pipeline)
    print("\ncomparisons (same inputs, same process):")
    print(
        f"  text features: open_clip {seconds['CLIP text, open_clip encode_text (512 words)']:.2f} s, "
        f"ours {seconds['CLIP text, ours (the same 512 words)']:.2f} s, ratio {text_ratio:.1f}x, "
        f"max abs diff {text_diff:.2e}"
    )
    if compared:
        ref_s, ours_s, diff, scale = compared
        print(
            f"  soft_wpmi layer4: reference formulation {ref_s:.2f} s, ours {ours_s:.2f} s, "
            f"ratio {ref_s / ours_s:.2f}x, max abs diff {diff:.2e} (values up to {scale:.1f})"
        )
    print(
        f"\ntotal: {total / 60:.1f} min for {n} probe images, both models x {len(LAYERS)} layers, "
        f"{len(concepts)} concepts"
    )
    if n != PROBE_LIMIT:
        print(
            f"extrapolated to {PROBE_LIMIT} images (image passes x{factor:.1f}, the rest as measured): "
            f"{projected / 60:.1f} min (target <= {TARGET_MINUTES} min)"
        )
    cpus = os.cpu_count()
    print(
        f"machine: {cpus} CPUs, torch threads {torch.get_num_threads()}; shared machines slow this down"
    )
    return 0


def main(images: int = 2) -> int:
    """Entry of ``python -m benchmarks``: ``images`` is not used (the probe size is
    ``EXPLAINLAB_BENCH_PROBE_LIMIT`` or 2000)."""
    return run(int(os.environ.get("EXPLAINLAB_BENCH_PROBE_LIMIT", PROBE_LIMIT)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--probe-limit", type=int, default=PROBE_LIMIT)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    raise SystemExit(run(args.probe_limit, args.workers))
