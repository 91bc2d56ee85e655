"""What the CAM maps of a run show, as one record: :class:`CamFindings`, computed once from
the summary tables (:mod:`explainlab.cam.summary`) and the predictions and written as
``summary.json``; ``summary.txt`` and report 2 are two renderers of it.

Each finding is chosen by a rule from the run's numbers: the maps' resolution, how ScoreCAM
differs, Grad-CAM against AblationCAM (each where those methods ran), the misclassified
images, the cost. Their words and thresholds are defined here, the methods' titles, cost
and implementations in :mod:`explainlab.methods`."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from explainlab import runfolder
from explainlab.cam.summary import HALF, read_summary, summarise
from explainlab.methods import OURS, get_method, title_of
from explainlab.report.findings import Finding, file_ref, markdown_lines
from explainlab.report.markup import is_true, join_names, num, pct, pretty_key, text

COARSE_CELL_PX = 16  # a grid cell this many crop pixels wide or more: blobs, not outlines
CLOSE_RHO, SIMILAR_RHO = 0.8, 0.5  # mean Spearman rho: nearly the same maps / similar maps
CONSISTENT = 0.75  # a difference seen on at least this share of the images is consistent
FEW_IMAGES = 3  # fewer images than this support no statement about a method
RHO_GAP = 0.05  # mean rho closer than this: no difference in agreement is read
# How each implementation computed a method's maps ({library}: its reference's library).
COMPUTED_BY = {
    "fast": "{library}'s, by our exact fast variants",
    "library": "{library}",
    "ours": "our own",
}


def true_rank(row: pd.Series) -> float:
    """Where the true class stands in the top 5 (NaN: unknown class, or not in it)."""
    for r in range(1, 6):
        if pd.notna(row["true_id"]) and row.get(f"top{r}_id") == row["true_id"]:
            return float(r)
    return float("nan")


def prediction_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """The predictions with the true class's rank and top-1 correctness as a boolean."""
    frame = predictions[["key", "true_id", "true_name", "top1_id", "top1_name", "top1_prob"]]
    return frame.assign(
        true_rank=[true_rank(r) for _, r in predictions.iterrows()],
        correct=[is_true(v) for v in predictions["top1_correct"]],
        target_id=predictions["target_id"],
    )


def implementations(cam: Path, keys: Sequence[str], timings: pd.DataFrame) -> dict[str, str]:
    """What computed each method's maps, as the images' item.json record it ("fast",
    "library" or "ours"; the most frequent where images differ); for a folder made before
    they did, the implementation asked for (timings.csv)."""
    asked = timings.groupby("method", sort=False)["impl"].first()
    recorded: dict[str, Counter[str]] = {m: Counter() for m in asked.index}
    for key in keys:
        item = json.loads((Path(cam) / key / "item.json").read_text())
        for method, record in (item.get("impl") or {}).items():
            recorded.setdefault(method, Counter())[record["impl"]] += 1
    return {m: c.most_common(1)[0][0] if c else str(asked[m]) for m, c in recorded.items()}


def computed_by(method: str, impl: str) -> str:
    """ "pytorch-grad-cam's, by our exact fast variants", "pytorch-grad-cam", "our own"."""
    reference = get_method(method).reference
    library = reference.split(":")[0].replace("_", "-") if reference != OURS else ""
    return COMPUTED_BY.get(impl if library else "ours", impl).format(library=library)


def write(
    cam: Path, keys: Sequence[str], methods: Sequence[str], out: Path, **where: str
) -> CamFindings:
    """The summary tables of the maps under ``cam`` and their findings record, written into
    ``out`` (:func:`tables` says what ``where`` holds)."""
    record = CamFindings.of(tables(cam, summarise(cam, keys, methods, out), **where))
    runfolder.write_json(Path(out) / "summary.json", record.to_json())
    runfolder.write_text(Path(out) / "summary.txt", record.text())
    return record


