"""The numbers of the analysis: tables computed from descriptions.csv files.

Every function takes :class:`Descriptions` (one model's ``layer,unit,description[,
similarity]`` table, ours or published) and returns a pandas DataFrame; figures and the
summary are drawn from these tables only."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from explainlab.dissect.categories import CATEGORIES, OTHER, CategoryMap
from explainlab.errors import InputError

if TYPE_CHECKING:
    from explainlab.dissect.wordnet import WordNetCategories

ALL_LAYERS = "all layers"
# probe-set suffixes of the reference's result files: resnet18_places_imagenet_broden.csv
_PROBE_SUFFIXES = (
    "_imagenet_broden",
    "_broden",
    "_imagenet_val",
    "_cifar100_val",
    "_cifar100_train",
)
_ALIASES = {"resnet18_places": "resnet18_places365"}
PUBLISHED_FILES = ("resnet18_places_imagenet_broden.csv", "resnet50_imagenet_broden.csv")
# the reference code's runs on the assignment's configuration (the asset registry's
# clip-dissect-runs): run a first, so that it is each model's main run
REFERENCE_RUN_FILES = (
    "resnet18_run_a.csv",
    "resnet18_places365_run_a.csv",
    "resnet18_run_b.csv",
    "resnet18_places365_run_b.csv",
)
# one run of several of the same model: <model>_run_<id>.csv
_RUN_SUFFIX = re.compile(r"^(?P<model>.+)_run_(?P<run>[A-Za-z0-9]+)$")


@dataclass(eq=False, kw_only=True)  # one file's labels: compared by identity, never table by table
class Descriptions:
    name: str  # as named by the file (published: "resnet18_places")
    model: str  # canonical model name ("resnet18_places365")
    dataset: str  # "places365" or "imagenet": the class names of the model's fc layer
    source: str  # "ours", "published" or "reference" (a run of the reference code)
    path: Path
    table: pd.DataFrame  # layer, unit, description (, similarity)
    notes: list[str] = field(default_factory=list)  # caveats from args.json (random weights)
    # which run of its model this is, among several: "a" of <model>_run_a.csv, the run
    # folder of <run>/dissect/<model>/descriptions.csv; "" when not known
    run: str = ""

    @property
    def label(self) -> str:
        if self.source == "published":
            return f"{self.name} (published)"
        if self.source == "reference":
            return f"{self.model} (run {self.run})"
        return self.name

    @property
    def layers(self) -> list[str]:
        return list(dict.fromkeys(self.table["layer"]))

    @property
    def folder(self) -> Path:
        return self.path.parent


def _strip_probe(name: str) -> str:
    """``resnet18_places_imagenet_broden`` -> ``resnet18_places`` (the reference names its
    result files ``<target model>_<probe set>.csv``)."""
    for suffix in _PROBE_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def canonical_model(name: str) -> str:
    name = _strip_probe(name.strip().lower())
    return _ALIASES.get(name, name)


def model_dataset(model: str) -> str:
    return "places365" if "places" in model else "imagenet"


def read_descriptions(
    path: Path, name: str | None = None, source: str | None = None
) -> Descriptions:
    """A descriptions.csv: ours (``dissect/<model>/descriptions.csv``, named by its folder)
    or the reference's (``<model>_<probe set>.csv``, named by the file)."""
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype={"layer": str, "description": str}, keep_default_na=False)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file", hint="give descriptions.csv files") from None
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"{path}: not a readable CSV ({exc})") from None
    missing = [c for c in ("layer", "unit", "description") if c not in table.columns]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)}",
            hint="a descriptions.csv has the columns layer,unit,description,similarity",
        )
    if table.empty:
        raise InputError(f"{path}: no units in the file")
    table = table[[c for c in ("layer", "unit", "description", "similarity") if c in table.columns]]
    table = table.assign(description=table["description"].str.strip())
    if "similarity" in table.columns:
        table = table.assign(similarity=pd.to_numeric(table["similarity"], errors="coerce"))
    ours = path.name == "descriptions.csv"
    stem = path.parent.name if ours else re.sub(r"_descriptions$", "", path.stem)
    name = name or _strip_probe(stem)
    if source is None:
        source = (
            "published"
            if path.name in PUBLISHED_FILES
            else "reference"
            if path.name in REFERENCE_RUN_FILES
            else "ours"
        )
    base, run = _split_run(name)
    if not run and ours and path.parent.parent.name == "dissect":
        run = path.parents[2].name  # <run>/dissect/<model>/descriptions.csv
    notes: list[str] = []
    args = path.parent / "args.json"
    if ours and args.is_file():
        try:
            notes = list(json.loads(args.read_text()).get("notes", []))
        except (OSError, ValueError):
            notes = []
    model = canonical_model(base)
    return Descriptions(
        name=name,
        model=model,
        dataset=model_dataset(model),
        source=source,
        path=path,
        table=table,
        notes=notes,
        run=run,
    )


