"""Builders for the compare tests: LIME results in the LIME stage's layout (LIME-LAYOUT.md),
made with plain ``lime``, and a LoadedModel around a test network. Its own tests check
that what it writes is what the compare stage reads."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from explainlab.images import IMAGENET_GEOMETRY, Geometry, Sample, to_tensor
from explainlab.models import LoadedModel
from explainlab.models.registry import ModelSpec


def classifier_fn(module: nn.Module, geometry: Geometry) -> Callable:
    @torch.inference_mode()
    def classify(images: np.ndarray) -> np.ndarray:
        x = to_tensor(np.asarray(images, dtype=np.uint8), geometry)
        return torch.softmax(module(x).float(), dim=1).numpy()

    return classify


def write_lime_result(
    run_dir: Path,
    key: str,
    crop: np.ndarray,
    classify: Callable,
    label: int,
    *,
    num_samples: int,
    num_features: int,
    seed: int = 0,
    hide_color: int | None = None,
) -> Path:
    """Run plain LimeImageExplainer on ``crop`` and write lime/<key>/ as the LIME stage does."""
    from lime.lime_image import LimeImageExplainer

    explanation = LimeImageExplainer(random_state=seed).explain_instance(
        crop,
        classify,
        labels=(label,),
        top_labels=None,
        num_samples=num_samples,
        batch_size=min(num_samples, 50),
        random_seed=seed,
        hide_color=hide_color,
    )
    folder = run_dir / "lime" / key
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "segments.npy", explanation.segments.astype(np.int32))
    weights = sorted(explanation.local_exp[label], key=lambda iw: -abs(iw[1]))
    _, mask = explanation.get_image_and_mask(
        label, positive_only=True, num_features=num_features, hide_rest=False
    )
    np.save(folder / "mask.npy", mask > 0)
    (folder / "weights.json").write_text(
        json.dumps(
            {
                "label": label,
                "label_name": str(label),
                "weights": [[int(i), float(w)] for i, w in weights],
                "intercept": float(explanation.intercept[label]),
                "score": float(explanation.score),
                "local_pred": float(np.ravel(explanation.local_pred)[0]),
            }
        )
    )
    (folder / "item.json").write_text(
        json.dumps(
            {
                "key": key,
                "label": label,
                "label_name": str(label),
                "seconds": 0.0,
                "num_features_mask": num_features,
                "params": {"num_samples": num_samples, "random_seed": seed},
            }
        )
    )
    return folder


def write_cam_result(
    run_dir: Path, key: str, maps: dict[str, np.ndarray], target: int, prob: float, path: Path
) -> Path:
    """cam/<key>/ as the CAM stage writes it (for hand-made maps)."""
    folder = run_dir / "cam" / key
    folder.mkdir(parents=True, exist_ok=True)
    for method, saliency in maps.items():
        np.save(folder / f"{method}.npy", saliency.astype(np.float32))
    (folder / "item.json").write_text(
        json.dumps(
            {
                "key": key,
                "path": str(path),
                "true_id": target,
                "true_name": str(target),
                "top_ids": [target],
                "top_names": [str(target)],
                "top_probs": [prob],
                "target_id": target,
                "seconds": {m: 0.0 for m in maps},
                "layer": "features",
            }
        )
    )
    return folder


def loaded(module: nn.Module, name: str, num_classes: int, layer: str) -> LoadedModel:
    """A LoadedModel around a test network (ImageNet normalisation, CPU)."""
    names = [f"class {i}" for i in range(num_classes)]
    spec = ModelSpec(
        name=name,
        description="test network",
        dataset="imagenet",
        num_classes=num_classes,
        geometry=lambda: IMAGENET_GEOMETRY,
        target_layer=layer,
        build=lambda: module,
        class_names=lambda: names,
    )
    return LoadedModel(
        spec=spec, module=module.eval(), device=torch.device("cpu"), class_names=names
    )


def sample_of(key: str, crop: np.ndarray, path: Path, class_id: int | None = None) -> Sample:
    return Sample(
        key=key, path=path, crop=crop, tensor=to_tensor(crop, IMAGENET_GEOMETRY), class_id=class_id
    )


# --- the builders' own checks ------------------------------------------------------------


def test_written_lime_result_follows_the_layout(tmp_path):
    from explainlab.compare.inputs import read_image

    rng = np.random.default_rng(0)
    crop = rng.integers(0, 255, (224, 224, 3), dtype=np.uint8)

    def classify(images):  # class 1 likes red
        red = np.asarray(images, dtype=np.float64)[..., 0].mean(axis=(1, 2)) / 255
        return np.stack([1 - red, red], 1)

    write_lime_result(tmp_path, "noise", crop, classify, 1, num_samples=30, num_features=3)
    write_cam_result(tmp_path, "noise", {"gradcam": rng.random((224, 224))}, 1, 0.6, tmp_path)
    item = read_image(tmp_path, "noise")
    assert item.lime.segments.shape == (224, 224) and item.lime.label == 1
    assert set(item.lime.weights) == set(np.unique(item.lime.segments).tolist())
    assert 0 < item.lime.mask.sum() < 224 * 224
    # The mask is the top positive superpixels: their weights are the largest.
    inside = set(np.unique(item.lime.segments[item.lime.mask]).tolist())
    top = sorted(item.lime.weights, key=lambda i: -item.lime.weights[i])[: len(inside)]
    assert inside == set(top)
