"""Throughput of ``explainlab evaluate`` (images per second, one method at a time) in one
process (torch's default threads, and one) and on a local Ray cluster of one and of two
one-CPU workers (one torch thread each), on the offline
EfficientNet-Lite0: ``python -m benchmarks.evaluate_ray [--images N]``. Each cluster is
warmed first (its workers started, torch imported); a timed run includes what a shard
costs on a worker (building the model, the files sent back) and the merge."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

METHODS = ("gradcam", "layercam", "randomcam")
MEASURES = ("confidence_drop", "sparseness")
SHARDS = 4


def _images(folder: Path, count: int) -> Path:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for i in range(count):
        pixels = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"img{i:04d}.png")
    return folder


def _rate(model, images: Path, out: Path, method: str, **ray) -> float:
    import explainlab as xl

    count = len(list(images.iterdir()))
    start = time.perf_counter()
    xl.evaluate(
        model, images, [method], MEASURES, out, batch_size=8, progress=False, report=False, **ray
    )
    return count / (time.perf_counter() - start)


def main(images: int = 48) -> int:
    import ray
    import torch

    from explainlab.models import load_model

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    model = load_model("efficientnet_lite0", "cpu")
    rates: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="explainlab-bench-") as tmp:
        root = Path(tmp)
        data, warm = _images(root / "images", images), _images(root / "warm", SHARDS)
        _rate(model, warm, root / "warm", METHODS[0])  # first calls: imports, graph splits
        for threads in (torch.get_num_threads(), 1):
            column = f"1 process, {threads} thr"
            torch.set_num_threads(threads)
            rates[column] = {m: _rate(model, data, root / column / m, m) for m in METHODS}
        for workers in (1, 2):
            column = f"Ray, {workers} worker{'s' * (workers > 1)}"
            ray.init(
                address="local", num_cpus=workers, include_dashboard=False, logging_level="ERROR"
            )
            try:
                _rate(model, warm, root / column / "warm", METHODS[0], ray="auto", shards=SHARDS)
                rates[column] = {
                    m: _rate(model, data, root / column / m, m, ray="auto", shards=SHARDS)
                    for m in METHODS
                }
            finally:
                ray.shutdown()
    print(f"images per second, {images} images of 256 px, measures {', '.join(MEASURES)}")
    print(f"{'method':12}" + "".join(f"{c:>18}" for c in rates))
    for method in METHODS:
        print(f"{method:12}" + "".join(f"{rates[c][method]:18.2f}" for c in rates))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.evaluate_ray", description=__doc__)
    parser.add_argument("--images", type=int, default=48, help="images per run (default 48)")
    raise SystemExit(main(parser.parse_args().images))
