"""Loading and validating images, the one geometry, and the ten mission samples.

Every method explaining a model works on the same picture: that model's own evaluation
transform (:class:`Geometry`, taken from its weights: torchvision's
``weights.transforms()``, timm's data config), a resize of the shorter side then a
centre crop. The uint8 RGB crop is what LIME perturbs and figures show; the model
tensor is computed from that crop, so all maps of a model are pixel-aligned.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError
from torchvision.transforms.v2 import functional as TF

from explainlab import assets
from explainlab.errors import InputError
from explainlab.settings import DEFAULT_MAX_PIXELS

CROP = 224
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
)


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INTERPOLATIONS = ("nearest", "bilinear", "bicubic")


@dataclass(frozen=True, kw_only=True)
class Geometry:
    """A model's evaluation transform: resize the shorter side to ``resize`` (with
    ``interpolation``, antialiased as PIL does), centre-crop ``crop`` x ``crop``,
    scale to [0, 1] and normalise with ``mean`` and ``std``."""

    resize: int = 256
    crop: int = CROP
    interpolation: str = "bilinear"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __post_init__(self) -> None:
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}")
        if not 0 < self.crop <= self.resize:
            raise ValueError(f"crop {self.crop} must be positive and at most resize {self.resize}")

    @classmethod
    def from_torchvision(cls, transform: object) -> Geometry:
        """From torchvision's ``weights.transforms()`` (``ImageClassification``)."""
        resize, crop = transform.resize_size, transform.crop_size  # type: ignore[attr-defined]
        if len(resize) != 1 or len(crop) != 1:
            raise ValueError(f"expected a shorter-side resize and a square crop in {transform}")
        return cls(
            resize=int(resize[0]),
            crop=int(crop[0]),
            interpolation=transform.interpolation.value,  # type: ignore[attr-defined]
            mean=tuple(float(v) for v in transform.mean),  # type: ignore[attr-defined]
            std=tuple(float(v) for v in transform.std),  # type: ignore[attr-defined]
        )

    @classmethod
    def from_timm(cls, config: dict) -> Geometry:
        """From timm's data config (``resolve_data_config``: ``input_size``, ``crop_pct``,
        ``interpolation``, ``mean``, ``std``), as timm's own eval transform sizes it."""
        mode = config.get("crop_mode", "center")
        if mode != "center":
            raise ValueError(f"timm crop_mode {mode!r}: only 'center' is supported")
        _, height, width = config["input_size"]
        if height != width:
            raise ValueError(f"timm input_size {config['input_size']}: only square crops")
        crop_pct = config.get("crop_pct") or 1.0
        return cls(
            resize=math.floor(height / crop_pct),
            crop=int(height),
            interpolation=config.get("interpolation", "bilinear"),
            mean=tuple(float(v) for v in config["mean"]),
            std=tuple(float(v) for v in config["std"]),
        )

    def describe(self) -> str:
        """One line for reports and manifests: ``Resize(232, bilinear) → CenterCrop(224) …``."""
        mean = ", ".join(f"{v:g}" for v in self.mean)
        std = ", ".join(f"{v:g}" for v in self.std)
        return (
            f"Resize({self.resize}, {self.interpolation}) → CenterCrop({self.crop}), "
            f"mean ({mean}), std ({std})"
        )

    def transform(self, image: Image.Image) -> torch.Tensor:
        """An RGB image as the model sees it: crop, then normalised (3, crop, crop) tensor."""
        return to_tensor(center_crop(image, self), self)

    @classmethod
    def from_dict(cls, data: dict) -> Geometry:
        """The inverse of :meth:`to_dict` (a geometry recorded in a run folder)."""
        return cls(
            resize=int(data["resize"]),
            crop=int(data["crop"]),
            interpolation=str(data["interpolation"]),
            mean=tuple(float(v) for v in data["mean"]),  # type: ignore[arg-type]
            std=tuple(float(v) for v in data["std"]),  # type: ignore[arg-type]
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "resize": self.resize,
            "crop": self.crop,
            "interpolation": self.interpolation,
            "mean": list(self.mean),
            "std": list(self.std),
        }


# torchvision's ImageNet evaluation transform of the V1 weights (ResNet18 IMAGENET1K_V1,
# CLIP-Dissect's preprocessing of the Places365 ResNet18).
IMAGENET_GEOMETRY = Geometry()


@dataclass(frozen=True)
class MissionImage:
    key: str
    filename: str
    class_id: int


