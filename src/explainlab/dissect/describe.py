"""From a units x concepts similarity to the published table format, and the extras."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

DESCRIPTION_COLUMNS = ("layer", "unit", "description", "similarity")
TOP_CONCEPTS = 5


def describe(layer: str, similarity: torch.Tensor, words: Sequence[str]) -> pd.DataFrame:
    """``layer,unit,description,similarity``: each unit's arg-max concept (units from 0),
    the columns of CLIP-Dissect's published ``descriptions.csv``."""
    if similarity.shape[1] != len(words):
        raise ValueError(f"{similarity.shape[1]} similarity columns for {len(words)} concepts")
    values, ids = similarity.max(dim=1)
    return pd.DataFrame(
        {
            "layer": layer,
            "unit": np.arange(len(ids)),
            "description": [words[int(i)] for i in ids],
            "similarity": values.numpy().astype(np.float64),
        },
        columns=list(DESCRIPTION_COLUMNS),
    )


def top_concepts(
    layer: str, similarity: torch.Tensor, words: Sequence[str], k: int = TOP_CONCEPTS
) -> pd.DataFrame:
    """Each unit's ``k`` best concepts: ``layer,unit,rank,concept,similarity`` (rank from 1)."""
    k = min(k, len(words))
    values, ids = similarity.topk(k, dim=1)
    n_units = similarity.shape[0]
    return pd.DataFrame(
        {
            "layer": layer,
            "unit": np.repeat(np.arange(n_units), k),
            "rank": np.tile(np.arange(1, k + 1), n_units),
            "concept": [words[int(i)] for i in ids.reshape(-1)],
            "similarity": values.reshape(-1).numpy().astype(np.float64),
        }
    )


def top_images(
    layer: str, activations: np.ndarray, probe_index: np.ndarray, k: int
) -> pd.DataFrame:
    """Each unit's ``k`` most activating probe images: ``layer,unit,rank,probe_index,activation``.

    ``probe_index`` maps the rows of ``activations`` to the probe set's image numbers."""
    k = min(k, len(activations))
    order = np.argsort(-activations, axis=0, kind="stable")[:k]  # k x units
    n_units = activations.shape[1]
    units = np.tile(np.arange(n_units), (k, 1))
    return pd.DataFrame(
        {
            "layer": layer,
            "unit": units.T.reshape(-1),
            "rank": np.tile(np.arange(1, k + 1), n_units),
            "probe_index": probe_index[order.T.reshape(-1)],
            "activation": np.take_along_axis(activations, order, axis=0).T.reshape(-1),
        }
    )
