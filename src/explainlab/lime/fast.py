"""A drop-in ``LimeImageExplainer`` whose perturbation step is vectorised.

lime 0.2.0.1 builds every perturbed image in a Python loop: a deep copy of the image,
then one full-image comparison ``segments == z`` per hidden superpixel (about 3 s per
224x224 image at 1000 samples before the classifier runs). Here each batch of perturbed
images is a few whole-array numpy operations (see ``Perturber``). Everything else is lime's own code, and
the random numbers are drawn by the same call on the same ``random_state``, so the same
seed gives the same segments, the same perturbation matrix, the same images in the same
batches to the classifier, hence the same weights (tested to 1e-6; in practice equal).

lime's quirk is kept on purpose: column ``i`` of the perturbation matrix hides the pixels
whose segment id is ``i``. With ids 0..n-1 (quickshift, felzenszwalb, slic with
start_label=0) that is every superpixel; ids outside 0..n-1 (slic's default start_label=1
makes the last one n) are never hidden, as in lime.

The explainer also records each label's fit (R² score and local prediction): lime keeps
only the last label's, on the explanation object, for whichever label was fitted last.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from lime.lime_base import LimeBase
from lime.lime_image import ImageExplanation, LimeImageExplainer
from tqdm.auto import tqdm


class RecordingLimeBase(LimeBase):
    """lime's LimeBase, also keeping (score, local_pred) of every label it fits."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fits: dict[int, tuple[float, float]] = {}

    def explain_instance_with_data(self, *args: Any, **kwargs: Any) -> Any:
        intercept, exp, score, local_pred = super().explain_instance_with_data(*args, **kwargs)
        label = kwargs["label"] if "label" in kwargs else args[3]
        self.fits[int(label)] = (float(score), float(np.ravel(local_pred)[0]))
        return intercept, exp, score, local_pred


def record_fits(explainer: LimeImageExplainer) -> LimeImageExplainer:
    """Swap in a recording LimeBase that shares the explainer's kernel and random state
    (so results are unchanged)."""
    base = explainer.base
    if not isinstance(base, RecordingLimeBase):
        explainer.base = RecordingLimeBase(
            base.kernel_fn, base.verbose, random_state=explainer.random_state
        )
    return explainer


def fits_of(explainer: LimeImageExplainer) -> dict[int, tuple[float, float]]:
    return dict(getattr(explainer.base, "fits", {}))


class Perturber:
    """Builds lime's perturbed images for rows of the perturbation matrix, vectorised.

    Pixel ``p`` of image ``r`` comes from ``fudged_image`` when column ``segments[p]`` of row
    ``r`` is 0, else from ``image``; ids outside 0..n_features-1 match no column and are
    never hidden (as in lime). Superpixels are spatially coherent, so the flattened image
    (channels included) is a few thousand runs of one segment id: a batch's hide/keep mask
    is one ``np.repeat`` of the rows over those runs. For uint8 images the mask then picks
    pixels by modular arithmetic (image + mask * (fudged - image) mod 256), which runs at
    memory speed where ``np.where`` does not."""

    def __init__(
        self, image: np.ndarray, fudged_image: np.ndarray, segments: np.ndarray, n_features: int
    ) -> None:
        self.image, self.fudged = image, fudged_image
        channels = int(np.prod(image.shape[segments.ndim :], dtype=int))
        ids = np.repeat(segments.ravel(), channels)
        ids = np.where((ids >= 0) & (ids < n_features), ids, n_features)  # n_features: never hidden
        starts = np.concatenate([[0], np.flatnonzero(np.diff(ids)) + 1])
        self.run_ids = ids[starts]
        self.run_lengths = np.diff(np.append(starts, ids.size))
        self.uint8 = image.dtype == np.uint8 and fudged_image.dtype == np.uint8
        if self.uint8:
            self.delta = (fudged_image.ravel() - image.ravel()).astype(np.uint8)  # mod 256

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        n = len(rows)
        hidden = np.zeros((n, rows.shape[1] + 1), np.uint8)
        hidden[:, :-1] = rows == 0
        mask = np.repeat(hidden[:, self.run_ids], self.run_lengths, axis=1)
        if self.uint8:
            np.multiply(mask, self.delta, out=mask)
            mask += self.image.ravel()
            return mask.reshape((n, *self.image.shape))
        return np.where(mask.astype(bool), self.fudged.ravel(), self.image.ravel()).reshape(
            (n, *self.image.shape)
        )


def perturbed_batch(
    image: np.ndarray, fudged_image: np.ndarray, segments: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    """The images lime builds for ``rows`` (one 0/1 row per image, one column per superpixel)."""
    return Perturber(image, fudged_image, segments, rows.shape[1])(rows)


class FastLimeImageExplainer(LimeImageExplainer):
    """``LimeImageExplainer`` with a vectorised ``data_labels`` (see the module docstring)."""

    def __init__(self, *args: Any, progress: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.progress = progress
        record_fits(self)

    def explain_instance(self, *args: Any, **kwargs: Any) -> ImageExplanation:
        self.base.fits = {}
        explanation = super().explain_instance(*args, **kwargs)
        explanation.fits = fits_of(self)
        return explanation

    def data_labels(
        self,
        image: np.ndarray,
        fudged_image: np.ndarray,
        segments: np.ndarray,
        classifier_fn: Callable[[np.ndarray], Any],
        num_samples: int,
        batch_size: int = 10,
    ) -> tuple[np.ndarray, np.ndarray]:
        n_features = np.unique(segments).shape[0]
        # The same draw as lime's, from the same random state.
        data = self.random_state.randint(0, 2, num_samples * n_features).reshape(
            (num_samples, n_features)
        )
        data[0, :] = 1
        perturb = Perturber(image, fudged_image, segments, n_features)
        labels: list[Any] = []
        starts = range(0, num_samples, batch_size)
        for start in tqdm(
            starts, desc="LIME samples", unit="batch", leave=False, disable=not self.progress
        ):
            batch = perturb(data[start : start + batch_size])
            labels.extend(classifier_fn(batch))
        return data, np.array(labels)