# The ten images of the assignment, in the order of the parameter pickle's keys.
MISSION_IMAGES: tuple[MissionImage, ...] = (
    MissionImage("West_Highland_white_terrier", "n02098286_West_Highland_white_terrier.JPEG", 203),
    MissionImage("American_coot", "n02018207_American_coot.JPEG", 137),
    MissionImage("racer", "n04037443_racer.JPEG", 751),
    MissionImage("flamingo", "n02007558_flamingo.JPEG", 130),
    MissionImage("kite", "n01608432_kite.JPEG", 21),
    MissionImage("goldfish", "n01443537_goldfish.JPEG", 1),
    MissionImage("tiger_shark", "n01491361_tiger_shark.JPEG", 3),
    MissionImage("vulture", "n01616318_vulture.JPEG", 23),
    MissionImage("common_iguana", "n01677366_common_iguana.JPEG", 39),
    MissionImage("orange", "n07747607_orange.JPEG", 950),
)
MISSION_KEYS: tuple[str, ...] = tuple(m.key for m in MISSION_IMAGES)
_MISSION_BY_KEY = {m.key: m for m in MISSION_IMAGES}


@dataclass(frozen=True, eq=False, kw_only=True)
class Sample:
    """One image on the one geometry."""

    key: str
    path: Path
    crop: np.ndarray  # (crop, crop, 3) uint8 RGB on the model's geometry
    tensor: torch.Tensor  # (3, crop, crop) float32, normalised for the model
    class_id: int | None = None  # the true class where known (mission images)


@dataclass(frozen=True)
class ImageSource:
    key: str
    path: Path
    class_id: int | None = None


@dataclass(frozen=True)
class Failure:
    """An input that could not be processed, and why."""

    key: str
    path: Path
    error: str


# --- decoding ------------------------------------------------------------------------


