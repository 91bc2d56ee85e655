"""The viewer's images, written once at the size the page shows them (WebP): crops,
map overlays, LIME's superpixel weights, the run's figures, a unit's region on a probe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

GRID_PX = 160  # a cell of the explanations grid
DETAIL_PX = 224  # the detail view of one image (the model's crop)
FIGURE_PX = 960  # the widest a figure is shown
PROBE_PX = 64  # a dissection unit's top-activating probe image
QUALITY = 80
DIMMED = 0.3  # brightness kept outside a unit's region
OUTLINE = (255, 215, 0)  # the region's outline (yellow: seen on dark and bright probes)


def _save(image: Image.Image, path: Path, size: int | None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if size is not None and max(image.size) > size:
        image = image.copy()
        image.thumbnail((size, size), Image.Resampling.LANCZOS)
    image.save(path, "WEBP", quality=QUALITY, method=4)
    return path


def save_photo(source: Path | Image.Image, path: Path, size: int) -> Path:
    """An image file (or image) as RGB WebP at most ``size`` pixels on its longer side."""
    image = source if isinstance(source, Image.Image) else Image.open(source)
    return _save(image.convert("RGB"), path, size)


def save_figure(source: Path, path: Path) -> Path:
    """A figure of the run, shrunk to the page's width."""
    with Image.open(source) as image:
        return _save(image.convert("RGB"), path, FIGURE_PX)


def map_image(saliency: np.ndarray) -> Image.Image:
    """A map (H, W), scaled to [0, 1] by its own range, in the reports' heat-map colours:
    the page lays it over the crop at the opacity the reader picks."""
    from explainlab import masks, plotting  # matplotlib: loaded when a map is drawn

    scaled = masks.normalise(np.nan_to_num(np.asarray(saliency, dtype=np.float64)))
    return Image.fromarray((plotting.heat_rgb(scaled) * 255).round().astype(np.uint8), "RGB")


def weights_image(segments: np.ndarray, weights: dict[int, float]) -> Image.Image:
    """LIME's superpixels coloured by their weight: green for, red against the label,
    opaque in proportion to |weight| (transparent where a superpixel has none)."""
    largest = max((abs(w) for w in weights.values()), default=0.0) or 1.0
    lookup = np.zeros((int(segments.max()) + 1, 4), dtype=np.uint8)
    for segment, weight in weights.items():
        if 0 <= segment < len(lookup):
            colour = (0, 170, 60) if weight > 0 else (220, 40, 40)
            lookup[segment] = (*colour, round(230 * abs(weight) / largest))
    return Image.fromarray(lookup[segments], "RGBA")


def save_overlay(image: Image.Image, path: Path, size: int) -> Path:
    """An overlay (RGB or RGBA) at most ``size`` pixels on its longer side."""
    return _save(image, path, size)


def _eroded(mask: np.ndarray) -> np.ndarray:
    """The mask less its pixels with a 4-neighbour outside it (the image's edge is not)."""
    padded = np.pad(mask, 1, mode="edge")
    return mask & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]


def region_image(crop: Image.Image, unit_map: np.ndarray, threshold: float) -> Image.Image:
    """A unit's region on the crop the model saw, as NetDissect shows it: the map (h, w),
    upsampled bilinearly to the crop's size, is the region where above ``threshold``;
    the crop is dimmed outside it and the region outlined."""
    width, height = crop.size
    values = Image.fromarray(np.asarray(unit_map, dtype=np.float32))
    inside = np.asarray(values.resize((width, height), Image.Resampling.BILINEAR)) > threshold
    pixels = np.asarray(crop.convert("RGB"), dtype=np.float32)
    shown = np.where(inside[..., None], pixels, pixels * DIMMED)
    shown[inside & ~_eroded(inside)] = OUTLINE
    return Image.fromarray(shown.round().astype(np.uint8), "RGB")
