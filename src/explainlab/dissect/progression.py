"""What kind of concept the units of each layer learn, and how that changes with depth
and with the training set: the share of a layer's units per group of WordNet categories
(:mod:`explainlab.dissect.wordnet`: pattern, colour, shape or material; object; place;
abstract), in every run of every model, the change from the first layer to the last,
and the difference between two models.

A change or a difference is ``supported`` only when every run gives the same sign and
its smallest size is larger than the run-to-run spread of the shares it compares."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from explainlab.dissect.categories import OTHER
from explainlab.dissect.stability import RunGroup
from explainlab.dissect.wordnet import NONE, PLACE

_OBJECTS = ("artifact", "animal", "plant or food", "person or body", "natural object")
# group -> the WordNet categories it pools
GROUPS: dict[str, tuple[str, ...]] = {
    "low-level": ("pattern or quality", "colour or attribute", "shape", "material"),
    "object": _OBJECTS,
    "scene": (PLACE,),
    "high-level": (*_OBJECTS, PLACE),
    "abstract": ("abstract",),
    OTHER: (NONE,),
}
STACKED = ("low-level", "object", "scene", "abstract", OTHER)  # add up to every unit
SHARE_COLUMNS = ["model", "label", "run", "main", "layer", "units", "group", "units_group"]


def category_shares(groups: Sequence[RunGroup], categories) -> pd.DataFrame:
    """Per model, run and layer (not pooled), and group of :data:`GROUPS`: the units its
    categories label (their share: :func:`with_share`). ``categories.category(concept)``
    names a concept's WordNet category; ``main`` marks the run the analysis describes;
    ``label`` is that run's name in the other tables."""
    rows = []
    for group in groups:
        for i, (name, run) in enumerate(zip(group.names, group.runs, strict=True)):
            for layer in run.layers:
                labels = run.table.loc[run.table["layer"] == layer, "description"]
                found = labels.map(categories.category)
                for key, members in GROUPS.items():
                    n = int(found.isin(members).sum())
                    rows.append(
                        [group.model, group.main.label, name, i == 0, layer, len(labels), key, n]
                    )
    return pd.DataFrame(rows, columns=SHARE_COLUMNS)


def coverage(shares: pd.DataFrame) -> pd.DataFrame:
    """Per model, run and layer of :func:`category_shares`: the units with a WordNet
    category, and their share of the layer's units."""
    none = shares[shares["group"] == OTHER]
    return none.assign(
        categorised=none["units"] - none["units_group"],
        coverage=1 - none["units_group"] / none["units"],
    )[["model", "run", "main", "layer", "units", "categorised", "coverage"]]


def with_share(shares: pd.DataFrame) -> pd.DataFrame:
    """:func:`category_shares` with each group's share of the layer's units."""
    return shares.assign(share=shares["units_group"] / shares["units"])


def _spread(shares: pd.DataFrame) -> float:
    return float(shares["share"].max() - shares["share"].min()) if len(shares) else 0.0


def _verdict(changes: pd.Series, spread: float) -> bool:
    """Every run changes the same way, each by more than ``spread``."""
    same_sign = bool((changes > 0).all() or (changes < 0).all())
    return same_sign and float(changes.abs().min()) > spread


def category_trend(shares: pd.DataFrame) -> pd.DataFrame:
    """Per model and group: the main run's share in the first and the last layer, the
    change in every run (lowest, highest), the larger run-to-run spread of the two
    layers' shares, and whether the change is supported."""
    rows = []
    for (model, key), part in with_share(shares).groupby(["model", "group"], sort=False):
        layers = list(dict.fromkeys(part["layer"]))
        if len(layers) < 2:
            continue
        by_run = {x: part[part["layer"] == x].set_index("run")["share"] for x in layers}
        change = (by_run[layers[-1]] - by_run[layers[0]]).dropna()  # per run
        spread = max(_spread(part[part["layer"] == x]) for x in (layers[0], layers[-1]))
        main = part[part["main"]].set_index("layer")["share"]
        rows.append(
            [
                model,
                part["label"].iloc[0],
                key,
                layers[0],
                layers[-1],
                main[layers[0]],
                main[layers[-1]],
                change.min(),
                change.max(),
                len(change),
                spread,
                _verdict(change, spread),
            ]
        )
    columns = ["model", "label", "group", "first_layer", "last_layer", "share_first"]
    columns += ["share_last", "change_min", "change_max", "runs", "spread", "supported"]
    return pd.DataFrame(rows, columns=columns)


def category_contrast(shares: pd.DataFrame) -> pd.DataFrame:
    """Per layer and group, for the first two models: the main runs' shares, the
    difference (second minus first) in every replicate (the i-th run of each), the larger
    run-to-run spread of the two models, and whether the difference is supported."""
    models = list(dict.fromkeys(shares["model"]))
    columns = ["model_a", "model_b", "layer", "group", "share_a", "share_b", "diff_min"]
    columns += ["diff_max", "runs", "spread", "supported"]
    if len(models) < 2:
        return pd.DataFrame(columns=columns)
    a, b = models[:2]
    rows = []
    for (layer, key), part in with_share(shares).groupby(["layer", "group"], sort=False):
        sa, sb = (part[part["model"] == m].reset_index(drop=True) for m in (a, b))
        if sa.empty or sb.empty:
            continue
        n = min(len(sa), len(sb))
        diff = sb["share"].iloc[:n] - sa["share"].iloc[:n]
        spread = max(_spread(sa), _spread(sb))
        rows.append(
            [
                a,
                b,
                layer,
                key,
                sa["share"].iloc[0],
                sb["share"].iloc[0],
                diff.min(),
                diff.max(),
                n,
                spread,
                _verdict(diff, spread),
            ]
        )
    return pd.DataFrame(rows, columns=columns)
