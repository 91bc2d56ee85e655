"""Render PDF pages to images and check they hold something (shared by report tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def rendered_pages(path: Path, scale: float = 0.6) -> list[np.ndarray]:
    """Every page of a PDF as an RGB array (pypdfium2, no system tools needed)."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(path))
    try:
        return [np.asarray(page.render(scale=scale).to_pil().convert("RGB")) for page in document]
    finally:
        document.close()


def ink_fraction(page: np.ndarray) -> float:
    """Fraction of pixels that are not (near) white."""
    return float((page.min(axis=2) < 235).mean())


def assert_pages_not_blank(
    path: Path, min_pages: int = 1, min_ink: float = 0.01
) -> list[np.ndarray]:
    pages = rendered_pages(path)
    assert len(pages) >= min_pages, f"{path}: {len(pages)} pages"
    for i, page in enumerate(pages, 1):
        assert ink_fraction(page) >= min_ink, (
            f"{path}: page {i} looks blank ({ink_fraction(page):.4f})"
        )
    return pages
