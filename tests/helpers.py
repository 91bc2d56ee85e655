"""Builders shared by tests: a model with planted evidence, and crafted image files."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import nn

from explainlab.images import IMAGENET_GEOMETRY, to_tensor


class _Gate(nn.Module):
    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mask


class RedInBoxNet(nn.Module):
    """A classifier whose evidence for class ``target`` is red pixels inside ``box`` only.

    ``features`` (the CAM target layer, 4 x 28 x 28): channel 0 is the per-cell mean of
    ReLU(redness), kept inside the box and zeroed outside; channels 1-3 (greenness,
    blueness, brightness) are everywhere but carry no weight for ``target``. ``head`` is
    global average pooling and a linear layer, as in a ResNet. So red outside the box is
    a distractor the right explanation must ignore. ``box`` = (top, left, bottom, right)
    in input pixels, multiples of ``cell``."""

    def __init__(
        self,
        box: tuple[int, int, int, int],
        *,
        size: int = 224,
        cell: int = 8,
        num_classes: int = 5,
        target: int = 2,
    ) -> None:
        super().__init__()
        self.box, self.target = box, target
        pixel = nn.Conv2d(3, 4, kernel_size=1)
        with torch.no_grad():
            pixel.weight.copy_(
                torch.tensor(
                    [[1.0, -0.5, -0.5], [-0.5, 1.0, -0.5], [-0.5, -0.5, 1.0], [1 / 3, 1 / 3, 1 / 3]]
                ).view(4, 3, 1, 1)
            )
            pixel.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 3.0]))
        mask = torch.ones(1, 4, size // cell, size // cell)
        top, left, bottom, right = box
        mask[0, 0] = 0.0
        mask[0, 0, top // cell : bottom // cell, left // cell : right // cell] = 1.0
        self.features = nn.Sequential(pixel, nn.ReLU(), nn.AvgPool2d(cell), _Gate(mask))
        linear = nn.Linear(4, num_classes)
        with torch.no_grad():
            linear.weight.zero_()
            linear.bias.fill_(0.5)
            linear.weight[target, 0] = 20.0
            linear.bias[target] = 0.0
            for c in range(num_classes):
                if c != target:
                    linear.weight[c, 1 + c % 3] = 0.5
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), linear)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def red_patches_image(
    box: tuple[int, int, int, int],
    distractor: tuple[int, int, int, int],
    *,
    size: int = 224,
    seed: int = 0,
) -> np.ndarray:
    """A grey, noisy uint8 image with a red textured patch in ``box`` and another in ``distractor``."""
    rng = np.random.default_rng(seed)
    image = np.clip(rng.normal(128, 20, (size, size, 3)), 0, 255)
    for top, left, bottom, right in (box, distractor):
        h, w = bottom - top, right - left
        patch = np.stack(
            [rng.uniform(170, 255, (h, w)), rng.uniform(0, 60, (h, w)), rng.uniform(0, 60, (h, w))],
            -1,
        )
        image[top:bottom, left:right] = patch
    return image.astype(np.uint8)


def imagenet_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) ImageNet-normalised tensor."""
    return to_tensor(image, IMAGENET_GEOMETRY)[None]


def huge_png_header(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims width x height (its data is a single empty row)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )
    path.write_bytes(data)
    return path


def explainlab_process(argv: list[str], *, stderr: int = -3) -> subprocess.Popen:
    """``explainlab ARGV`` in its own process group, on one thread: every run then does
    the same arithmetic in the same order, so outputs compare exactly. ``stderr``:
    subprocess.DEVNULL (-3, default) or subprocess.PIPE (text)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "explainlab", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
        start_new_session=True,
    )


# --- a stand-in for OpenAI's CLIP file ------------------------------------------------


class _Holder(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def openai_archive(state: dict[str, torch.Tensor], path) -> None:
    """A TorchScript archive whose state dict is ``state``: the format of OpenAI's files."""
    root = _Holder()
    for key, value in state.items():
        *parents, leaf = key.split(".")
        module = root
        for part in parents:
            if part not in module._modules:
                module.add_module(part, _Holder())
            module = module._modules[part]
        module.register_buffer(leaf, value.clone())
    torch.jit.script(root).save(str(path))


# open_clip's model config of ``tiny_openai_clip`` (OpenAI's architecture: QuickGELU,
# 64-wide heads), for tests that register it under a model name
TINY_CLIP_CONFIG = {
    "embed_dim": 32,
    "quick_gelu": True,
    "vision_cfg": {"image_size": 224, "layers": 2, "width": 64, "patch_size": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 1, "layers": 2},
}


def tiny_openai_clip(seed: int = 0):
    """A small CLIP of OpenAI's architecture (``TINY_CLIP_CONFIG``) and its weights in
    OpenAI's file format: fp16 tensors, no attention-mask buffer, three size entries."""
    import copy

    from open_clip.model import CLIP

    torch.manual_seed(seed)
    model = CLIP(**copy.deepcopy(TINY_CLIP_CONFIG)).eval()
    state = {k: v.half() for k, v in model.state_dict().items() if k != "attn_mask"}
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    state |= {
        "input_resolution": torch.tensor(224),
        "context_length": torch.tensor(77),
        "vocab_size": torch.tensor(49408),
    }
    return model, state


def install_clip_stand_in(folder: Path, monkeypatch) -> nn.Module:
    """``tiny_openai_clip`` as ``ViT-B-16.pt`` in ``folder`` (a mirror), registered with
    its own checksum: CLIP's real loading path on a file of OpenAI's format."""
    import dataclasses

    from explainlab import assets

    model, state = tiny_openai_clip()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ViT-B-16.pt"
    openai_archive(state, path)
    real = assets.ASSETS["ViT-B-16.pt"]
    checksum = f"sha256:{assets.file_digest(path)}"
    monkeypatch.setitem(assets.ASSETS, real.filename, dataclasses.replace(real, checksum=checksum))
    return model
