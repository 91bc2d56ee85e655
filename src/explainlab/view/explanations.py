"""The explanations of a run, image by image: prediction, every method's map as an
overlay of the crop, LIME's superpixels and weights, and the image's comparison numbers.

Reads ``predictions.csv``, ``cam/<key>/`` (crop.png, <method>.npy), ``lime/<key>/``
(segments.npy, weights.json) and ``compare/<key>/`` (agreement.csv, faithfulness.csv);
writes the images under ``<view>/img/<key>/``."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from explainlab.methods.registry import colour_of, title_of
from explainlab.stages import stage_dir
from explainlab.view import thumbs
from explainlab.view.tables import rows_of

LIME = "lime"
DONE = ".done"  # a finished item of a stage (explainlab.runfolder)


def _finished(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / DONE).is_file())


def _predictions(run_dir: Path) -> dict[str, dict[str, Any]]:
    for path in (run_dir / "predictions.csv", stage_dir(run_dir, "cam") / "predictions.csv"):
        rows = rows_of(path)
        if rows:
            return {str(r["key"]): r for r in rows}
    return {}


def _prediction(row: dict[str, Any], lime_item: dict[str, Any]) -> dict[str, Any]:
    """Top-5, true class and whether the top-1 is right, from predictions.csv (or LIME's
    record of the label it explained when the run has no CAM stage)."""
    if not row:
        label = lime_item.get("label_name")
        return {"top5": [[label, lime_item.get("probability")]] if label else [], "true": None}
    top5 = [
        [row.get(f"top{i}_name"), row.get(f"top{i}_prob")]
        for i in range(1, 6)
        if row.get(f"top{i}_name") is not None
    ]
    true = row.get("true_name")
    correct = row.get("top1_correct")
    return {
        "top5": top5,
        "true": true,
        "correct": None if true is None or correct is None else str(correct) == "True",
    }


def _lime(folder: Path) -> dict[str, Any] | None:
    """LIME's superpixels (the crop's segment of every pixel, base64 bytes) and weights."""
    try:
        segments = np.load(folder / "segments.npy")
        record = json.loads((folder / "weights.json").read_text())
    except (OSError, ValueError):
        return None
    weights = {int(s): float(w) for s, w in record.get("weights", [])}
    dtype = np.uint8 if segments.max() < 256 else np.uint16
    image = thumbs.weights_image(segments, weights)
    return {
        "label": record.get("label_name"),
        "size": list(segments.shape),
        "bytes": 1 if dtype is np.uint8 else 2,
        "segments": base64.b64encode(
            segments.astype(f"<{np.dtype(dtype).str[1:]}").tobytes()
        ).decode("ascii"),
        "weights": {str(s): round(w, 6) for s, w in weights.items()},
        "image": image,
    }


def _measures(compare: Path) -> dict[str, list[dict[str, Any]]]:
    """The image's agreement (method x measure) and faithfulness rows."""
    agreement: dict[str, dict[str, Any]] = {}
    for row in rows_of(compare / "agreement.csv"):
        agreement.setdefault(str(row["method"]), {"method": row["method"]})[row["measure"]] = row[
            "value"
        ]
    faithfulness = [
        {k: v for k, v in row.items() if k != "key"}
        for row in rows_of(compare / "faithfulness.csv")
    ]
    return {"agreement": list(agreement.values()), "faithfulness": faithfulness}


def _cam_methods(folder: Path) -> list[str]:
    try:
        timed = list(json.loads((folder / "item.json").read_text()).get("seconds", {}))
    except (OSError, ValueError):
        timed = []
    saved = sorted(p.stem for p in folder.glob("*.npy"))
    return [m for m in timed if m in saved] + [m for m in saved if m not in timed]


def collect(run_dir: Path, out: Path) -> dict[str, Any]:
    """Every image of the run and the methods shown, its images written under ``out``."""
    cam, lime, compare = (stage_dir(run_dir, s) for s in ("cam", "lime", "compare"))
    predictions = _predictions(run_dir)
    keys = list(dict.fromkeys([*predictions, *_finished(cam), *_finished(lime)]))
    keys = [k for k in keys if (cam / k / DONE).is_file() or (lime / k / DONE).is_file()]
    methods: list[str] = []
    images = []
    for key in keys:
        entry = _image(key, out, predictions.get(key, {}), cam, lime, compare)
        methods.extend(m for m in entry["maps"] if m not in methods)
        images.append(entry)
    return {
        "methods": [{"name": m, "title": title_of(m), "colour": colour_of(m)} for m in methods],
        "images": images,
    }


def _crop(cam_folder: Path, lime_item: dict[str, Any]) -> Image.Image | None:
    if (cam_folder / "crop.png").is_file():
        return Image.open(cam_folder / "crop.png")
    path = lime_item.get("path")
    if path and Path(path).is_file():  # a run without CAMs: LIME's crop, made again
        from explainlab.images import center_crop, open_rgb

        return Image.fromarray(center_crop(open_rgb(path)))
    return None


def _image(
    key: str,
    out: Path,
    prediction: dict[str, Any],
    cam: Path,
    lime: Path,
    compare: Path,
) -> dict[str, Any]:
    folder = out / "img" / key
    rel = f"img/{key}"
    try:
        lime_item = json.loads((lime / key / "item.json").read_text())
    except (OSError, ValueError):
        lime_item = {}
    entry: dict[str, Any] = {"key": key, **_prediction(prediction, lime_item), "maps": {}}
    crop = _crop(cam / key, lime_item)
    if crop is not None:
        thumbs.save_photo(crop, folder / "crop.webp", thumbs.DETAIL_PX)
        thumbs.save_photo(crop, folder / "crop_s.webp", thumbs.GRID_PX)
        entry["crop"] = {"full": f"{rel}/crop.webp", "thumb": f"{rel}/crop_s.webp"}
    for method in _cam_methods(cam / key) if (cam / key / DONE).is_file() else []:
        overlay = thumbs.map_image(np.load(cam / key / f"{method}.npy"))
        entry["maps"][method] = _overlays(overlay, folder, rel, method)
    if (lime / key / DONE).is_file():
        found = _lime(lime / key)
        if found is not None:
            overlay = found.pop("image")
            entry["maps"][LIME] = _overlays(overlay, folder, rel, LIME)
            entry["lime"] = found
    entry.update(_measures(compare / key))
    return entry


def _overlays(image: Image.Image, folder: Path, rel: str, method: str) -> dict[str, str]:
    thumbs.save_overlay(image, folder / f"{method}.webp", thumbs.DETAIL_PX)
    thumbs.save_overlay(image, folder / f"{method}_s.webp", thumbs.GRID_PX)
    return {"full": f"{rel}/{method}.webp", "thumb": f"{rel}/{method}_s.webp"}
