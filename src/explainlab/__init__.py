"""explainlab: explain what vision classifiers do and check the explanations against each other.

The Python API (:mod:`explainlab.api`) is importable from here, and loads its libraries
only when first used, so ``import explainlab`` is instant::

    import explainlab as xl
    found = xl.explain(xl.load_model("efficientnet_lite0"), ["dog.jpg"], methods=["gradcam"])
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# (the stage packages are explainlab.cam, .lime, .compare, .dissect: the functions
# have names of their own)
API_NAMES = (
    "DissectResult",
    "Explanation",
    "Geometry",
    "LimeExplanation",
    "agreement",
    "cam_maps",
    "dissect_model",
    "evaluate",
    "explain",
    "lime_explanations",
    "load_model",
    "sample_images",
    "samples",
    "wrap",
)
__all__ = ["API_NAMES", "__version__", *API_NAMES]


def __getattr__(name: str) -> Any:
    if name in API_NAMES:
        from explainlab import api

        return getattr(api, name)
    raise AttributeError(f"module 'explainlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
