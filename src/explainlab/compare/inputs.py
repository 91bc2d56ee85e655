"""Read what the CAM and LIME stages wrote under a run folder.

Every file is checked (shape: the model's crop, dtype, value range, JSON keys); a bad or
missing file of one image becomes that image's :class:`InputError`, and the other
images are still compared. Arrays are read with ``allow_pickle=False``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from explainlab import assets, masks
from explainlab.cam.settings import map_method_names
from explainlab.errors import InputError
from explainlab.images import CROP, Failure
from explainlab.stages import stage_dir


@dataclass(frozen=True, eq=False, kw_only=True)
class LimeResult:
    segments: np.ndarray  # (crop, crop) int superpixel ids
    weights: dict[int, float]  # superpixel id -> weight (for the explained label)
    mask: np.ndarray  # (crop, crop) bool: LIME's positive top-K superpixels
    label: int
    label_name: str

    def weight_map(self) -> np.ndarray:
        """Each pixel carries its superpixel's weight: how LIME ranks pixels."""
        return masks.superpixel_map(self.segments, self.weights)


@dataclass(frozen=True, eq=False, kw_only=True)
class ImageInputs:
    key: str
    maps: dict[str, np.ndarray]  # method (CAM, attribution) -> (crop, crop) float in [0, 1]
    cam_item: dict[str, Any]  # cam/<key>/item.json
    lime: LimeResult
    files: list[Path] = field(default_factory=list)  # every file read, for the fingerprint

    @property
    def target(self) -> int:
        """The class the CAMs explain (the model's top-1 unless the CAM stage was told otherwise)."""
        return int(self.cam_item["target_id"])

    @property
    def top1_prob(self) -> float:
        return float(self.cam_item["top_probs"][0])


def stage_folder(run_dir: Path, stage: str, command: str) -> Path:
    """The stage's output folder, or an InputError saying how to produce it."""
    folder = stage_dir(run_dir, stage)
    if folder.is_dir():
        return folder
    if (Path(run_dir) / f".{folder.name}.partial").is_dir():
        raise InputError(
            f"{folder}: the {stage} stage of this run is incomplete",
            hint=f"rerun `{command} --out {run_dir}` to finish it (it resumes)",
        )
    raise InputError(
        f"{folder}: no {stage} results in the run folder {run_dir}",
        hint=f"run `{command} --out {run_dir}` first",
    )


def image_keys(run_dir: Path) -> tuple[list[str], list[Failure]]:
    """Keys with both CAM and LIME results (in the CAM stage's order), and failures for the rest."""
    cam = stage_folder(run_dir, "cam", "explainlab cam")
    lime = stage_folder(run_dir, "lime", "explainlab lime")
    cam_keys = _cam_order(cam)
    lime_keys = sorted(p.name for p in lime.iterdir() if (p / "weights.json").is_file())
    failures = [
        Failure(
            k, cam / k, f"{lime / k}: no LIME result for this image (run explainlab lime on it)"
        )
        for k in cam_keys
        if k not in lime_keys
    ]
    failures += [
        Failure(k, lime / k, f"{cam / k}: no CAM result for this image (run explainlab cam on it)")
        for k in lime_keys
        if k not in cam_keys
    ]
    return [k for k in cam_keys if k in lime_keys], failures


def _cam_order(cam: Path) -> list[str]:
    present = {p.name for p in cam.iterdir() if (p / "item.json").is_file()}
    order: list[str] = []
    predictions = cam / "predictions.csv"
    if predictions.is_file():
        import pandas as pd

        order = [str(k) for k in pd.read_csv(predictions)["key"] if str(k) in present]
    return order + sorted(present - set(order))