def model_of(name: str) -> str:
    """The canonical model of a file or folder name (``resnet18_run_a.csv``: resnet18)."""
    return canonical_model(_split_run(re.sub(r"\.csv$", "", name))[0])


def _split_run(name: str) -> tuple[str, str]:
    """``resnet18_run_a`` -> (``resnet18``, ``a``); a name without a run -> (name, "")."""
    found = _RUN_SUFFIX.match(name)
    return (found["model"], found["run"]) if found else (name, "")


def _layer_groups(d: Descriptions, with_all: bool = True):
    for layer in d.layers:
        yield layer, d.table[d.table["layer"] == layer]
    if with_all and len(d.layers) > 1:
        yield ALL_LAYERS, d.table


def concept_counts(inputs: Sequence[Descriptions]) -> pd.DataFrame:
    """model, layer, rank, concept, units, share: how many units each concept labels."""
    rows = []
    for d in inputs:
        for layer, group in _layer_groups(d):
            counts = group["description"].value_counts()
            # equal counts are ordered by name, so reruns give the same table
            counts = counts.sort_index().sort_values(ascending=False, kind="stable")
            for rank, (concept, n) in enumerate(counts.items(), 1):
                rows.append([d.label, layer, rank, concept, int(n), n / len(group)])
    return pd.DataFrame(rows, columns=["model", "layer", "rank", "concept", "units", "share"])


def concept_categories(
    inputs: Sequence[Descriptions], cmap: CategoryMap, wordnet: WordNetCategories
) -> pd.DataFrame:
    """concept, Broden category and its source, units (over all inputs), WordNet lexname
    and category."""
    units = pd.concat([d.table["description"] for d in inputs]).value_counts()
    return pd.DataFrame(
        [
            [c, cmap.category(c), cmap.source(c), int(n), wordnet.lexname(c), wordnet.category(c)]
            for c, n in units.sort_index().items()
        ],
        columns=["concept", "category", "source", "units", "wordnet_lexname", "wordnet_category"],
    ).sort_values(["units", "concept"], ascending=[False, True], kind="stable")


def distinct_concepts(inputs: Sequence[Descriptions], cmap: CategoryMap) -> pd.DataFrame:
    """Per model and layer: units, distinct concepts, and per category the distinct
    concepts and the units they label."""
    rows = []
    for d in inputs:
        for layer, group in _layer_groups(d):
            cats = group["description"].map(cmap.category)
            row = {
                "model": d.label,
                "layer": layer,
                "units": len(group),
                "distinct_concepts": group["description"].nunique(),
            }
            for category in (*CATEGORIES, OTHER):
                chosen = group[cats == category]
                row[f"distinct_{category}"] = chosen["description"].nunique()
                row[f"units_{category}"] = len(chosen)
            rows.append(row)
    return pd.DataFrame(rows)


def concentration(inputs: Sequence[Descriptions]) -> pd.DataFrame:
    """How concentrated the use of concepts is: entropy (bits), entropy over its maximum
    log2(units), effective number of concepts 2**H, top-1 and top-5 shares, Gini."""
    rows = []
    for d in inputs:
        for layer, group in _layer_groups(d):
            counts = group["description"].value_counts().to_numpy(dtype=float)
            p = counts / counts.sum()
            entropy = float(-(p * np.log2(p)).sum())
            n = len(group)
            sorted_counts = np.sort(counts)
            k = len(sorted_counts)
            gini = (
                float((2 * np.arange(1, k + 1) - k - 1) @ sorted_counts / (k * sorted_counts.sum()))
                if k > 1
                else 0.0
            )
            rows.append(
                {
                    "model": d.label,
                    "layer": layer,
                    "units": n,
                    "distinct_concepts": k,
                    "entropy_bits": entropy,
                    "normalized_entropy": entropy / math.log2(n) if n > 1 else 0.0,
                    "effective_concepts": 2.0**entropy,
                    "top1_share": float(p.max()),
                    "top5_share": float(np.sort(p)[::-1][:5].sum()),
                    "gini": gini,
                }
            )
    return pd.DataFrame(rows)


