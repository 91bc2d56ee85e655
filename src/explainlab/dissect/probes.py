"""Probe sets: the images every unit and every concept are scored on.

A probe set is Broden (``broden1_224.zip`` through the asset registry; only its ``.jpg``
images are extracted), an ImageNet validation folder, or any image folder; several can
be concatenated (``imagenet_broden`` in the reference). ``limit`` takes a fixed-seed
subset. The identity of a probe set (file names, sizes, modification times, the zip's
checksum, the subset) enters every cache key that depends on the images."""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from explainlab import assets, runfolder
from explainlab.errors import InputError
from explainlab.images import IMAGE_SUFFIXES, open_rgb
from explainlab.tempfiles import mkdtemp_in

BRODEN = "broden"  # the probe set name of Broden (broden1_224) in settings
BRODEN_ZIP = "broden1_224.zip"
BRODEN_IMAGES = "broden1_224/images/"
_EXTRACTED_MARKER = ".extracted"


@dataclass(frozen=True)
class ProbeSet:
    name: str  # "broden", a folder name, or names joined by "+"
    paths: tuple[Path, ...]
    identity: str  # fingerprint of the sources and the subset

    def __len__(self) -> int:
        return len(self.paths)


# --- Broden ------------------------------------------------------------------------------


def broden_root() -> Path:
    """Where the Broden images are extracted: beside the verified zip in the asset cache."""
    return assets.cache_dir() / "broden" / "broden1_224"


def _is_broden_image(name: str) -> bool:
    return name.startswith(BRODEN_IMAGES) and name.lower().endswith(".jpg")


def extract_broden_images(zip_path: Path, root: Path) -> Path:
    """Extract the ``.jpg`` images of a Broden zip into ``root/images`` (segmentation
    masks and tables are skipped), atomically: a temporary folder renamed when complete.
    Returns the images folder; a complete earlier extraction of the same zip is reused."""
    images = root / "images"
    marker = root / _EXTRACTED_MARKER
    stamp = f"{zip_path.name} {zip_path.stat().st_size}"
    if images.is_dir() and marker.is_file() and marker.read_text() == stamp:
        return images
    root.mkdir(parents=True, exist_ok=True)
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(
            f"{zip_path}: not a readable zip ({exc})", hint="delete it and download it again"
        ) from None
    tmp = mkdtemp_in(root, prefix=".images.")
    try:
        with archive:
            members = [m for m in archive.infolist() if _is_broden_image(m.filename)]
            if not members:
                raise InputError(
                    f"{zip_path}: no images under {BRODEN_IMAGES}",
                    hint="this is not the broden1_224 archive",
                )
            total = sum(m.file_size for m in members)
            with tqdm(total=total, unit="B", unit_scale=True, desc="extracting Broden") as bar:
                for member in members:
                    relative = PurePosixPath(member.filename).relative_to(BRODEN_IMAGES)
                    if relative.is_absolute() or ".." in relative.parts:
                        continue  # never write outside the target folder
                    target = tmp.joinpath(*relative.parts)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(member) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    bar.update(member.file_size)
        if images.exists():
            shutil.rmtree(images)
        os.replace(tmp, images)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    runfolder.write_text(marker, stamp)
    return images


def broden_images(*, allow_download: bool = True) -> tuple[list[Path], str]:
    """The Broden probe images (downloaded and extracted on first use) and their identity."""
    zip_path = assets.fetch(BRODEN_ZIP, allow_download=allow_download)
    folder = extract_broden_images(zip_path, broden_root())
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() == ".jpg")
    return paths, f"{BRODEN_ZIP}:{assets.ASSETS[BRODEN_ZIP].checksum}"


# --- folders -------------------------------------------------------------------------------


def image_file(path: Path) -> Path:
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise InputError(
            f"probe image {str(path)!r} is not an image file",
            hint=f"image endings: {', '.join(sorted(IMAGE_SUFFIXES))}",
        )
    return path


def folder_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise InputError(
            f"probe set {str(folder)!r} is neither 'broden', a folder nor an image file",
            hint="give 'broden', a folder of images (an ImageNet validation folder, ...) "
            "or image files",
        )
    paths = sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not paths:
        raise InputError(
            f"{folder}: the probe folder holds no image files",
            hint=f"image endings: {', '.join(sorted(IMAGE_SUFFIXES))}",
        )
    return paths


def _folder_identity(folder: Path, paths: Sequence[Path]) -> list:
    # names, sizes and modification times: cheap for 100k files, and a changed file
    # changes them (copies that reset times only cost a recomputation)
    rows = []
    for p in paths:
        st = p.stat()
        rows.append([p.relative_to(folder).as_posix(), st.st_size, st.st_mtime_ns])
    return rows


def subset_indices(n: int, limit: int, seed: int) -> np.ndarray:
    """All indices if ``limit`` is 0 or at least ``n``; else a sorted fixed-seed sample."""
    if limit <= 0 or limit >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def resolve_probe(
    specs: Sequence[str], *, limit: int = 0, seed: int = 0, allow_download: bool = True
) -> ProbeSet:
    """The probe images of ``specs`` (``broden``, folders and/or image files), concatenated,
    subset."""
    if not specs:
        raise InputError("no probe set given", hint="give 'broden' or a folder of images")
    paths: list[Path] = []
    identity: list = []
    names: list[str] = []
    for spec in specs:
        if spec == BRODEN:
            found, source_id = broden_images(allow_download=allow_download)
            identity.append(["broden", source_id, len(found)])
            names.append("broden")
        elif (path := Path(spec).expanduser().resolve()).is_file():
            found = [image_file(path)]
            identity.append(["file", *_folder_identity(path.parent, found)])
            names += [] if "files" in names else ["files"]
        else:
            found = folder_images(path)
            identity.append(["folder", _folder_identity(path, found)])
            names.append(path.name)
        paths.extend(found)
    chosen = subset_indices(len(paths), limit, seed)
    identity.append(["subset", limit, seed, len(chosen)])
    return ProbeSet(
        "+".join(names), tuple(paths[i] for i in chosen), runfolder.fingerprint(identity)
    )


# --- loading -------------------------------------------------------------------------------


class ProbeImages(Dataset):
    """``(index, tensor, error)``; an unreadable image gives a blank tensor and its error,
    so one bad file does not stop the pass and is left out of the results."""

    def __init__(self, paths: Sequence[Path], transform: Callable[[Image.Image], torch.Tensor]):
        self.paths = list(paths)
        self.transform = transform
        self._blank: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor, str]:
        try:
            return index, self.transform(open_rgb(self.paths[index])), ""
        except InputError as exc:
            if self._blank is None:
                self._blank = self.transform(Image.new("RGB", (224, 224)))
            return index, torch.zeros_like(self._blank), str(exc)


def probe_loader(
    paths: Sequence[Path],
    transform: Callable[[Image.Image], torch.Tensor],
    *,
    batch_size: int,
    num_workers: int,
) -> DataLoader:
    return DataLoader(
        ProbeImages(paths, transform),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        persistent_workers=False,
    )
