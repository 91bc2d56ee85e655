"""The GPU path (``--device cuda``): the same maps, explanations and labels as on the CPU.

Skipped where no CUDA GPU is present (CI has none); run on a GPU machine with
``pytest tests/test_cuda.py -s``, which also prints the measured differences.

Tolerances: fast vs library on the same GPU, 1e-4 (as on the CPU), compared in full
float32 (see ``full_fp32``). GPU vs CPU, the GPU's
convolutions may use TF32 (PyTorch's default for cuDNN), whose 10-bit mantissa moves
activations by about 1e-3 relative: maps are held to 1e-2 (measured on an H200: at most
1.3e-3) and LIME's superpixel weights to 5e-3 (measured 3.3e-4); labels, top-1 classes
and dissection descriptions must be identical."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision

from explainlab.cam.methods import compute_cam
from explainlab.cam.run import run_cam
from explainlab.cam.settings import METHODS, CamSettings
from explainlab.compare.explainers import cam_explainer
from explainlab.compare.sanity import cascade_blocks, sanity_check
from explainlab.dissect.run import run_dissect
from explainlab.images import mission_sources
from explainlab.lime.classifier import ModelClassifier
from explainlab.lime.run import run_lime
from explainlab.lime.settings import LimeSettings
from explainlab.models import load_model
from helpers import imagenet_tensor
from test_dissect_pipeline import (  # noqa: F401  (fixtures)
    SyntheticClip,
    _planted,
    _settings,
    _target,
    concept_file,
    probe_folder,
)

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

SAME_DEVICE = 1e-4  # fast vs library, both on the GPU
ACROSS_DEVICES = 1e-2  # GPU map vs CPU map (TF32 convolutions)
KEYS = ("goldfish", "kite")


@pytest.fixture
def full_fp32():
    """Full float32 convolutions and matrix products. Under TF32 (cuDNN's default) the
    library disagrees with itself by ~1e-3 once the batches change (another batch size,
    another cuDNN algorithm), so exactness against it is only defined without TF32."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@pytest.fixture(scope="module")
def lite0_cuda():
    return load_model("efficientnet_lite0", "cuda")


def _top1(model, x) -> int:
    with torch.inference_mode():
        return int(model(x).argmax())


@pytest.mark.parametrize("method", METHODS)
def test_fast_cams_equal_the_library_on_the_gpu(lite0_cuda, mission_samples, method, full_fp32):
    for key in KEYS:
        x = mission_samples[key].tensor[None].cuda()
        target = _top1(lite0_cuda.module, x)
        layer = lite0_cuda.layer()
        ours = compute_cam(method, lite0_cuda.module, layer, x, target, impl="fast")
        ref = compute_cam(method, lite0_cuda.module, layer, x, target, impl="library")
        diff = float(np.abs(ours - ref).max())
        print(f"\n[cuda] {method} {key}: fast vs library max |diff| {diff:.2e}")
        assert diff <= SAME_DEVICE, (method, key, diff)


def test_fast_cams_equal_the_library_on_a_gpu_resnet50(full_fp32):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = torchvision.models.resnet50(weights=None).eval().cuda()
    image = np.random.default_rng(1).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    x = imagenet_tensor(image).cuda()
    target = _top1(model, x)
    for method in METHODS:
        ours = compute_cam(method, model, model.layer4[-1], x, target, impl="fast")
        ref = compute_cam(method, model, model.layer4[-1], x, target, impl="library")
        diff = float(np.abs(ours - ref).max())
        print(f"\n[cuda] ResNet50 (random weights) {method}: max |diff| {diff:.2e}")
        assert diff <= SAME_DEVICE, (method, diff)


def test_cam_stage_on_the_gpu_gives_the_cpu_maps(tmp_path, lite0, lite0_cuda, mirror):
    settings = CamSettings(model="efficientnet_lite0")
    sources = mission_sources(list(KEYS))
    gpu = run_cam(settings, sources, tmp_path / "gpu", model=lite0_cuda)
    cpu = run_cam(settings, sources, tmp_path / "cpu", model=lite0)
    gpu_pred = pd.read_csv(gpu.folder / "predictions.csv")
    cpu_pred = pd.read_csv(cpu.folder / "predictions.csv")
    assert list(gpu_pred["top1_id"]) == list(cpu_pred["top1_id"])
    np.testing.assert_allclose(gpu_pred["top1_prob"], cpu_pred["top1_prob"], atol=1e-2)
    for key in KEYS:
        for method in METHODS:
            a = np.load(gpu.folder / key / f"{method}.npy")
            b = np.load(cpu.folder / key / f"{method}.npy")
            diff = float(np.abs(a - b).max())
            print(f"\n[cuda vs cpu] {method} {key}: max |diff| {diff:.2e}")
            assert diff <= ACROSS_DEVICES, (method, key, diff)


def test_lime_classifier_and_stage_on_the_gpu(tmp_path, lite0, lite0_cuda, mirror, mission_samples):
    crop = mission_samples["goldfish"].crop
    probs = ModelClassifier.for_model(lite0_cuda)(np.stack([crop, crop[::-1]]))
    assert probs.shape == (2, 1000) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)

    params = tmp_path / "p.toml"
    params.write_text("[defaults]\nnum_samples = 200\nbatch_size = 50\n")
    settings = LimeSettings(model="efficientnet_lite0", params=str(params))
    sources = mission_sources(["goldfish"])
    gpu = run_lime(settings, sources, tmp_path / "gpu", model=lite0_cuda)
    cpu = run_lime(settings, sources, tmp_path / "cpu", model=lite0)
    a = json.loads((gpu.folder / "goldfish" / "weights.json").read_text())
    b = json.loads((cpu.folder / "goldfish" / "weights.json").read_text())
    assert a["label"] == b["label"]
    wa, wb = dict(a["weights"]), dict(b["weights"])
    assert wa.keys() == wb.keys()
    diff = max(abs(wa[k] - wb[k]) for k in wa)
    print(f"\n[cuda vs cpu] LIME superpixel weights: max |diff| {diff:.2e}")
    assert diff <= 5e-3
    np.testing.assert_array_equal(
        np.load(gpu.folder / "goldfish" / "segments.npy"),
        np.load(cpu.folder / "goldfish" / "segments.npy"),
    )