def similarity_stats(inputs: Sequence[Descriptions]) -> pd.DataFrame:
    rows = []
    for d in inputs:
        if "similarity" not in d.table.columns:
            continue
        for layer, group in _layer_groups(d):
            s = group["similarity"].dropna()
            if s.empty:
                continue
            rows.append(
                {
                    "model": d.label,
                    "layer": layer,
                    "units": len(s),
                    "mean": s.mean(),
                    "std": s.std(ddof=0),
                    "min": s.min(),
                    "q25": s.quantile(0.25),
                    "median": s.median(),
                    "q75": s.quantile(0.75),
                    "max": s.max(),
                }
            )
    columns = ["model", "layer", "units", "mean", "std", "min", "q25", "median", "q75", "max"]
    return pd.DataFrame(rows, columns=columns)


def model_pairs(inputs: Sequence[Descriptions]) -> list[tuple[Descriptions, Descriptions]]:
    """Pairs to compare: a Places365 model against an ImageNet one where both exist,
    else every pair."""
    places = [d for d in inputs if d.dataset == "places365"]
    imagenet = [d for d in inputs if d.dataset == "imagenet"]
    if places and imagenet:
        return [(a, b) for a in imagenet for b in places]
    return list(combinations(inputs, 2))


def check_same_units(a: Descriptions, b: Descriptions) -> list[str]:
    """The layers of ``a`` that ``b`` has too (maybe none), after checking that each
    labels the same units in both: labels are compared unit by unit, so a mismatch is an
    error."""
    layers = [layer for layer in a.layers if layer in set(b.layers)]
    for layer in layers:
        units_a = set(a.table.loc[a.table["layer"] == layer, "unit"])
        units_b = set(b.table.loc[b.table["layer"] == layer, "unit"])
        if units_a != units_b:
            raise InputError(
                f"{a.path} and {b.path}: {layer} labels {len(units_a)} units in one and "
                f"{len(units_b)} in the other ({len(units_a ^ units_b)} units differ)",
                hint="compare files of the same model: they label the same units of a layer",
            )
    return layers


def _common_layers(a: Descriptions, b: Descriptions) -> list[str]:
    layers = [layer for layer in a.layers if layer in set(b.layers)]
    return [*layers, ALL_LAYERS] if len(layers) > 1 else layers


def _pick(d: Descriptions, layer: str, layers: list[str]) -> pd.DataFrame:
    if layer == ALL_LAYERS:
        return d.table[d.table["layer"].isin([x for x in layers if x != ALL_LAYERS])]
    return d.table[d.table["layer"] == layer]


