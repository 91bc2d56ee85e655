"""Memory stays flat over a dataset: 2,000 images synthesised from the ten mission images
(random crops, flips and colour jitter, written as small JPEGs) evaluated in a fresh
process with a cheap method and measure on a random-weight ResNet-18 at 64 px; the peak
resident memory (VmHWM) after 2,000 images is within 10% of that after 200."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

IMAGES, EARLY, SIDE = 2000, 200, 64


def synthesise(sources: list[Path], folder: Path, count: int, seed: int = 0) -> Path:
    """``count`` JPEGs made from ``sources``: each a random crop (60-100% of the shorter
    side), flipped half the time, with jittered brightness, contrast and saturation,
    scaled to 80 px."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    originals = []
    for path in sources:
        with Image.open(path) as image:
            image = image.convert("RGB")
            image.thumbnail((160, 160))
            originals.append(image)
    for i in range(count):
        image = originals[i % len(originals)]
        side = int(min(image.size) * rng.uniform(0.6, 1.0))
        x = int(rng.integers(0, image.width - side + 1))
        y = int(rng.integers(0, image.height - side + 1))
        out = image.crop((x, y, x + side, y + side)).resize((80, 80))
        if rng.random() < 0.5:
            out = ImageOps.mirror(out)
        for enhance in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
            out = enhance(out).enhance(rng.uniform(0.7, 1.3))
        out.save(folder / f"synth{i:05d}.jpg", quality=85)
    return folder


RUN = """
import json, sys, torch
from torchvision.models import resnet18
import explainlab as xl

def hwm_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

torch.set_num_threads(1)
torch.manual_seed(0)
model = xl.wrap(resnet18(num_classes=10).eval(), geometry=xl.Geometry(resize={side}, crop={side}))
seen = {{}}
def on_batch(done, total):
    if done in ({early}, total):
        seen[done] = hwm_kib()
xl.evaluate(model, sys.argv[1], ["gradcam", "randomcam"], ["sparseness"], sys.argv[2],
            batch_size=50, progress=False, report=False, on_batch=on_batch)
print(json.dumps(seen))
"""


@pytest.mark.slow
def test_peak_memory_is_flat_over_2000_images(tmp_path, mirror):
    from explainlab.images import mission_sources

    images = synthesise([s.path for s in mission_sources()], tmp_path / "images", IMAGES)
    code = RUN.format(side=SIDE, early=EARLY)
    result = subprocess.run(
        [sys.executable, "-c", code, str(images), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=True,
    )
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    early, late = seen[str(EARLY)], seen[str(IMAGES)]
    print(
        f"VmHWM after {EARLY} images: {early / 1024:.1f} MiB, after {IMAGES}: {late / 1024:.1f} MiB"
    )
    assert late <= 1.10 * early, (early, late)
    values = (tmp_path / "out" / "values.csv").read_text().count("\n") - 1
    assert values == 2 * IMAGES  # every image, both methods