def read(
    cam: Path, keys: Sequence[str], methods: Sequence[str], out: Path, *, device: str, where: str
) -> tuple[CamFindings, CamTables]:
    """The record and tables of the cam folder; for a folder made before the stage wrote
    them, computed now into ``out`` (named ``where`` in the evidence; ``device``: the
    run's)."""
    found = read_summary(cam)
    if found is None:
        record = write(cam, keys, methods, out, device=device, where=where)
        found = read_summary(out)
        assert found is not None
        return record, tables(cam, found, device=device, where=where)
    data = found["summary.json"]
    t = tables(cam, found, device=data.get("device", device), where="cam")
    return (CamFindings.from_json(data) if "findings" in data else CamFindings.of(t)), t


def tables(cam: Path, found: Mapping[str, Any], *, device: str, where: str) -> CamTables:
    """What the rules read, from :func:`~explainlab.cam.summary.summarise`'s tables and
    the cam folder's predictions, timings and item.json."""
    keys = list(found["per_image.csv"]["key"])
    first = json.loads((Path(cam) / keys[0] / "item.json").read_text()) if keys else {}
    return CamTables(
        summary=dict(found["summary.json"]),
        methods=found["method_summary.csv"].set_index("method", drop=False),
        pairs=found["pair_summary.csv"].set_index("pair", drop=False),
        images=found["per_image.csv"],
        focus=found["focus.csv"],
        predictions=prediction_table(pd.read_csv(Path(cam) / "predictions.csv")),
        layer=str(first.get("layer", "")),
        impls=implementations(cam, keys, pd.read_csv(Path(cam) / "timings.csv")),
        device=device,
        where=where,
    )


@dataclass(frozen=True, kw_only=True)
class CamTables:
    """What the rules read: the stage's summary tables, indexed, and the predictions."""

    summary: dict[str, Any]  # the grid facts (images, crop, grid, channels, cell_px)
    methods: pd.DataFrame  # method_summary.csv, indexed by method
    pairs: pd.DataFrame  # pair_summary.csv, indexed by pair
    images: pd.DataFrame  # per_image.csv
    focus: pd.DataFrame  # focus.csv
    predictions: pd.DataFrame  # predictions with true_rank (:func:`prediction_table`)
    layer: str
    impls: dict[str, str]  # method -> what computed its maps (:func:`implementations`)
    device: str
    where: str  # the folder the summary tables were read from, for the evidence

    @property
    def n(self) -> int:
        return int(self.summary["images"])