def _to_rgb8(image: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB: 16/32-bit and float scaled, transparency on white."""
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        values = np.asarray(image, dtype=np.float64)
        # 16-bit data (also when Pillow reports it as 32-bit "I") spans 0..65535.
        scaled = np.clip(values, 0, 65535) / 257.0
        return Image.fromarray(np.round(scaled).astype(np.uint8), "L").convert("RGB")
    if mode == "F":
        values = np.asarray(image, dtype=np.float64)
        top = 1.0 if np.nanmax(values) <= 1.0 else 255.0
        scaled = np.clip(np.nan_to_num(values), 0, top) * (255.0 / top)
        return Image.fromarray(np.round(scaled).astype(np.uint8), "L").convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode != "RGB":
        return image.convert("RGB")
    return image


def open_rgb(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open any image Pillow reads as 8-bit RGB, EXIF orientation applied.

    Raises :class:`InputError` naming the file for missing, empty, truncated, corrupt,
    non-image and oversized (decompression bomb) files."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file", hint="check the path")
    if path.is_dir():
        raise InputError(
            f"{path}: is a folder, not an image",
            hint="pass image files or use the folder as a source",
        )
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty", hint="re-download or re-export the image")
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise InputError(
            f"{path}: PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set, so truncated files cannot be detected",
            hint="unset it in the calling program",
        )
    previous_limit = Image.MAX_IMAGE_PIXELS
    try:
        # Pillow's own bomb check (a warning above the limit) then agrees with ours.
        Image.MAX_IMAGE_PIXELS = max_pixels
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                width, height = opened.size
                if width * height > max_pixels:
                    raise _too_large(
                        path,
                        f"{width}x{height} = {width * height / 1e6:.0f} megapixels",
                        max_pixels,
                    )
                opened.load()
                image = _to_rgb8(_upright(opened))
                image.load()
                return image
    except InputError:
        raise
    except UnidentifiedImageError:
        raise InputError(
            f"{path}: not an image Pillow can read (wrong extension, or not an image at all)",
            hint="convert it to PNG or JPEG, or remove it from the inputs",
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(pixels[1]) / 1e6:.0f} megapixels" if pixels else "too many pixels"
        raise _too_large(path, size, max_pixels) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        reason = (
            "the file is truncated" if "truncated" in str(exc) else f"the file is corrupt ({exc})"
        )
        raise InputError(f"{path}: {reason}", hint="re-download or re-export the image") from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous_limit


def _too_large(path: Path, size: str, max_pixels: int) -> InputError:
    return InputError(
        f"{path}: {size}, above the limit of {max_pixels / 1e6:.0f} megapixels (a possible decompression bomb)",
        hint="downscale the image, or raise the limit (--max-pixels) if you trust it",
    )


def _upright(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image) or image
    except Exception:  # broken EXIF must not make a readable image unusable
        return image


# --- the one geometry ----------------------------------------------------------------


def center_crop(image: Image.Image, geometry: Geometry = IMAGENET_GEOMETRY) -> np.ndarray:
    """The geometry's resize and centre crop of an RGB image, as a (crop, crop, 3) uint8 array."""
    mode = TF.InterpolationMode(geometry.interpolation)
    resized = TF.resize(image, geometry.resize, interpolation=mode, antialias=True)
    cropped = TF.center_crop(resized, [geometry.crop, geometry.crop])
    return np.asarray(cropped, dtype=np.uint8).copy()


def to_tensor(crop: np.ndarray, geometry: Geometry) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 normalised; (N, H, W, 3) -> (N, 3, H, W)."""
    x = torch.from_numpy(np.ascontiguousarray(crop)).float().div_(255.0)
    x = x.movedim(-1, -3)
    mean = torch.tensor(geometry.mean).view(3, 1, 1)
    std = torch.tensor(geometry.std).view(3, 1, 1)
    return (x - mean) / std


def load_sample(
    source: ImageSource,
    geometry: Geometry = IMAGENET_GEOMETRY,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Sample:
    crop = center_crop(open_rgb(source.path, max_pixels=max_pixels), geometry)
    return Sample(
        key=source.key,
        path=source.path,
        crop=crop,
        tensor=to_tensor(crop, geometry),
        class_id=source.class_id,
    )


def load_samples(
    sources: Iterable[ImageSource],
    geometry: Geometry = IMAGENET_GEOMETRY,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[list[Sample], list[Failure]]:
    """Load every source; bad ones are reported as failures, the good ones still load."""
    samples: list[Sample] = []
    failures: list[Failure] = []
    for source in sources:
        try:
            samples.append(load_sample(source, geometry, max_pixels=max_pixels))
        except InputError as exc:
            failures.append(Failure(source.key, source.path, str(exc)))
    return samples, failures


def sample_from(
    image: str | Path | Image.Image | np.ndarray,
    geometry: Geometry = IMAGENET_GEOMETRY,
    *,
    key: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Sample:
    """One image as a model sees it, from a file path, a PIL image or an array (uint8,
    (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA), with every check of :func:`open_rgb`
    for a file. ``key`` names it (default: the file's stem, or ``image``)."""
    if isinstance(image, str | Path):
        path = Path(image).expanduser()
        return load_sample(ImageSource(key or path.stem, path), geometry, max_pixels=max_pixels)
    if isinstance(image, np.ndarray):
        if (
            image.dtype != np.uint8
            or image.ndim not in (2, 3)
            or (image.ndim == 3 and image.shape[2] not in (3, 4))
        ):
            raise InputError(
                f"an array image must be uint8 (H, W), (H, W, 3) or (H, W, 4), got "
                f"{image.dtype} {image.shape}",
                hint="convert it with np.asarray(pil_image) or scale floats to 0..255",
            )
        image = Image.fromarray(image)
    if not isinstance(image, Image.Image):
        raise InputError(
            f"cannot use a {type(image).__name__} as an image",
            hint="give a file path, a PIL image or a uint8 array",
        )
    if image.width * image.height > max_pixels:
        raise _too_large(Path(key or "image"), f"{image.width}x{image.height}", max_pixels)
    crop = center_crop(_to_rgb8(image), geometry)
    name = key or "image"
    return Sample(key=name, path=Path(f"<{name}>"), crop=crop, tensor=to_tensor(crop, geometry))


# --- choosing inputs -----------------------------------------------------------------


def mission_sources(keys: Sequence[str] | None = None) -> list[ImageSource]:
    """The mission images (all ten, or the named keys), fetched through the asset registry."""
    chosen = [_MISSION_BY_KEY[k] for k in keys] if keys else list(MISSION_IMAGES)
    paths = assets.fetch_many([m.filename for m in chosen])
    return [ImageSource(m.key, paths[m.filename], m.class_id) for m in chosen]


def resolve_sources(specs: Sequence[str] | None) -> list[ImageSource]:
    """Turn user input into image sources.

    Each spec is ``mission`` (the ten images), a mission key (``goldfish``), an image
    file, or a folder (its image files, recursively, sorted). No spec means the ten.
    Keys are file stems, made unique with a numeric suffix where two files share one."""
    if not specs:
        return mission_sources()
    mission_keys: list[str] = []
    sources: list[ImageSource] = []
    for spec in specs:
        if spec == "mission":
            mission_keys.extend(MISSION_KEYS)
        elif spec in _MISSION_BY_KEY and not Path(spec).exists():
            mission_keys.append(spec)
        else:
            path = Path(spec).expanduser()
            if path.is_dir():
                files = sorted(
                    p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                )
                if not files:
                    raise InputError(
                        f"{path}: the folder holds no image files",
                        hint=f"image endings: {', '.join(sorted(IMAGE_SUFFIXES))}",
                    )
                sources.extend(ImageSource(p.stem, p) for p in files)
            else:
                # Missing or unreadable files are reported when loaded, with the other inputs.
                sources.append(ImageSource(path.stem, path))
    combined = (
        mission_sources(list(dict.fromkeys(mission_keys))) if mission_keys else []
    ) + sources
    return _unique_keys(combined)


def _unique_keys(sources: list[ImageSource]) -> list[ImageSource]:
    seen: dict[str, int] = {}
    out = []
    for s in sources:
        n = seen.get(s.key, 0)
        seen[s.key] = n + 1
        out.append(s if n == 0 else ImageSource(f"{s.key}_{n + 1}", s.path, s.class_id))
    return out
