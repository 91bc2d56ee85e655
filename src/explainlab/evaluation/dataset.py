"""The images of an evaluation: what the user gives, read into :class:`Item` records, and
one item loaded onto the model's crop with its ground-truth region.

Three forms: a folder (every file under it, recursively: a file that is no image is
reported as a failure, not skipped in silence), an ImageFolder tree (every file one
folder deep: the folder names the class, mapped to the model's class id by name), or a
CSV of paths (relative to the CSV) with optional ``label`` (a class id or name), a box
``x0,y0,x1,y1`` in the original image's pixels, or a ``mask`` image of the same size.
Items are plain, JSON-able records, so a list of them can be sent to another process."""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from explainlab.errors import InputError
from explainlab.images import (
    Geometry,
    Sample,
    center_crop,
    mission_sources,
    open_rgb,
    to_tensor,
)
from explainlab.settings import DEFAULT_MAX_PIXELS

MISSION = "mission"
LAYOUTS = ("auto", "flat", "imagefolder")
BOX_COLUMNS = ("x0", "y0", "x1", "y1")


@dataclass(frozen=True, kw_only=True)
class Item:
    """One image to evaluate: where it is, its class where known, its region where given."""

    key: str  # unique in the dataset: the path relative to the folder (or as the CSV gives it)
    path: str
    label: int | None = None  # the model's class id of its true class, where known
    label_name: str = ""  # the class as given (a folder's or the CSV's name)
    box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1, original pixels
    mask: str | None = None  # a mask image of the original's size (non-zero: the region)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Item:
        box = data.get("box")
        return cls(**{**data, "box": tuple(box) if box is not None else None})


@dataclass(frozen=True, eq=False)
class Loaded:
    """An item on the model's crop: the sample, and its region (crop, crop) bool or None."""

    item: Item
    sample: Sample
    region: np.ndarray | None