def model_overlap(inputs: Sequence[Descriptions]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(overlap per pair and common layer: distinct concepts, shared, only-in-one,
    Jaccard, share of units on shared concepts; the shared concepts with their counts)."""
    rows, shared_rows = [], []
    for a, b in model_pairs(inputs):
        layers = _common_layers(a, b)
        for layer in layers:
            ta, tb = _pick(a, layer, layers), _pick(b, layer, layers)
            ca, cb = ta["description"].value_counts(), tb["description"].value_counts()
            shared = sorted(set(ca.index) & set(cb.index))
            union = set(ca.index) | set(cb.index)
            rows.append(
                {
                    "model_a": a.label,
                    "model_b": b.label,
                    "layer": layer,
                    "distinct_a": len(ca),
                    "distinct_b": len(cb),
                    "shared": len(shared),
                    "only_a": len(ca) - len(shared),
                    "only_b": len(cb) - len(shared),
                    "jaccard": len(shared) / len(union) if union else 0.0,
                    "units_a_on_shared": float(ca[shared].sum() / ca.sum()) if shared else 0.0,
                    "units_b_on_shared": float(cb[shared].sum() / cb.sum()) if shared else 0.0,
                }
            )
            for concept in shared:
                shared_rows.append(
                    [a.label, b.label, layer, concept, int(ca[concept]), int(cb[concept])]
                )
    shared_table = pd.DataFrame(
        shared_rows, columns=["model_a", "model_b", "layer", "concept", "units_a", "units_b"]
    )
    if not shared_table.empty:
        shared_table = shared_table.assign(
            units_total=shared_table.units_a + shared_table.units_b
        ).sort_values(["model_a", "model_b", "layer", "units_total"], ascending=[1, 1, 1, 0])
    return pd.DataFrame(rows), shared_table


def over_represented(inputs: Sequence[Descriptions], pseudo: float = 0.5) -> pd.DataFrame:
    """Per pair and common layer, every concept's share of units in each model and the
    log2 ratio of the shares (``pseudo`` count added to both, so a concept absent from
    one model has a finite ratio); positive favours model a."""
    rows = []
    for a, b in model_pairs(inputs):
        layers = _common_layers(a, b)
        for layer in layers:
            ca = _pick(a, layer, layers)["description"].value_counts()
            cb = _pick(b, layer, layers)["description"].value_counts()
            concepts = sorted(set(ca.index) | set(cb.index))
            na, nb, v = ca.sum(), cb.sum(), len(concepts)
            for concept in concepts:
                ua, ub = int(ca.get(concept, 0)), int(cb.get(concept, 0))
                ratio = math.log2(
                    ((ua + pseudo) / (na + pseudo * v)) / ((ub + pseudo) / (nb + pseudo * v))
                )
                rows.append(
                    {
                        "model_a": a.label,
                        "model_b": b.label,
                        "layer": layer,
                        "concept": concept,
                        "units_a": ua,
                        "units_b": ub,
                        "share_a": ua / na,
                        "share_b": ub / nb,
                        "log2_ratio": ratio,
                        "favours": a.label if ratio > 0 else b.label,
                    }
                )
    table = pd.DataFrame(rows)
    if not table.empty:
        table = table.sort_values(
            ["model_a", "model_b", "layer", "log2_ratio"], ascending=[1, 1, 1, 0]
        )
    return table


def most_over_represented(
    over: pd.DataFrame, model_a: str, model_b: str, top: int = 5
) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """(layer, the ``top`` concepts most over-represented in ``model_a``, those in
    ``model_b``) of a pair's rows of :func:`over_represented`, at all layers pooled or else
    their one common layer; equal ratios are ordered by name, so every reader names the
    same concepts."""
    part = over[(over["model_a"] == model_a) & (over["model_b"] == model_b)]
    if part.empty:
        return "", part, part
    layer = ALL_LAYERS if (part["layer"] == ALL_LAYERS).any() else part["layer"].iloc[0]
    part = part[part["layer"] == layer]
    in_a = part.sort_values(["log2_ratio", "concept"], ascending=[False, True]).head(top)
    in_b = part.sort_values(["log2_ratio", "concept"], ascending=[True, True]).head(top)
    return layer, in_a[in_a["log2_ratio"] > 0], in_b[in_b["log2_ratio"] < 0]


def concept_layer_matrix(inputs: Sequence[Descriptions], top: int = 25) -> pd.DataFrame:
    """Units per concept (rows: the ``top`` concepts over all inputs) and model:layer."""
    columns = {}
    for d in inputs:
        for layer in d.layers:
            group = d.table[d.table["layer"] == layer]
            columns[f"{d.label}: {layer}"] = group["description"].value_counts()
    matrix = pd.DataFrame(columns).fillna(0).astype(int)
    totals = matrix.sum(axis=1).sort_index().sort_values(ascending=False, kind="stable")
    matrix = matrix.loc[totals.index[:top]]
    matrix.index.name = "concept"
    return matrix


def published_agreement(
    inputs: Sequence[Descriptions], published: Sequence[Descriptions], cmap: CategoryMap
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ours against the published labels of the same model, unit by unit: the same
    concept, the same Broden category (both categorised), the published label among
    our top 5 (when top_concepts.csv is beside ours)."""
    rows, unit_rows = [], []
    for ours in inputs:
        for ref in published:
            if ref.model != ours.model or ref is ours:
                continue
            top5 = _top5(ours)
            for layer in check_same_units(ours, ref):
                merged = _pick(ours, layer, [layer]).merge(
                    _pick(ref, layer, [layer]), on=["layer", "unit"], suffixes=("", "_published")
                )
                if merged.empty:
                    continue
                same = merged["description"] == merged["description_published"]
                cat_a = merged["description"].map(cmap.category)
                cat_b = merged["description_published"].map(cmap.category)
                both = (cat_a != OTHER) & (cat_b != OTHER)
                in_top5 = None
                if top5 is not None:
                    keys = zip(merged["unit"], merged["description_published"], strict=True)
                    in_top5 = np.array([(layer, u, c) in top5 for u, c in keys])
                rows.append(
                    {
                        "model": ours.label,
                        "published": ref.label,
                        "canonical_model": ours.model,
                        "layer": layer,
                        "units": len(merged),
                        "same_concept": int(same.sum()),
                        "same_concept_rate": float(same.mean()),
                        "both_categorised": int(both.sum()),
                        "same_category_rate": float((cat_a == cat_b)[both].mean())
                        if both.any()
                        else np.nan,
                        "published_in_our_top5_rate": float(in_top5.mean())
                        if in_top5 is not None
                        else np.nan,
                    }
                )
                for i, row in enumerate(merged.itertuples(index=False)):
                    unit_rows.append(
                        [
                            ours.label,
                            layer,
                            row.unit,
                            row.description,
                            row.description_published,
                            bool(same.iloc[i]),
                            cat_a.iloc[i],
                            cat_b.iloc[i],
                        ]
                    )
    units = pd.DataFrame(
        unit_rows,
        columns=[
            "model",
            "layer",
            "unit",
            "ours",
            "published",
            "same",
            "category_ours",
            "category_published",
        ],
    )
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS), units