def read_image(run_dir: Path, key: str, methods: Sequence[str] = ()) -> ImageInputs:
    """One image's maps and LIME explanation; ``methods`` empty: every map present (of
    the methods the CAM stage computes: CAMs, gradient and perturbation attributions)."""
    cam_dir = stage_dir(run_dir, "cam") / key
    lime_dir = stage_dir(run_dir, "lime") / key
    files: list[Path] = []
    cam_item = _read_json(cam_dir / "item.json", files)
    for name in ("target_id", "top_probs"):
        if name not in cam_item:
            raise InputError(f"{cam_dir / 'item.json'}: lacks {name!r}", hint=_RERUN_CAM)
    crop = int((cam_item.get("geometry") or {}).get("crop", CROP))  # the model's crop
    shape = (crop, crop)
    known = map_method_names()
    wanted = list(methods) or [m for m in known if (cam_dir / f"{m}.npy").is_file()]
    if not wanted:
        raise InputError(f"{cam_dir}: no maps ({', '.join(known)})", hint=_RERUN_CAM)
    maps = {}
    for method in wanted:
        saliency = _read_array(cam_dir / f"{method}.npy", files, _RERUN_CAM, shape)
        saliency = saliency.astype(np.float64)
        if not np.all(np.isfinite(saliency)) or saliency.min() < -1e-6 or saliency.max() > 1 + 1e-6:
            raise InputError(
                f"{cam_dir / f'{method}.npy'}: values outside [0, 1] or not finite",
                hint=_RERUN_CAM,
            )
        maps[method] = np.clip(saliency, 0.0, 1.0)
    return ImageInputs(
        key=key, maps=maps, cam_item=cam_item, lime=_read_lime(lime_dir, files, shape), files=files
    )


_RERUN_CAM = "rerun `explainlab cam --force` for this run"
_RERUN_LIME = "rerun the LIME stage (`explainlab lime`) for this run"


def _read_lime(folder: Path, files: list[Path], shape: tuple[int, int]) -> LimeResult:
    segments = _read_array(folder / "segments.npy", files, _RERUN_LIME, shape)
    if not np.issubdtype(segments.dtype, np.integer) or segments.min() < 0:
        raise InputError(
            f"{folder / 'segments.npy'}: expected non-negative integer superpixel ids",
            hint=_RERUN_LIME,
        )
    mask = _read_array(folder / "mask.npy", files, _RERUN_LIME, shape)
    if mask.dtype != bool and not np.isin(mask, (0, 1)).all():
        raise InputError(f"{folder / 'mask.npy'}: expected a boolean mask", hint=_RERUN_LIME)
    info = _read_json(folder / "weights.json", files)
    try:
        label = int(info["label"])
        weights = {int(i): float(w) for i, w in info["weights"]}
    except (KeyError, TypeError, ValueError):
        raise InputError(
            f"{folder / 'weights.json'}: expected 'label' and 'weights' as [[segment_id, weight], ...]",
            hint=_RERUN_LIME,
        ) from None
    unknown = sorted(set(weights) - set(np.unique(segments).tolist()))
    if unknown:
        raise InputError(
            f"{folder / 'weights.json'}: weights for superpixels {unknown[:5]} that segments.npy lacks",
            hint=_RERUN_LIME,
        )
    return LimeResult(
        segments=segments.astype(np.int64),
        weights=weights,
        mask=mask.astype(bool),
        label=label,
        label_name=str(info.get("label_name", label)),
    )


def _read_array(path: Path, files: list[Path], hint: str, shape: tuple[int, int]) -> np.ndarray:
    if not path.is_file():
        raise InputError(f"{path}: missing", hint=hint)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"{path}: not a readable .npy array ({exc})", hint=hint) from None
    if array.shape != shape:
        raise InputError(f"{path}: shape {array.shape}, expected {shape}", hint=hint)
    files.append(path)
    return array


def _read_json(path: Path, files: list[Path]) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"{path}: missing", hint="rerun the stage that writes it")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})", hint="rerun the stage") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object", hint="rerun the stage")
    files.append(path)
    return data


def digests(paths: Sequence[Path]) -> list[list[str]]:
    """(path, sha256) of every input file: what changes the compare stage's inputs."""
    return [[str(p), assets.file_digest(p)] for p in paths]
