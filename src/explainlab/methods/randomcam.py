"""RandomCAM, the baseline: channel weights drawn uniformly from [-1, 1]. The library
draws them from numpy's global generator; here it is seeded with :data:`SEED` for each
image (and its state put back afterwards), so a map is the same on every run. The
library's backward pass is not needed for random weights: the fast variant runs one
forward pass."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from explainlab.methods.registry import MethodSpec, Passes, register

SEED = 0


@contextlib.contextmanager
def seeded(seed: int = SEED) -> Iterator[None]:
    """numpy's global generator seeded inside the block, its state restored after it."""
    import numpy as np

    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def build_library(cls: Any, model: Any, layer: Any, *, batch_size: int, reshape: Any) -> Any:
    """The library's RandomCAM, run with numpy's generator seeded."""
    return cls(model, [layer], reshape_transform=reshape), seeded()


SPEC = register(
    MethodSpec(
        name="randomcam",
        title="RandomCAM",
        colour="#C49C94",
        kind="cam",
        layer=True,
        passes=lambda channels, impl: Passes(forward=1, backward=0 if impl == "fast" else 1),
        reference="pytorch_grad_cam:RandomCAM",
        fast="explainlab.cam.gradients:fast_randomcam",
        build=build_library,
        about=f"weights each channel at random, uniformly in [-1, 1] (a baseline; seed {SEED})",
        order=80,
        baseline=True,
        cost_text="one forward pass",
        library_cost_text="one forward and one backward pass",
    )
)
