"""The classifier function LIME calls: uint8 image batches in, softmax probabilities out."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from explainlab.models import LoadedModel
from explainlab.models.speed import forward_chunk


class CutoffExceeded(RuntimeError):
    """Raised from inside explain_instance when an explanation runs past its time limit."""


@dataclass(eq=False, kw_only=True)
class ModelClassifier:
    """``classifier_fn`` for lime: (N, H, W, 3) uint8 images -> (N, classes) float64
    probabilities (softmax, never logits).

    Images are normalised as the model expects (``preprocess``) and run in chunks of
    ``chunk`` under inference mode. It counts the time spent and the images seen (so a
    benchmark can tell the classifier's time from lime's), and raises CutoffExceeded once
    ``deadline`` (a ``time.perf_counter()`` value) has passed, which aborts explain_instance.
    ``resizes``: ``preprocess`` resizes images of any size (counted as work by the cost model)."""

    module: nn.Module
    preprocess: Callable[[np.ndarray], torch.Tensor]
    chunk: int = 64
    deadline: float | None = None
    resizes: bool = False
    seconds: float = field(default=0.0, init=False)
    images: int = field(default=0, init=False)

    @classmethod
    def for_model(cls, model: LoadedModel, **kwargs) -> ModelClassifier:
        kwargs.setdefault("chunk", forward_chunk(model.device))
        kwargs.setdefault("preprocess", model.preprocess)
        return cls(module=model.module, **kwargs)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        if self.deadline is not None and start > self.deadline:
            raise CutoffExceeded("the explanation ran past its time limit")
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected (N, H, W, 3) RGB images, got shape {images.shape}")
        out = []
        with torch.inference_mode():
            for i in range(0, len(images), self.chunk):
                logits = self.module(self.preprocess(images[i : i + self.chunk]))
                out.append(torch.softmax(logits.float(), dim=1).cpu())
        probabilities = torch.cat(out).numpy().astype(np.float64)
        self.seconds += time.perf_counter() - start
        self.images += len(images)
        return probabilities

    def reset(self, deadline: float | None = None) -> None:
        self.seconds, self.images, self.deadline = 0.0, 0, deadline

    def unperturbed(self, image: np.ndarray) -> np.ndarray:
        """The probabilities of one (H, W, 3) image, outside any time limit."""
        saved = self.deadline
        self.deadline = None
        try:
            return self(image[None])[0]
        finally:
            self.deadline = saved

    def top_class(self, image: np.ndarray) -> tuple[int, float]:
        """The top-1 class and its probability for one (H, W, 3) image."""
        probabilities = self.unperturbed(image)
        top = int(np.argmax(probabilities))
        return top, float(probabilities[top])


def classifier_traits(classifier: Callable[[np.ndarray], np.ndarray]) -> tuple[int, bool]:
    """(images per model call, whether it resizes) of a classifier function: a
    ModelClassifier's, or (0: each batch in one call, False) for any other callable."""
    if isinstance(classifier, ModelClassifier):
        return classifier.chunk, classifier.resizes
    return 0, False
