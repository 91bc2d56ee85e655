"""Class names: ImageNet's from torchvision's weights metadata, Places365's from the CSAIL list."""

from __future__ import annotations

from pathlib import Path

from explainlab import assets


def imagenet_labels() -> list[str]:
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V2.meta["categories"])


def parse_places365_categories(text: str) -> list[str]:
    """Lines like ``/a/airfield 0`` or ``/b/bakery/shop 3`` -> names in index order."""
    by_index: dict[int, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        path, index = line.rsplit(maxsplit=1)
        name = path.strip()
        # '/a/airfield' -> 'airfield'; '/b/bakery/shop' -> 'bakery/shop'
        if name.startswith("/") and len(name) > 3 and name[2] == "/":
            name = name[3:]
        by_index[int(index)] = name
    if sorted(by_index) != list(range(len(by_index))):
        raise ValueError("category indices are not 0..N-1")
    return [by_index[i] for i in range(len(by_index))]


def places365_labels(path: Path | None = None) -> list[str]:
    path = path or assets.fetch("categories_places365.txt")
    return parse_places365_categories(Path(path).read_text())
