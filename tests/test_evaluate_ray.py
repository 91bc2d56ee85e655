"""``explainlab evaluate --ray``: on a local Ray cluster of two workers, the shards run as
Ray tasks through the same code path, and the merged tables equal a single process's
byte for byte; an interrupt keeps the finished shards and a rerun submits only the
others; a model given by name is rebuilt on the workers; a worker's error reaches the
driver as itself; without Ray the error says how to install it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import explainlab as xl
from explainlab.errors import ConfigError, InputError
from explainlab.images import Geometry
from test_evaluate import CARD_FILES, run, same_tables, write_images

pytestmark = pytest.mark.usefixtures("one_thread")

QUIET = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_DEDUP_LOGS": "0"}  # offline, no prompts


@pytest.fixture(scope="module")
def cluster():
    """A new Ray instance on this machine with two one-CPU workers (never one found
    running: address "local"), shut down after the module."""
    ray = pytest.importorskip("ray")
    saved = {name: os.environ.get(name) for name in QUIET}
    os.environ.update(QUIET)
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="ERROR",
        object_store_memory=80 * 2**20,
    )
    yield ray
    ray.shutdown()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="module")
def small_model():
    from torchvision.models import resnet18

    torch.manual_seed(0)
    module = resnet18(num_classes=10).eval()
    return xl.wrap(module, geometry=Geometry(resize=64, crop=64), name="resnet18")


def finished_shards(out: Path) -> list[str]:
    return sorted(p.name for p in (out / "shards").glob("shard-*"))


def test_ray_shards_merge_into_one_runs_tables_and_a_rerun_runs_only_the_rest(
    tmp_path, cluster, small_model
):
    write_images(tmp_path / "images", 12)
    run(small_model, tmp_path / "images", tmp_path / "whole")

    def stop(done, total):  # Ctrl-C once the first shard is in
        raise KeyboardInterrupt

    out = tmp_path / "ray"
    with pytest.raises(KeyboardInterrupt):
        run(small_model, tmp_path / "images", out, ray="auto", shards=3, on_batch=stop)
    (kept,) = finished_shards(out)  # the others' tasks cancelled
    stamp = (out / "shards" / kept / "fingerprint.json").stat().st_mtime_ns

    tasks = []  # images done, after each shard a task computed

    def count(done, total):
        tasks.append(done)

    run(small_model, tmp_path / "images", out, ray="auto", shards=3, on_batch=count)
    assert len(tasks) == 2 and max(tasks) == 12
    assert finished_shards(out) == ["shard-0000", "shard-0001", "shard-0002"]
    assert (out / "shards" / kept / "fingerprint.json").stat().st_mtime_ns == stamp
    same_tables(tmp_path / "whole", out)

    tasks.clear()  # all finished: nothing submitted
    run(small_model, tmp_path / "images", out, ray="auto", shards=3, on_batch=count)
    assert tasks == []
    same_tables(tmp_path / "whole", out)


def test_the_command_on_ray_rebuilds_a_named_model_on_the_workers(tmp_path, cluster, capsys):
    from explainlab.cli import main

    write_images(tmp_path / "images", 4)
    common = [
        "evaluate",
        "--images", str(tmp_path / "images"),
        "--model", "timm:resnet10t:none",  # random weights, seeded: alike on every worker
        "--methods", "gradcam",
        "--measures", "sparseness", "confidence_drop",
        "--batch-size", "1",
        "--no-report",
    ]  # fmt: skip
    assert main([*common, "--out", str(tmp_path / "one")]) == 0
    assert main([*common, "--ray", "auto", "--out", str(tmp_path / "ray")]) == 0
    assert finished_shards(tmp_path / "ray") == ["shard-0000", "shard-0001"]  # one per CPU
    close_tables(tmp_path / "one", tmp_path / "ray")


def close_tables(a: Path, b: Path) -> None:
    """The same tables to 1e-4 (relative): a model loaded by name runs channels-last on
    a CPU, whose convolutions add up in an order that depends on the thread count (its
    probabilities 1e-10 apart here, the measures' values about 5e-6), and each Ray worker
    runs one thread."""
    for name in CARD_FILES:
        left, right = pd.read_csv(a / name), pd.read_csv(b / name)
        assert list(left.columns) == list(right.columns) and len(left) == len(right), name
        numbers = left.select_dtypes("number").columns
        others = [c for c in left.columns if c not in numbers]
        assert left[others].equals(right[others]), name
        assert np.allclose(left[numbers], right[numbers], rtol=1e-4, atol=1e-7, equal_nan=True)


def test_a_workers_error_reaches_the_driver_as_itself(tmp_path, cluster, small_model):
    from explainlab.evaluation.dataset import Item

    elsewhere = [Item(key=f"{i}.png", path=str(tmp_path / f"gone/{i}.png")) for i in range(4)]
    with pytest.raises(InputError, match="none of this shard's 2 images is here") as caught:
        run(small_model, elsewhere, tmp_path / "out", ray="auto", shards=2)
    assert "same path" in caught.value.hint
    assert finished_shards(tmp_path / "out") == []


def test_without_ray_the_error_says_how_to_install_it(monkeypatch, tmp_path, small_model):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails
    write_images(tmp_path / "images", 1)
    with pytest.raises(ConfigError, match=r"pip install explainlab\[ray\]"):
        run(small_model, tmp_path / "images", tmp_path / "out", ray="auto")
