"""Installed versions of the packages whose code makes the numbers: one helper for the
manifest and for every stage's fingerprint (a new version of a library recomputes)."""

from __future__ import annotations

import platform
from importlib import metadata

from explainlab import __version__

# Everything the manifest records.
PACKAGES: tuple[str, ...] = (
    "torch",
    "torchvision",
    "grad-cam",
    "lime",
    "open-clip-torch",
    "timm",
    "numpy",
    "scipy",
    "scikit-learn",
    "scikit-image",
    "pandas",
    "matplotlib",
    "pillow",
    "reportlab",
    "pypdf",
)


# The libraries whose versions change a LIME explanation.
LIME_PACKAGES: tuple[str, ...] = ("lime", "scikit-image", "scikit-learn", "numpy")


def package_versions(*names: str) -> dict[str, str]:
    """``explainlab``'s version and each named distribution's ("not installed" if absent);
    without names, Python's and every package of :data:`PACKAGES`."""
    versions = {"explainlab": __version__}
    if not names:
        versions["python"] = platform.python_version()
    for name in names or PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