def read_items(
    source: str | Path | Sequence[str | Path],
    class_names: Sequence[str],
    *,
    layout: str = "auto",
) -> list[Item]:
    """The items of ``source``: ``"mission"`` (the ten images, with their classes), a CSV
    file, a folder (``layout`` "flat": every file, recursively; "imagefolder": folder
    names are classes; "auto": imagefolder when every file lies one folder deep), or a
    list of image files."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}")
    if not isinstance(source, str | Path):
        return [Item(key=Path(p).name, path=str(p)) for p in _unique(source)]
    if str(source) == MISSION and not Path(source).exists():
        return [
            Item(key=s.key, path=str(s.path), label=s.class_id, label_name=class_names[s.class_id])
            for s in mission_sources()
        ]
    path = Path(source).expanduser()
    if not path.exists():
        raise InputError(f"{path}: no such file or folder", hint="give a folder or a CSV file")
    if path.is_file():
        if path.suffix.lower() == ".csv":
            return _from_csv(path, class_names)
        return [Item(key=path.name, path=str(path))]
    return _from_folder(path, class_names, layout)


def _unique(paths: Sequence[str | Path]) -> list[Path]:
    seen: set[Path] = set()
    out = []
    for p in map(Path, paths):
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def _from_folder(root: Path, class_names: Sequence[str], layout: str) -> list[Item]:
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    if not files:
        raise InputError(f"{root}: the folder holds no files", hint="give a folder of images")
    one_deep = all(len(p.relative_to(root).parts) == 2 for p in files)
    classes = layout == "imagefolder" or (layout == "auto" and one_deep)
    if classes and not one_deep:
        raise InputError(
            f"{root}: not an ImageFolder tree (a file lies outside the class folders)",
            hint="put every image in a folder named by its class, or use --layout flat",
        )
    index = class_index(class_names)
    items = []
    for p in files:
        key = p.relative_to(root).as_posix()
        if classes:
            name = p.parent.name
            items.append(Item(key=key, path=str(p), label=index(name), label_name=name))
        else:
            items.append(Item(key=key, path=str(p)))
    return items


def class_index(class_names: Sequence[str]):
    """``name -> the model's class id`` (None when it has none): by name, ignoring case,
    spaces, underscores and hyphens; a number within the classes is taken as the id."""

    def norm(name: str) -> str:
        return " ".join(name.lower().replace("_", " ").replace("-", " ").split())

    by_name: dict[str, int] = {}
    for i, name in enumerate(class_names):
        by_name.setdefault(norm(name), i)

    def index(name: str) -> int | None:
        found = by_name.get(norm(name))
        if found is None and name.strip().isdigit() and int(name) < len(class_names):
            return int(name)
        return found

    return index


def _from_csv(path: Path, class_names: Sequence[str]) -> list[Item]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or "path" not in rows[0]:
        raise InputError(
            f"{path}: a CSV of images needs a 'path' column (and one row per image)",
            hint="columns: path, and optionally label, x0, y0, x1, y1 (a box) or mask",
        )
    columns = set(rows[0])
    boxed = set(BOX_COLUMNS) <= columns
    index = class_index(class_names)
    items = []
    seen: set[str] = set()
    for line, row in enumerate(rows, start=2):
        given = row["path"].strip()
        if given in seen:
            raise InputError(f"{path}, line {line}: {given} is listed twice", hint="list it once")
        seen.add(given)
        label_name = (row.get("label") or "").strip()
        box = None
        if boxed and any((row.get(c) or "").strip() for c in BOX_COLUMNS):
            try:
                box = tuple(float(row[c]) for c in BOX_COLUMNS)
            except ValueError:
                raise InputError(
                    f"{path}, line {line}: the box {[row[c] for c in BOX_COLUMNS]} is not numbers",
                    hint="x0, y0, x1, y1 in the original image's pixels",
                ) from None
        mask = (row.get("mask") or "").strip() or None
        items.append(
            Item(
                key=given,
                path=str(path.parent / given),
                label=index(label_name) if label_name else None,
                label_name=label_name,
                box=box,
                mask=str(path.parent / mask) if mask else None,
            )
        )
    return items


# --- one item on the model's crop ---------------------------------------------------------


def load_item(item: Item, geometry: Geometry, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Loaded:
    """The item's image on ``geometry``'s crop and its region mapped through the same
    resize and centre crop; raises :class:`InputError` naming the file otherwise."""
    image = open_rgb(item.path, max_pixels=max_pixels)
    crop = center_crop(image, geometry)
    sample = Sample(key=item.key, path=Path(item.path), crop=crop, tensor=to_tensor(crop, geometry))
    region = None
    if item.box is not None:
        region = box_region(item.box, image.size, geometry)
    elif item.mask is not None:
        region = mask_region(Path(item.mask), image.size, geometry, max_pixels)
    return Loaded(item, sample, region)


def resized_size(size: tuple[int, int], geometry: Geometry) -> tuple[int, int]:
    """(width, height) after the geometry's resize of the shorter side (torchvision's)."""
    width, height = size
    short, long = min(width, height), max(width, height)
    new_long = int(geometry.resize * long / short)
    return (geometry.resize, new_long) if width <= height else (new_long, geometry.resize)


def box_region(
    box: tuple[float, float, float, float], size: tuple[int, int], geometry: Geometry
) -> np.ndarray:
    """The (crop, crop) mask of a box (x0, y0, x1, y1 in the original's pixels): scaled as
    the resize scales the image, shifted by the centre crop's offset, every crop pixel the
    box touches set, and clipped to the crop."""
    width, height = size
    new_w, new_h = resized_size(size, geometry)
    top = round((new_h - geometry.crop) / 2.0)  # torchvision's centre-crop offsets
    left = round((new_w - geometry.crop) / 2.0)
    x0, y0, x1, y1 = box
    sx, sy = new_w / width, new_h / height
    rows = (math.floor(y0 * sy) - top, math.ceil(y1 * sy) - top)
    cols = (math.floor(x0 * sx) - left, math.ceil(x1 * sx) - left)
    region = np.zeros((geometry.crop, geometry.crop), bool)
    r0, r1 = (min(max(v, 0), geometry.crop) for v in rows)
    c0, c1 = (min(max(v, 0), geometry.crop) for v in cols)
    region[r0:r1, c0:c1] = True
    return region


def mask_region(
    path: Path, size: tuple[int, int], geometry: Geometry, max_pixels: int
) -> np.ndarray:
    """A mask image (non-zero: the region) through the geometry, by nearest neighbours."""
    mask = open_rgb(path, max_pixels=max_pixels)
    if mask.size != size:
        raise InputError(
            f"{path}: the mask is {mask.size[0]}x{mask.size[1]}, its image {size[0]}x{size[1]}",
            hint="give a mask of the image's own size",
        )
    nearest = dataclasses.replace(geometry, interpolation="nearest")
    grey = Image.fromarray(np.asarray(mask).max(axis=2))
    return center_crop(grey.convert("RGB"), nearest)[..., 0] > 0
