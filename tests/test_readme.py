"""The README's "Use from Python" section runs as written (offline: the offline model,
two mission images under the names the README uses, and a CLIP stand-in in OpenAI's
file format for the dissection)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explainlab import assets
from helpers import install_clip_stand_in

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(section: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {section}\n")
    end = text.find("\n## ", start + 1)
    body = text[start : end if end > 0 else None]
    return re.findall(r"```python\n(.*?)```", body, flags=re.S)


def _probe_images(samples: Path, folder: Path, count: int) -> None:
    """``count`` probe images cut from the ten mission images (soft_wpmi keeps the top 100
    images of each unit, so a probe set needs more than that)."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    images = [Image.open(p).convert("RGB") for p in sorted(samples.iterdir())]
    for i in range(count):
        image = images[i % len(images)]
        side = int(rng.integers(96, min(image.size)))
        left = int(rng.integers(0, image.width - side + 1))
        top = int(rng.integers(0, image.height - side + 1))
        cut = image.crop((left, top, left + side, top + side)).resize((128, 128))
        cut.save(folder / f"probe_{i:03d}.jpg", quality=90)


def test_the_section_has_code():
    assert len(python_blocks("Use from Python")) >= 4


def test_use_from_python_runs_as_written(tmp_path, monkeypatch, mirror):
    samples = mirror / "imagenet-samples"
    shutil.copy(samples / "n01443537_goldfish.JPEG", tmp_path / "goldfish.jpg")
    shutil.copy(samples / "n01608432_kite.JPEG", tmp_path / "kite.jpg")
    _probe_images(samples, tmp_path / "probe_images", count=120)
    install_clip_stand_in(tmp_path / "clip", monkeypatch)
    monkeypatch.setenv("EXPLAINLAB_MIRROR", f"{tmp_path / 'clip'}:{mirror}")
    monkeypatch.setattr(assets, "_mirror_index", assets._mirror_index.__wrapped__)
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    namespace: dict = {}
    try:
        for number, block in enumerate(python_blocks("Use from Python"), 1):
            try:
                exec(compile(block, f"README block {number}", "exec"), namespace)
            except Exception as exc:  # name the block that failed
                pytest.fail(f"README block {number} failed: {type(exc).__name__}: {exc}")
    finally:
        torch.set_num_threads(threads)
    assert (tmp_path / "out" / "goldfish_cams" / "panel.png").is_file()
    assert (tmp_path / "out" / "goldfish_lime" / "mask.npy").is_file()
    units = namespace["units"].labels
    assert set(units["layer"]) == {"layer3", "layer4"} and len(units) == 256 + 512


def test_the_methods_table_is_the_registry():
    """The README lists every registered method as `explainlab methods --markdown` does."""
    from explainlab.methods.listing import markdown

    assert markdown() in README.read_text(encoding="utf-8")