@dataclass(frozen=True, kw_only=True)
class CamFindings:
    """What the maps show: the grid facts, what computed them, and the findings."""

    images: int
    crop: tuple[int, int]
    grid: tuple[int, int] | None  # the target layer's (h, w); None: not recorded
    channels: int | None
    cell_px: float | None  # crop pixels per grid cell
    layer: str
    device: str
    impls: dict[str, str]  # method -> "fast", "library" or "ours"
    findings: tuple[Finding, ...]

    @classmethod
    def of(cls, t: CamTables) -> CamFindings:
        s = t.summary
        return cls(
            images=int(s["images"]),
            crop=(int(s["crop"][0]), int(s["crop"][1])),
            grid=(int(s["grid"][0]), int(s["grid"][1])) if s.get("grid") else None,
            channels=s.get("channels"),
            cell_px=s.get("cell_px"),
            layer=t.layer,
            device=t.device,
            impls=dict(t.impls),
            findings=tuple(choose(t)),
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CamFindings:
        grid = data.get("grid")
        return cls(
            images=int(data["images"]),
            crop=(int(data["crop"][0]), int(data["crop"][1])),
            grid=(int(grid[0]), int(grid[1])) if grid else None,
            channels=data.get("channels"),
            cell_px=data.get("cell_px"),
            layer=data.get("layer", ""),
            device=data.get("device", ""),
            impls=dict(data.get("impls", {})),
            findings=tuple(map(Finding.of, data.get("findings", ()))),
        )

    @classmethod
    def read(cls, folder: Path) -> CamFindings:
        return cls.from_json(json.loads((Path(folder) / "summary.json").read_text()))

    def to_json(self) -> dict[str, Any]:
        """summary.json: the grid facts it held before the record, then the rest."""
        return {
            "images": self.images,
            "crop": list(self.crop),
            "grid": list(self.grid) if self.grid else None,
            "channels": self.channels,
            "cell_px": self.cell_px,
            "layer": self.layer,
            "device": self.device,
            "impls": self.impls,
            "findings": [f.to_dict() for f in self.findings],
        }

    def methods_phrase(self) -> str:
        """The methods with what computed them: "Grad-CAM and ScoreCAM (pytorch-grad-cam's,
        by our exact fast variants)", one group per implementation."""
        groups: dict[str, list[str]] = {}
        for method, impl in self.impls.items():
            groups.setdefault(computed_by(method, impl) if impl else "", []).append(method)
        return join_names(
            [
                join_names([title_of(m) for m in methods]) + (f" ({how})" if how else "")
                for how, methods in groups.items()
            ]
        )

    def text(self) -> str:
        """summary.txt: what was computed, then the findings as report 2 states them."""
        grid = f"{self.grid[0]}×{self.grid[1]} grid" if self.grid else "grid not recorded"
        return (
            "\n".join(
                [
                    f"explainlab cam: {self.images} images, {self.methods_phrase()}",
                    f"layer {self.layer} ({grid}), crop {self.crop[0]}×{self.crop[1]}, "
                    f"{self.device or 'device not recorded'}",
                    "",
                    "Findings:",
                    *markdown_lines(self.findings),
                ]
            )
            + "\n"
        )


# --- the findings ----------------------------------------------------------------------------


def pair_title(row: pd.Series, sep: str = " / ") -> str:
    return f"{title_of(row['method_a'])}{sep}{title_of(row['method_b'])}"


def resolution(t: CamTables) -> Finding:
    """The target layer's grid against the crop: how fine a map can be."""
    grid, crop, cell = t.summary.get("grid"), t.summary["crop"], t.summary.get("cell_px")
    if not grid:
        return Finding(
            "This run does not record the grid the maps are upsampled from.",
            f"Its cam folder has no grid in item.json {file_ref(t.where + '/summary.json')}.",
            "without the target layer's h×w the finest detail a map can show cannot be "
            "stated; rerun the cam stage (--force cam) to record it.",
        )
    size = f"{grid[0]}×{grid[1]}"
    spread = f"{pct(t.focus['focus'].min())}–{pct(t.focus['focus'].max())}"
    evidence = (
        f"Layer {text(t.layer)} gives {size} maps ({t.summary['channels']} channels) for the "
        f"{crop[0]}×{crop[1]} crop, {num(cell, '.0f')} pixels per cell; the regions at or above "
        f"half the maximum cover {spread} of the crop "
        f"{file_ref(t.where + '/summary.json, focus.csv')}."
    )
    if cell >= COARSE_CELL_PX:
        return Finding(
            f"The maps are blobs on a {size} grid, not outlines.",
            evidence,
            f"a CAM is a weighted sum of the layer's {size} maps, bilinearly upsampled: no edge "
            "finer than a cell, so it marks a smooth region around the evidence, not the "
            "object's boundary.",
        )
    return Finding(
        f"The maps resolve detail down to about {num(cell, '.0f')} pixels.",
        evidence,
        f"a CAM is a weighted sum of the layer's {size} maps, upsampled: a grid this fine lets "
        "it follow object parts.",
    )


def extent(t: CamTables) -> str:
    """ "broader" or "narrower" where ScoreCAM's high regions are so on average and on at
    least :data:`CONSISTENT` of at least :data:`FEW_IMAGES` images; else ""."""
    sc, n = t.methods.loc["scorecam"], t.n
    rest = t.methods.drop(index="scorecam")["focus_mean"]
    if n < FEW_IMAGES:
        return ""
    if sc["focus_mean"] > rest.max() and sc["broadest_images"] >= CONSISTENT * n:
        return "broader"
    if sc["focus_mean"] < rest.min() and sc["narrowest_images"] >= CONSISTENT * n:
        return "narrower"
    return ""


def set_apart(t: CamTables) -> bool | None:
    """Whether ScoreCAM agrees less with each other method than those agree among
    themselves by at least :data:`RHO_GAP` (None: no pair without ScoreCAM)."""
    has = (t.pairs["method_a"] == "scorecam") | (t.pairs["method_b"] == "scorecam")
    if has.all():
        return None
    return bool(t.pairs.loc[has, "rho_mean"].max() + RHO_GAP <= t.pairs.loc[~has, "rho_mean"].min())


WHY_EXTENT = {
    "broader": "a region that alone keeps the score up (the object, often its context) gets "
    "weight where the gradient is small, so the high region spreads",
    "narrower": "the softmax gives nearly all weight to the few channels whose masked image "
    "scores highest, so the map shrinks to their regions",
    "": "here that moves the extent in no consistent direction",
}


def scorecam(t: CamTables) -> Finding | None:
    """How ScoreCAM's maps differ from the others, and why."""
    if "scorecam" not in t.methods.index or len(t.methods) < 2:
        return None
    word, apart = extent(t), set_apart(t)
    others = [title_of(m) + "'s" for m in t.methods.index if m != "scorecam"]
    names = others[0] if len(others) == 1 else "the others'"
    if word:
        claim = f"ScoreCAM's maps are {word} than {names}"
    elif t.n < FEW_IMAGES:
        claim = f"On {t.n} images ScoreCAM's maps cannot be called broader or narrower than {names}"
    else:
        claim = f"ScoreCAM's maps are no broader or narrower than {names}"
    if apart is not None:
        claim += (
            "; they agree less with them than those agree with each other."
            if apart
            else "; they agree with them as well as those agree with each other."
        )
    sc = t.methods.loc["scorecam"]
    extents = ", ".join(f"{title_of(m)} {pct(r['focus_mean'])}" for m, r in t.methods.iterrows())
    rhos = ", ".join(f"{pair_title(r, '/')} {num(r['rho_mean'])}" for _, r in t.pairs.iterrows())
    return Finding(
        claim.rstrip(".") + ".",
        f"Mean share of the crop ≥ half the maximum: {extents} (ScoreCAM broadest on "
        f"{sc['broadest_images']}, narrowest on {sc['narrowest_images']} of {t.n} images); mean "
        f"ρ: {rhos} {file_ref(t.where + '/method_summary.csv, pair_summary.csv')}.",
        "a channel's weight is a softmax, over channels, of the class score of the image "
        "masked by its upsampled map: its region's own effect on the output, not a gradient; "
        f"{WHY_EXTENT[word]}"
        + ("." if t.n >= FEW_IMAGES else f" ({t.n} images are too few to tell)."),
    )


def gradcam_ablationcam(t: CamTables) -> Finding | None:
    """How far Grad-CAM and AblationCAM agree, and why they can differ."""
    if "gradcam/ablationcam" not in t.pairs.index:
        return None
    r = t.pairs.loc["gradcam/ablationcam"]
    rho = r["rho_mean"]
    column = "rho_gradcam/ablationcam"
    low = t.images.loc[t.images[column].idxmin(), "key"] if t.n > 1 else ""
    if rho >= CLOSE_RHO:
        claim, tail = "Grad-CAM and AblationCAM give nearly the same maps.", "a small change here"
    elif rho >= SIMILAR_RHO:
        claim, tail = "Grad-CAM and AblationCAM give similar maps.", "which moves them in places"
    else:
        claim, tail = "Grad-CAM and AblationCAM give different maps.", "which changes them here"
    lowest = f", lowest on {text(pretty_key(low))}" if low else ""
    return Finding(
        claim,
        f"Mean Spearman ρ {num(rho)} over {t.n} images ({num(r['rho_min'])}–{num(r['rho_max'])}"
        f"{lowest}); IoU of the ≥ {HALF} regions {num(r['iou_mean'])} "
        f"{file_ref(t.where + '/pair_summary.csv')}.",
        "both weight the same activation maps, by the class score's mean gradient or by its "
        "drop when the map is zeroed; with an average-pool and linear head the drop is the "
        f"gradient weight × the channel's mean activation: strong channels count more, {tail}.",
    )


def _mistake(row: pd.Series) -> str:
    rank = row["true_rank"]
    where = "not in the top 5" if pd.isna(rank) else f"at rank {int(rank)}"
    return (
        f"{text(pretty_key(row['key']))} is taken for {text(row['top1_name'])} "
        f"({pct(row['top1_prob'])}; true class {where})"
    )


def misclassified(t: CamTables) -> Finding:
    """The misclassified images, whose maps explain the wrong class."""
    p = t.predictions
    known = p[p["true_id"].notna()]
    wrong = known[~known["correct"]]
    explains = (
        "the model's top-1 class"
        if (p["target_id"] == p["top1_id"]).all()
        else ("the class the run was told to explain")
    )
    reason = (
        f"each map explains {explains} (target_id): on a mistake, the evidence for the wrong "
        "class, not where the true class is."
    )
    if not len(known):
        return Finding("No image has a known class.", "(cam/predictions.csv)", reason)
    if not len(wrong):
        return Finding(
            f"All {len(known)} images are classified correctly, so every map explains the "
            "true class.",
            "(cam/predictions.csv)",
            reason,
        )
    return Finding(
        f"{len(wrong)} of {len(known)} images {'is' if len(wrong) == 1 else 'are'} "
        f"misclassified, and {'its' if len(wrong) == 1 else 'their'} maps explain the wrong "
        "class.",
        "; ".join(_mistake(r) for _, r in wrong.iterrows()) + " (cam/predictions.csv).",
        reason,
    )


def cost(method: str, channels: Any, impl: str) -> str:
    """A method's cost in its own words, for what computed it: "Grad-CAM runs ..."."""
    spec = get_method(method)
    return f"{spec.title} {spec.cost_clause(channels, impl)}"


def impl_words(impls: Mapping[str, str]) -> str:
    """What computed the maps, short: "fast", or per method where they differ."""
    kinds = set(impls.values())
    if len(kinds) == 1:
        return next(iter(kinds)) or "implementation not recorded"
    return ", ".join(f"{title_of(m)} {i or 'n/a'}" for m, i in impls.items())


def timing(t: CamTables) -> Finding | None:
    """What each method costs, from the run's timings."""
    m = t.methods.dropna(subset=["seconds_mean"]).sort_values("seconds_mean")
    if len(m) < 2:
        return None
    slow, fast = m.index[-1], m.index[0]
    factor = m.loc[slow, "times_fastest"]
    per = ", ".join(f"{title_of(k)} {num(r['seconds_mean'], '.2f')} s" for k, r in m.iterrows())
    return Finding(
        f"{title_of(slow)} is the slowest, ×{num(factor, '.0f' if factor >= 10 else '.1f')} the "
        f"time of {title_of(fast)}.",
        f"Mean per image ({text(t.device)}, {text(impl_words(t.impls))}): {per} "
        f"{file_ref(t.where + '/method_summary.csv')}.",
        ", ".join(cost(k, t.summary.get("channels"), t.impls.get(k, "")) for k in m.index) + ".",
    )


def choose(t: CamTables) -> list[Finding]:
    found = [resolution(t), scorecam(t), gradcam_ablationcam(t), misclassified(t), timing(t)]
    return [f for f in found if f is not None]