def test_sanity_check_runs_on_the_gpu(lite0_cuda, mission_samples):
    sample = mission_samples["goldfish"]
    x = sample.tensor[None].cuda()
    target = _top1(lite0_cuda.module, x)
    blocks = cascade_blocks(lite0_cuda.module)[:2]
    explainers = {"gradcam": cam_explainer("gradcam", lite0_cuda.spec.target_layer)}
    before = [p.detach().clone() for p in lite0_cuda.module.parameters()]
    rows, _ = sanity_check(lite0_cuda.module, sample, target, explainers, blocks)
    assert [r.step for r in rows] == [0, 1, 2]
    assert rows[0].similarity["spearman"] == pytest.approx(1.0)
    last = rows[-1].similarity["spearman"]
    print(f"\n[cuda] sanity: Grad-CAM rank correlation after 2 blocks {last:+.2f}")
    assert last < 0.9  # randomising the top blocks changes the map
    after = list(lite0_cuda.module.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))  # caller's kept


def test_dissection_on_the_gpu_recovers_the_planted_labels(probe_folder, concept_file, tmp_path):  # noqa: F811
    plant_a, plant_b = _planted()
    tables = {}
    for device in ("cuda", "cpu"):
        settings = _settings(probe_folder, concept_file, tmp_path / device)
        outcome = run_dissect(
            settings,
            tmp_path / device / "run",
            targets={"planted": _target(plant_a, plant_b)},
            encoder=SyntheticClip(),
            device=device,
        )
        tables[device] = pd.read_csv(outcome.folders["planted"] / "descriptions.csv")
    gpu, cpu = tables["cuda"], tables["cpu"]
    assert list(gpu["description"]) == list(cpu["description"])
    diff = float(np.abs(gpu["similarity"] - cpu["similarity"]).max())
    print(f"\n[cuda vs cpu] dissection similarity: max |diff| {diff:.2e}")
    assert diff <= 1e-3