AGREEMENT_COLUMNS = [  # of published_agreement: an empty table keeps its header
    "model",
    "published",
    "canonical_model",
    "layer",
    "units",
    "same_concept",
    "same_concept_rate",
    "both_categorised",
    "same_category_rate",
    "published_in_our_top5_rate",
]


def _top5(d: Descriptions) -> set[tuple[str, int, str]] | None:
    path = d.folder / "top_concepts.csv"
    if d.source != "ours" or not path.is_file():
        return None
    table = pd.read_csv(path, dtype={"layer": str, "concept": str}, keep_default_na=False)
    return set(zip(table["layer"], table["unit"], table["concept"], strict=True))


def _class_synonyms(names: Sequence[str]) -> list[set[str]]:
    out = []
    for name in names:
        parts = {p.strip().lower() for p in name.split(",") if p.strip()}
        parts |= {p.replace("_", " ").replace("/", "-") for p in parts}
        parts.add(name.strip().lower())
        out.append(parts)
    return out


def fc_accuracy(inputs: Sequence[Descriptions], class_names: dict[str, list[str]]) -> pd.DataFrame:
    """CLIP-Dissect's own validity check: output unit i of the fc layer is class i, so its
    label should be the class name (any of its comma-separated synonyms, case and
    ``_``/``/`` spelling ignored). ``class_names``: dataset -> names in class order."""
    rows = []
    for d in inputs:
        for layer in d.layers:
            if layer != "fc" or d.dataset not in class_names:
                continue
            names = class_names[d.dataset]
            group = d.table[d.table["layer"] == layer]
            if len(group) != len(names) or group["unit"].max() >= len(names):
                continue
            synonyms = _class_synonyms(names)
            hits = [
                str(desc).strip().lower() in synonyms[int(unit)]
                for unit, desc in zip(group["unit"], group["description"], strict=True)
            ]
            rows.append(
                {
                    "model": d.label,
                    "layer": layer,
                    "units": len(group),
                    "correct": int(sum(hits)),
                    "accuracy": float(np.mean(hits)),
                    "class_names": d.dataset,
                }
            )
    return pd.DataFrame(
        rows, columns=["model", "layer", "units", "correct", "accuracy", "class_names"]
    )
