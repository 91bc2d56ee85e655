"""A small run folder laid out as the stages write theirs (the file names the viewer
reads), with known contents: two images (one misclassified), Grad-CAM and LIME, the
comparison's tables, two dissected models with two runs each, a manifest and a LIME
parameter pickle. Cheap: no model runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

KEYS = ("goldfish", "kite")
CROP = 48  # pixels of the synthetic crops (the real ones are 224)
# model -> run -> (layer, unit, label, similarity) rows
LABELS = {
    "resnet18": {
        "a": [
            ("layer3", 0, "dotted", 0.31),
            ("layer3", 1, "sky", 0.12),
            ("layer4", 0, "dog", 0.25),
            ("layer4", 1, "dotted", 0.18),
        ],
        "b": [
            ("layer3", 0, "dotted", 0.30),
            ("layer3", 1, "grass", 0.11),
            ("layer4", 0, "dog", 0.24),
            ("layer4", 1, "dotted", 0.17),
        ],
    },
    "resnet18_places365": {
        "a": [
            ("layer3", 0, "striped", 0.22),
            ("layer3", 1, "sky", 0.28),
            ("layer4", 0, "kitchen", 0.35),
            ("layer4", 1, "sky", 0.15),
        ],
        "b": [
            ("layer3", 0, "striped", 0.21),
            ("layer3", 1, "sky", 0.27),
            ("layer4", 0, "kitchen", 0.34),
            ("layer4", 1, "sky", 0.14),
        ],
    },
}
CATEGORIES = {
    "dotted": "texture",
    "striped": "texture",
    "sky": "scene",
    "dog": "object",
    "kitchen": "scene",
}
WORDNET = {  # planted (lexname, category), as the analysis writes them from WordNet
    "dotted": ("adj.all", "pattern or quality"),
    "striped": ("adj.all", "pattern or quality"),
    "sky": ("noun.object", "natural object"),
    "dog": ("noun.animal", "animal"),
    "kitchen": ("noun.artifact", "place"),
}
AGREEMENT = [  # key, method, measure, value (the run-wide table, sorted by nothing)
    ("goldfish", "gradcam", "iou_threshold", 0.33),
    ("kite", "gradcam", "iou_threshold", 0.12),
    ("goldfish", "gradcam", "pointing_game", 1.0),
    ("kite", "gradcam", "pointing_game", 0.0),
]
LIME_WEIGHTS = {0: 0.2, 1: -0.1, 2: 0.05, 3: 0.0}


def _csv(path: Path, header: str, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))


def _done(folder: Path) -> None:
    (folder / ".done").touch()


def quadrants(size: int = CROP) -> np.ndarray:
    """Four superpixels: the crop's quadrants, numbered 0-3 row by row."""
    half = size // 2
    segments = np.zeros((size, size), dtype=np.int32)
    segments[:half, half:] = 1
    segments[half:, :half] = 2
    segments[half:, half:] = 3
    return segments


def make_run(root: Path) -> Path:
    run = root / "run"
    rng = np.random.default_rng(0)
    _csv(
        run / "predictions.csv",
        "key,true_id,true_name,top1_id,top1_name,top1_prob,top2_id,top2_name,top2_prob,"
        "top1_correct,target_id",
        [
            ("goldfish", 1, "goldfish", 1, "goldfish", 0.9, 0, "tench", 0.05, True, 1),
            ("kite", 21, "kite", 989, "hip", 0.48, 129, "spoonbill", 0.05, False, 989),
        ],
    )
    for key in KEYS:
        cam = run / "cam" / key
        cam.mkdir(parents=True)
        Image.fromarray(rng.integers(0, 255, (CROP, CROP, 3), dtype=np.uint8)).save(
            cam / "crop.png"
        )
        ramp = np.linspace(0, 1, CROP * CROP, dtype=np.float32).reshape(CROP, CROP)
        np.save(cam / "gradcam.npy", ramp)
        (cam / "item.json").write_text(json.dumps({"key": key, "seconds": {"gradcam": 0.1}}))
        _done(cam)
        lime = run / "lime" / key
        lime.mkdir(parents=True)
        np.save(lime / "segments.npy", quadrants())
        (lime / "weights.json").write_text(
            json.dumps(
                {"label": 1, "label_name": "goldfish", "weights": list(LIME_WEIGHTS.items())}
            )
        )
        (lime / "item.json").write_text(json.dumps({"key": key, "label_name": "goldfish"}))
        _done(lime)
        compare = run / "compare" / key
        rows = [r for r in AGREEMENT if r[0] == key]
        _csv(compare / "agreement.csv", "key,method,measure,value", rows)
        _csv(
            compare / "faithfulness.csv",
            "key,method,target,p_full,deletion_auc,insertion_auc",
            [(key, "gradcam", 1, 0.9, 0.3, 0.8), (key, "lime", 1, 0.9, 0.2, 0.9)],
        )
        _done(compare)
    _csv(run / "compare" / "agreement.csv", "key,method,measure,value", AGREEMENT)
    _csv(run / "compare" / "sanity.csv", "key,method,step,block,spearman", [
        ("goldfish", "gradcam", 0, "original", 1.0),
        ("goldfish", "gradcam", 1, "classifier", 0.5),
    ])  # fmt: skip
    Image.new("RGB", (1200, 600), "white").save(run / "compare" / "overview.png")
    _dissection(run, root)
    (run / "manifest.json").write_text(
        json.dumps(
            {
                "written": "2026-01-01T00:00:00+00:00",
                "packages": {"explainlab": "0.1.0"},
                "stages": {"cam": {"folder": "cam", "seconds": 1.5}},
            }
        )
    )
    from explainlab.assignment.safepickle import dumps

    params = {"num_samples": 100, "batch_size": 10, "segmentation_fn": None}
    (run / "lime" / "params.pkl").write_bytes(dumps({k: dict(params) for k in KEYS}))
    return run


def _dissection(run: Path, root: Path) -> None:
    """The reference runs' files beside the run, and the analysis' record of them (its
    fingerprint), as the offline run's dissection has them."""
    labels = root / "labels"
    recorded: dict[str, list] = {"inputs": [], "runs": []}
    for model, runs in LABELS.items():
        for name, rows in runs.items():
            path = labels / f"{model}_run_{name}.csv"
            _csv(path, "layer,unit,description,similarity", rows)
            part = "inputs" if name == "a" else "runs"
            recorded[part].append([f"{model} (run {name})", str(path), "digest"])
    analysis = run / "dissect" / "analysis"
    analysis.mkdir(parents=True)
    (analysis / "fingerprint.json").write_text(json.dumps({"key": "k", "settings": recorded}))
    _csv(
        analysis / "concept_categories.csv",
        "concept,category,source,units,wordnet_lexname,wordnet_category",
        [(c, cat, "test", 1, *WORDNET[c]) for c, cat in CATEGORIES.items()],
    )
    (analysis / "sources.json").write_text(
        json.dumps({"title": "test labels", "caveats": ["planted, not computed"]})
    )


def units() -> set[str]:
    """Every unit's data-unit id."""
    return {f"{m}/{layer}/{unit}" for m, runs in LABELS.items() for layer, unit, *_ in runs["a"]}


# a computed dissection with the units' maps: the model saw the centre 48 px of 64 px
# probes (resize 64, crop 48); probe 0 has a red square on the crop's top-left quarter
REGION_GEOMETRY = {
    "resize": 64,
    "crop": 48,
    "interpolation": "bilinear",
    "mean": [0.485, 0.456, 0.406],
    "std": [0.229, 0.224, 0.225],
}


def make_computed_dissection(root: Path) -> Path:
    """A run whose dissect/resnet18 holds the stage's files for two layer4 units with
    their maps (top_maps.npz): unit 0 fires on the top-left quarter of its top images,
    and the fingerprint records the model's crop."""
    run = root / "computed"
    model = run / "dissect" / "resnet18"
    model.mkdir(parents=True)
    _csv(model / "descriptions.csv", "layer,unit,description,similarity", [
        ("layer4", 0, "red", 0.3), ("layer4", 1, "grey", 0.2)
    ])  # fmt: skip
    probes = root / "probes"
    probes.mkdir()
    for i in range(2):
        image = np.full((64, 64, 3), 128, dtype=np.uint8)
        if i == 0:
            image[8:32, 8:32] = (230, 20, 20)
        Image.fromarray(image).save(probes / f"{i}.png")
    _csv(model / "probe_images.csv", "probe_index,path", [(i, probes / f"{i}.png") for i in (0, 1)])
    _csv(model / "top_images.csv", "layer,unit,rank,probe_index,activation", [
        ("layer4", 0, 1, 0, 5.0), ("layer4", 0, 2, 1, 1.0),
        ("layer4", 1, 1, 1, 2.0), ("layer4", 1, 2, 0, 1.0),
    ])  # fmt: skip
    maps = np.zeros((2, 2, 2, 2), dtype=np.float16)  # units, top images, h, w
    maps[0, 0, 0, 0] = 4.0  # unit 0 on probe 0: the top-left cell
    maps[0, 1, 0, 0] = 1.0  # on probe 1: a quarter of that, under its threshold
    maps[1, :] = 1.0  # unit 1: everywhere
    np.savez_compressed(model / "top_maps.npz", layer4=maps)
    (model / "fingerprint.json").write_text(
        json.dumps({"key": "k", "settings": {"geometry": REGION_GEOMETRY}})
    )
    return run
