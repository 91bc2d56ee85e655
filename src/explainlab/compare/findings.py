"""The comparison's findings record: :class:`CompareFindings`, computed once from the
stage's numbers and written as ``summary.json``; ``summary.txt`` and report 4 are two
renderers of it.

It holds the numbers the prose uses, typed (agreement, complexity, faithfulness, sanity),
and the findings: each chosen by a rule from those numbers (so every number it prints is
the run's), with a claim that follows them or says that they do not support one (too
few images, a difference too small to rank). The words and thresholds of the findings
are defined here, the measures' names and directions in :mod:`explainlab.measures`, the
methods' titles and mechanisms in :mod:`explainlab.methods`; the renderers only lay the
record out."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from explainlab.compare.complexity import LABELS, SIMPLER_WHEN, p_text
from explainlab.compare.settings import LIME, CompareSettings
from explainlab.measures import MeasureSpec, get_measure, measures
from explainlab.methods import get_method, title_of
from explainlab.report.findings import Finding, Missed, file_ref
from explainlab.report.markup import join_names, num, pct, pretty_key, text

# The agreement measure of the headline (page 1, the overview figure, the complexity
# analysis): the CAM's top pixels covering LIME's mask area, no threshold to choose.
HEADLINE = "iou_area"
# Sanity verdict from the mean rank correlation with the original map at the last step.
CHANGED_BELOW, UNCHANGED_ABOVE = 0.3, 0.7
STRONGLY, PARTLY, BARELY = "changes strongly", "changes partly", "barely changes"
VERDICT_MEASURE = "spearman"  # the sanity measure the verdict reads
RANDOM = "random"  # the faithfulness baseline's method name
MISMATCH = "CAM and LIME explain different classes for"
ALIKE_WITHIN = 0.05  # CAM methods whose mean IoUs lie this close are not ranked
MOSTLY = 0.5  # "on most images": more than this share
LARGELY = 0.5  # a mean headline IoU from which two maps "mark largely the same pixels"
UNDETERMINED = "undetermined"  # the complexity verdict where no rho could be estimated
# The pair measure of "which two methods agree most and least": the whole maps' rank
# correlation, no threshold and no area to choose.
PAIR_FACT_MEASURE = "pair_rho"
# The assignment sheet's own example of "do simple images agree more than complex ones?":
# a simple image, then a complex one (mission keys).
SHEET_EXAMPLE = ("goldfish", "kite")
SHARES = ("object_area", "top1_prob")  # complexity measures printed as percentages


def sanity_verdict(rho: float) -> str:
    if rho < CHANGED_BELOW:
        return STRONGLY
    if rho > UNCHANGED_ABOVE:
        return BARELY
    return PARTLY


def beats_column(spec: MeasureSpec) -> str:
    """The faithfulness table's column counting the images where a map beats the random
    order by ``spec`` (``deletion_beats_random``)."""
    return f"{spec.short.replace(' ', '_')}_beats_random"


def wins_key(spec: MeasureSpec) -> str:
    """summary.json's count of images where one map beats the other by ``spec``."""
    return f"{spec.short.replace(' ', '_')}_wins"


def verdict_measure() -> MeasureSpec:
    return get_measure(VERDICT_MEASURE)


def ranked_measures() -> list[MeasureSpec]:
    """The faithfulness measures by which one map can beat another."""
    return [s for s in measures("map") if s.direction != "neither"]


def mismatch_note(keys: Sequence[str]) -> str:
    """The images whose CAM and LIME explain different classes (report markup)."""
    names = text(join_names([k.replace("_", " ") for k in keys]))
    return f"{MISMATCH} {names}: their agreement there compares explanations of two different decisions."


# --- the numbers -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SanityFinal:
    """One method after the whole cascade: its mean similarity to its original map."""

    method: str
    values: dict[str, float | None]  # sanity measure -> mean over the images
    verdict: str

    @property
    def rho(self) -> float | None:
        return self.values.get(VERDICT_MEASURE)


@dataclass(frozen=True, kw_only=True)
class Sanity:
    """The sanity check's outcome: the blocks randomised, and each method's verdict."""

    blocks: tuple[str, ...]
    images: int
    final: tuple[SanityFinal, ...]
    thresholds: tuple[float, float] | None  # (changed below, unchanged above); older runs: None

    @classmethod
    def of(cls, numbers: Mapping[str, Any]) -> Sanity | None:
        """From summary.json's ``sanity`` (None when the check did not run)."""
        s = numbers.get("sanity")
        if not s:
            return None
        final = tuple(
            SanityFinal(
                method=m,
                values={k: v for k, v in f.items() if k != "verdict"},
                verdict=f["verdict"],
            )
            for m, f in s.get("final", {}).items()
        )
        thresholds = (s["changed_below"], s["unchanged_above"]) if "changed_below" in s else None
        return cls(
            blocks=tuple(s["blocks"]), images=s["images"], final=final, thresholds=thresholds
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"blocks": list(self.blocks), "images": self.images}
        if self.thresholds is not None:
            out["changed_below"], out["unchanged_above"] = self.thresholds
        out["final"] = {f.method: {**f.values, "verdict": f.verdict} for f in self.final}
        return out

    def with_verdict(self, verdict: str) -> list[str]:
        return [f.method for f in self.final if f.verdict == verdict]

    def rule(self, name: str) -> str:
        """How the verdict follows from the similarity (named ``name``), empty for an
        older run that did not record the thresholds."""
        if self.thresholds is None:
            return ""
        low, high = self.thresholds
        return f"verdict from {name}: below {low:.1f} {STRONGLY}, above {high:.1f} {BARELY}"


@dataclass(frozen=True, kw_only=True)
class FaithfulnessRow:
    """One method's (or the random order's) mean faithfulness over the images."""

    method: str
    images: int
    means: dict[str, float | None]  # faithfulness measure -> mean
    beats_random: dict[str, int | None]  # faithfulness measure -> images; None: the baseline

    @classmethod
    def rows(cls, table: Sequence[Mapping[str, Any]]) -> list[FaithfulnessRow]:
        """From the rows of faithfulness_summary.csv (or summary.json's
        ``faithfulness_mean``, each with its ``method``)."""
        specs = measures("map")
        return [
            cls(
                method=str(r["method"]),
                images=int(r["images"]),
                means={s.name: _number(r.get(s.name)) for s in specs},
                beats_random={s.name: _count(r.get(beats_column(s))) for s in specs},
            )
            for r in table
        ]

    def to_json(self) -> dict[str, Any]:
        """As summary.json's ``faithfulness_mean`` holds it (without the method)."""
        return (
            {"images": self.images}
            | self.means
            | {beats_column(s): self.beats_random[s.name] for s in ranked_measures()}
        )

    @property
    def is_baseline(self) -> bool:
        return self.method == RANDOM


@dataclass(frozen=True, kw_only=True)
class Correlation:
    """One complexity measure's Spearman rho with the headline IoU (None: too few images)."""

    rho: float | None
    p: float | None
    n: int


@dataclass(frozen=True, kw_only=True)
class ComplexityAnswer:
    """Do simple images agree more? The primary method's correlations and the answer
    :func:`explainlab.compare.complexity.answer` gave."""

    iou: str  # what the IoU is ("gradcam vs LIME, area-matched")
    correlations: dict[str, Correlation]  # complexity measure -> its rho
    verdict: str  # "yes", "partly", "no", "mixed" or UNDETERMINED
    paragraph: str
    supporting: tuple[str, ...]
    against: tuple[str, ...]
    significant: tuple[str, ...]
    alpha: float
    critical_rho: float | None

    @classmethod
    def of(cls, c: Mapping[str, Any]) -> ComplexityAnswer:
        return cls(
            iou=c.get("iou", ""),
            correlations={
                m: Correlation(rho=v.get("rho"), p=v.get("p"), n=int(v.get("n", 0)))
                for m, v in c["correlations"].items()
            },
            verdict=c["verdict"],
            paragraph=c.get("paragraph", ""),
            supporting=tuple(c.get("supporting", ())),
            against=tuple(c.get("against", ())),
            significant=tuple(c.get("significant", ())),
            alpha=c.get("alpha", 0.05),
            critical_rho=c.get("critical_rho"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "iou": self.iou,
            "correlations": {
                m: {"rho": c.rho, "p": c.p, "n": c.n} for m, c in self.correlations.items()
            },
            "verdict": self.verdict,
            "paragraph": self.paragraph,
            "supporting": list(self.supporting),
            "against": list(self.against),
            "significant": list(self.significant),
            "alpha": self.alpha,
            "critical_rho": self.critical_rho,
        }


@dataclass(frozen=True, kw_only=True)
class PairedWins:
    """Image by image, how often ``methods[0]``'s map beats ``methods[1]``'s."""

    methods: tuple[str, str]
    images: int
    wins: dict[str, int]  # faithfulness measure -> images

    @classmethod
    def of(cls, p: Mapping[str, Any]) -> PairedWins:
        wins = {s.name: int(p[wins_key(s)]) for s in ranked_measures() if wins_key(s) in p}
        a, b = p["methods"]
        return cls(methods=(a, b), images=int(p["images"]), wins=wins)

    def to_json(self) -> dict[str, Any]:
        wins = {wins_key(get_measure(m)): w for m, w in self.wins.items()}
        return {"methods": list(self.methods), "images": self.images, **wins}


@dataclass(frozen=True, kw_only=True)
class PairFacts:
    """Agreement between every two methods compared (LIME among them): the two that agree
    most and the two that agree least by ``measure``, mean over the images."""

    measure: str  # a pair measure
    methods: tuple[str, ...]  # every method of the matrix
    images: int
    most: tuple[str, str]
    most_value: float
    least: tuple[str, str]
    least_value: float

    @classmethod
    def of(cls, p: Mapping[str, Any]) -> PairFacts:
        """From summary.json's ``pairs``."""
        most, least = p["most"], p["least"]
        return cls(
            measure=p["measure"],
            methods=tuple(p["methods"]),
            images=int(p["images"]),
            most=(most["methods"][0], most["methods"][1]),
            most_value=float(most["value"]),
            least=(least["methods"][0], least["methods"][1]),
            least_value=float(least["value"]),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "methods": list(self.methods),
            "images": self.images,
            "most": {"methods": list(self.most), "value": self.most_value},
            "least": {"methods": list(self.least), "value": self.least_value},
        }

    def sentence(self) -> str:
        """The fact, in report markup: "Of the 6 pairs of 4 methods, Grad-CAM and
        Grad-CAM++ agree most (...), ... least (...)"."""
        spec = get_measure(self.measure)
        n = len(self.methods)
        pairs = n * (n - 1) // 2

        def named(two: tuple[str, str], value: float) -> str:
            return f"{title_of(two[0])} and {title_of(two[1])} ({format(value, spec.text_format)})"

        return (
            text(
                f"Of the {pairs} pairs of {n} methods, {named(self.most, self.most_value)} agree "
                f"most and {named(self.least, self.least_value)} least by the {spec.title}, mean "
                f"over {self.images} image(s)"
            )
            + f" {file_ref('compare/pair_means.csv')}."
        )


@dataclass(frozen=True, kw_only=True)
class ImageFacts:
    """One image's headline IoU (the primary method against LIME), its place among the
    run's images and what may explain it: chance, the grid's ceiling, LIME's mask area and
    the complexity measures."""

    key: str
    iou: float
    rank: int  # 1: the image that agrees most
    chance: float | None  # two random masks of LIME's mask area
    ceiling: float | None  # LIME's own mask seen through the CAM grid; None: not measured
    lime_area: float | None  # LIME's mask, share of the crop
    complexity: dict[str, float]  # complexity measure -> value (compare/complexity.csv)

    @classmethod
    def of(cls, f: Mapping[str, Any]) -> ImageFacts:
        return cls(
            key=f["key"],
            iou=float(f["iou"]),
            rank=int(f["rank"]),
            chance=f.get("chance"),
            ceiling=f.get("ceiling"),
            lime_area=f.get("lime_area"),
            complexity=dict(f.get("complexity", {})),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "iou": self.iou,
            "rank": self.rank,
            "chance": self.chance,
            "ceiling": self.ceiling,
            "lime_area": self.lime_area,
            "complexity": self.complexity,
        }


@dataclass(frozen=True, kw_only=True)
class SheetExample:
    """The sheet's example (:data:`SHEET_EXAMPLE`), both images in the run: the simple
    one, the complex one, each among the ``images`` the run ranked."""

    images: int
    simple: ImageFacts
    complex: ImageFacts

    @classmethod
    def of(cls, numbers: Mapping[str, Any]) -> SheetExample | None:
        """From summary.json's ``sheet_example`` (None: an image of it not in the run)."""
        e = numbers.get("sheet_example")
        if not e:
            return None
        return cls(
            images=int(e["images"]),
            simple=ImageFacts.of(e["simple"]),
            complex=ImageFacts.of(e["complex"]),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "simple": self.simple.to_json(),
            "complex": self.complex.to_json(),
        }


# --- the record ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CompareFindings:
    """What the comparison found: its numbers and its findings, as summary.json holds them."""

    model: str | None
    images: int
    keys: tuple[str, ...]
    cam_methods: tuple[str, ...]
    primary_method: str
    threshold: float  # the fixed CAM threshold
    agreement_mean: dict[str, dict[str, float | None]]  # CAM method -> measure -> mean
    above_chance: dict[str, int]  # CAM method -> images its headline IoU beats chance on
    complexity: ComplexityAnswer
    label_mismatches: tuple[str, ...]
    failures: tuple[str, ...]
    cam_grid: tuple[int, int] | None = None  # the CAM layer's grid (h, w)
    crop: int | None = None  # the crop the maps lie on (pixels)
    iou_area_ceiling: float | None = None  # the headline IoU LIME's mask keeps through the grid
    faithfulness: tuple[FaithfulnessRow, ...] = ()
    paired: PairedWins | None = None  # the primary method against LIME
    sanity: Sanity | None = None
    pairs: PairFacts | None = None  # every two methods; older runs: None
    sheet: SheetExample | None = None  # the sheet's simple and complex image; None: not run
    findings: tuple[Finding, ...] = ()
    missed: tuple[Missed, ...] = ()

    @classmethod
    def of(cls, numbers: Mapping[str, Any]) -> CompareFindings:
        """From summary.json (or :func:`explainlab.compare.summary.key_numbers`): its
        findings as written, or, where it has none (a run from before), chosen now."""
        grid = numbers.get("cam_grid")
        record = cls(
            model=numbers.get("model"),
            images=int(numbers["images"]),
            keys=tuple(numbers["keys"]),
            cam_methods=tuple(numbers["cam_methods"]),
            primary_method=numbers["primary_method"],
            threshold=numbers.get("threshold", CompareSettings().threshold),  # older runs
            agreement_mean={m: dict(v) for m, v in numbers["agreement_mean"].items()},
            above_chance=dict(numbers.get("above_chance", {})),
            complexity=ComplexityAnswer.of(numbers["complexity"]),
            label_mismatches=tuple(numbers.get("label_mismatches", ())),
            failures=tuple(numbers.get("failures", ())),
            cam_grid=(int(grid[0]), int(grid[1])) if grid else None,
            crop=numbers.get("crop"),
            iou_area_ceiling=numbers.get("iou_area_ceiling"),
            faithfulness=tuple(
                FaithfulnessRow.rows(
                    [{"method": m, **f} for m, f in numbers.get("faithfulness_mean", {}).items()]
                )
            ),
            paired=(
                PairedWins.of(numbers["faithfulness_paired"])
                if numbers.get("faithfulness_paired")
                else None
            ),
            sanity=Sanity.of(numbers),
            pairs=PairFacts.of(numbers["pairs"]) if numbers.get("pairs") else None,
            sheet=SheetExample.of(numbers),
        )
        if "findings" in numbers:
            return replace(
                record,
                findings=tuple(map(Finding.of, numbers["findings"])),
                missed=tuple(map(Missed.of, numbers.get("missed", ()))),
            )
        return replace(record, findings=tuple(choose(record)), missed=tuple(missed(record)))

    @classmethod
    def read(cls, folder: Path) -> CompareFindings:
        """The record of a compare folder (its summary.json)."""
        return cls.of(json.loads((Path(folder) / "summary.json").read_text()))

    def to_json(self) -> dict[str, Any]:
        """summary.json: every key it had before the record, then the findings."""
        out: dict[str, Any] = {
            "model": self.model,
            "images": self.images,
            "keys": list(self.keys),
            "cam_methods": list(self.cam_methods),
            "primary_method": self.primary_method,
            "agreement_mean": self.agreement_mean,
            "above_chance": self.above_chance,
            "complexity": self.complexity.to_json(),
            "label_mismatches": list(self.label_mismatches),
            "failures": list(self.failures),
        }
        if self.cam_grid is not None:
            out["cam_grid"] = list(self.cam_grid)
            out["iou_area_ceiling"] = self.iou_area_ceiling
        if self.faithfulness:
            out["faithfulness_mean"] = {r.method: r.to_json() for r in self.faithfulness}
        if self.paired is not None:
            out["faithfulness_paired"] = self.paired.to_json()
        if self.sanity is not None:
            out["sanity"] = self.sanity.to_json()
        out |= {"threshold": self.threshold, "crop": self.crop}
        if self.pairs is not None:
            out["pairs"] = self.pairs.to_json()
        if self.sheet is not None:
            out["sheet_example"] = self.sheet.to_json()
        out["findings"] = [f.to_dict() for f in self.findings]
        out["missed"] = [m.to_dict() for m in self.missed]
        return out

    def headline(self, method: str) -> float | None:
        return self.agreement_mean[method].get(HEADLINE)

    def faithfulness_of(self, method: str) -> FaithfulnessRow | None:
        return next((r for r in self.faithfulness if r.method == method), None)


# --- the findings ----------------------------------------------------------------------------


def choose(r: CompareFindings) -> list[Finding]:
    """The findings, in reading order: the answers to the sheet's questions first
    (agreement, complexity, the sheet's example), then faithfulness and sanity (each but the
    first where the stage measured it); a ranking of the CAM methods only where one of
    complexity, faithfulness and sanity is missing, so that the record stays three to five."""
    main = [complexity(r), faithfulness(r), sanity(r)]
    extra = family(r) if None in main else None
    found = [agreement(r), main[0], sheet_example(r), extra, *main[1:]]
    return [f for f in found if f is not None]


def missed(r: CompareFindings) -> list[Missed]:
    """Targets the comparison did not meet: images it could not compare; a complexity
    question it could not even estimate."""
    out = []
    if r.failures:
        out.append(
            Missed(
                "every image compared",
                f"{len(r.failures)} image(s) had no usable CAM or LIME result and are "
                "left out (compare/summary.json).",
            )
        )
    if r.complexity.verdict == UNDETERMINED:
        out.append(
            Missed(
                "a test of whether simple images agree more",
                f"with {r.images} image(s) no rank correlation can be estimated, let "
                "alone a significant one; the question stays open until the comparison runs on "
                "more images.",
            )
        )
    return out


def agreement(r: CompareFindings) -> Finding:
    """IoU against chance; the reason is the CAM grid's resolution (with its ceiling)."""
    method = r.primary_method
    means = r.agreement_mean[method]
    iou, chance = means[HEADLINE], means[get_measure(HEADLINE).chance]
    above, n, name = r.above_chance.get(method), r.images, title_of(method)
    if above is not None and above <= MOSTLY * n:
        claim = f"{name} and LIME agree no better than chance on most images."
    elif iou is not None and iou >= LARGELY:
        claim = f"{name} and LIME mark largely the same pixels."
    else:
        claim = f"{name} and LIME agree more than chance, but far from fully."
    evidence = (
        f"Area-matched IoU {num(iou)} on average, against {num(chance)} for random masks of "
        "the same areas"
        + (f"; above chance on {above} of {n} images" if above is not None else "")
        + _family_range(r)
        + f" {file_ref('compare/agreement.csv')}."
    )
    return Finding(claim, evidence, _grid_reason(r, method))


def _headlines(r: CompareFindings) -> dict[str, float]:
    return {m: v for m in r.cam_methods if (v := r.headline(m)) is not None}


def _family_range(r: CompareFindings) -> str:
    """The CAM methods' range of mean IoU, where they agree alike (see :func:`family`)."""
    iou = list(_headlines(r).values())
    if len(iou) < 2 or max(iou) - min(iou) >= ALIKE_WITHIN:
        return ""
    return f"; every CAM method alike, {num(min(iou))}–{num(max(iou))}"


def _grid_reason(r: CompareFindings, method: str) -> str:
    name, grid, ceiling = title_of(method), r.cam_grid, r.iou_area_ceiling
    if not grid:
        return (
            f"a {name} map is made on the target layer's coarse grid and upsampled to "
            "the crop, so it cannot follow the superpixel boundaries of LIME's mask; its IoU "
            "with a superpixel mask is bounded below 1."
        )
    where = f"the {r.crop}×{r.crop} crop" if r.crop else "the crop"
    reason = (
        f"a {name} map is a {grid[0]}×{grid[1]} grid upsampled to {where}, smooth "
        "blobs that cannot follow the superpixel edges of LIME's mask: LIME's own mask seen "
        f"through that grid reaches only IoU {num(ceiling)} {file_ref('compare/ceiling.csv')}"
    )
    iou = r.headline(method)
    if ceiling is not None and iou is not None and iou < 0.5 * ceiling:
        return reason + "; the rest of the gap is disagreement about where the evidence lies."
    return reason + ", so much of the shortfall is that resolution, not disagreement."


def family(r: CompareFindings) -> Finding | None:
    """Which CAM method agrees most with LIME, where their IoUs differ enough to rank (when
    they do not, :func:`agreement` gives their range); why, in each method's own words."""
    iou = _headlines(r)
    if len(iou) < 2 or max(iou.values()) - min(iou.values()) < ALIKE_WITHIN:
        return None
    best, worst = max(iou, key=iou.__getitem__), min(iou, key=iou.__getitem__)
    how = "; ".join(f"{get_method(m).title} {get_method(m).about}" for m in iou)
    return Finding(
        f"{title_of(best)} agrees most with LIME, {title_of(worst)} least.",
        f"Mean area-matched IoU {num(iou[best])} against {num(iou[worst])} "
        f"{file_ref('compare/summary.json')}.",
        f"they share the layer's activations but weight its channels differently: {how}.",
    )


def complexity(r: CompareFindings) -> Finding | None:
    """Do simple images agree more? Against the significance n images allow (None where no
    rho could be estimated: :func:`missed` says so)."""
    c, n = r.complexity, r.images
    corr = {m: v for m, v in c.correlations.items() if v.rho is not None}
    if not corr:
        return None
    strongest = max(corr, key=lambda m: abs(corr[m].rho or 0.0))
    s = corr[strongest]
    evidence = (
        f"Strongest: {LABELS[strongest]}, rho = {s.rho:+.2f} (p = {_p(s.p)}); with "
        f"{n} images only |rho| > {num(c.critical_rho)} is significant at p < {c.alpha:g} "
        f"{file_ref('compare/correlations.csv')}."
    )
    for_ = [m for m in c.significant if m in c.supporting]
    against = [m for m in c.significant if m not in c.supporting]
    if not for_:
        claim = f"'Simple images agree more' is not supported with {n} images."
        if against:
            claim += f" {_labels(against)} even point the other way."
        return Finding(
            claim,
            evidence,
            "a moderate relation cannot be told from chance over this few images, so this is "
            "no evidence against one either; one image can flip a rho's sign.",
        )
    reason = (
        f"{len(corr)} measures are tested at once, so one reaching p < {c.alpha:g} by chance "
        "alone is not unlikely"
    )
    if "object_area" in for_:
        reason += (
            "; and random masks overlap more when they are larger, so a larger object "
            "raises IoU without any real agreement"
        )
    return Finding(
        f"Simpler images agree more by {_labels(for_)}"
        + (f", less by {_labels(against)}" if against else "")
        + f": an observation on {n} images.",
        evidence,
        reason + ".",
    )


def _labels(names: list[str]) -> str:
    return join_names([_short(m) for m in names if m in SIMPLER_WHEN])


def _short(measure: str) -> str:
    """A complexity measure's name without its unit: "edge density"."""
    return LABELS[measure].split(" (")[0]


def _value(measure: str, value: float) -> str:
    """A complexity measure's value as the findings print it: a count, a share, a number."""
    if measure == "n_superpixels":
        return f"{value:.0f}"
    return pct(value) if measure in SHARES else num(value)


def sheet_example(r: CompareFindings) -> Finding | None:
    """The sheet's example, goldfish (simple) against kite (complex): each one's IoU and
    rank among the images, their complexity, and the reason the numbers give (None: either
    image not in the run)."""
    e = r.sheet
    if e is None:
        return None
    a, b = e.simple, e.complex
    simple, busy = f"{_name(a)} (simple)", f"{_name(b)} (complex)"
    if abs(a.iou - b.iou) < ALIKE_WITHIN:
        claim = f"{simple} and {busy} agree alike."
    elif a.iou > b.iou:
        claim = f"{simple} agrees more than {busy}, as the sheet expects."
    else:
        claim = f"{busy} agrees more than {simple}, against the sheet's expectation."
    ious = " vs ".join(f"{num(f.iou)} (rank {f.rank} of {e.images})" for f in (a, b))
    evidence = f"IoU {ious} {file_ref('compare/agreement.csv')}"
    both = [m for m in SIMPLER_WHEN if m in a.complexity and m in b.complexity]
    if both:
        values = [
            f"{_short(m)} {_value(m, a.complexity[m])} vs {_value(m, b.complexity[m])}"
            for m in both
        ]
        evidence += f"; {', '.join(values)} {file_ref('compare/complexity.csv')}"
    claim = claim[:1].upper() + claim[1:]
    return Finding(claim, evidence + ".", "; ".join(_sheet_reasons(e, both)) + ".")


def _name(f: ImageFacts) -> str:
    return text(pretty_key(f.key))


def _sheet_reasons(e: SheetExample, measures_: list[str]) -> list[str]:
    """The reason the numbers give for the sheet's pair: which image the complexity
    measures call simpler; whether the image that agrees more has the larger mask (random
    masks overlap more) and the higher ceiling through the CAM grid; where neither, the
    maps' disagreement."""
    a, b = e.simple, e.complex
    more, less = (a, b) if a.iou >= b.iou else (b, a)
    found = []
    if measures_:
        simpler = [
            m for m in measures_ if (a.complexity[m] - b.complexity[m]) * SIMPLER_WHEN[m] > 0
        ]
        not_by = [m for m in measures_ if m not in simpler]
        found.append(
            f"{_name(a)} is simpler by {len(simpler)} of {len(measures_)} measures"
            + (f" (not by {_labels(not_by)})" if simpler and not_by else "")
        )
    area = grid = None  # whether the mask's area, the grid's ceiling go with the IoUs
    if more.lime_area is not None and less.lime_area is not None:
        areas = f"{pct(more.lime_area)} vs {pct(less.lime_area)} of the crop"
        area = more.lime_area > less.lime_area
        if area:
            chance = (
                f" ({num(more.chance)} vs {num(less.chance)})"
                if more.chance is not None and less.chance is not None
                else ""
            )
            found.append(
                f"{_name(more)}'s larger LIME mask ({areas}) raises chance overlap{chance}"
            )
        else:
            found.append(f"not by its mask's area ({_name(more)} {areas})")
    if more.ceiling is not None and less.ceiling is not None:
        ceilings = (
            f"through the CAM grid LIME's mask keeps {num(more.ceiling)} vs "
            f"{num(less.ceiling)} {file_ref('compare/ceiling.csv')}"
        )
        grid = less.ceiling < more.ceiling
        if grid:
            found.append(f"{ceilings}: part of {_name(less)}'s shortfall is resolution")
        else:
            found.append(f"{ceilings}: not resolution")
    if area is False and grid is False:
        found.append(f"the maps disagree about where {_name(less)}'s evidence lies")
    return found


def faithfulness(r: CompareFindings) -> Finding | None:
    """Which map is more faithful by every faithfulness measure (deletion and insertion
    AUC), against the random order."""
    if not r.faithfulness or r.paired is None:
        return None
    cam, n = r.paired.methods[0], r.paired.images
    name = title_of(cam)
    specs = [s for s in ranked_measures() if s.name in r.paired.wins]
    wins = {s.short: r.paired.wins[s.name] for s in specs}
    rows = [r.faithfulness_of(m) for m in (cam, LIME, RANDOM)]
    means = []
    for i, s in enumerate(specs):
        values = [num(row.means[s.name]) if row else "n/a" for row in rows]
        if i == 0:  # the first names what it is, the others follow its pattern
            head = s.title[:1].upper() + s.title[1:] + (f" ({s.better})" if s.better else "")
            means.append(f"{head} {name} {values[0]}, LIME {values[1]}, random {values[2]}")
        else:
            means.append(f"{s.short} " + ", ".join(values))
    evidence = (
        "; ".join(means)
        + f"; {name} better on "
        + join_names([f"{w} ({short})" for short, w in wins.items()])
        + f" of {n} images {file_ref('compare/faithfulness_summary.csv')}."
    )
    if all(w > MOSTLY * n for w in wins.values()):
        return Finding(
            f"{name}'s map is the more faithful one.",
            evidence,
            f"{name} {get_method(cam).about}, so its top pixels are those the decision "
            "depends on; LIME's map is constant over each superpixel and comes from a "
            "surrogate fit to a few hundred noisy on/off samples.",
        )
    if all(w < (1 - MOSTLY) * n for w in wins.values()):
        return Finding(
            "LIME's map is the more faithful one.",
            evidence,
            "LIME is fit to the model's response to switching superpixels off, which is close "
            f"to what deletion measures; {name}'s coarse blobs spill over the object's "
            "edges onto pixels the model does not use.",
        )
    return Finding(
        "Neither map is more faithful on most images.",
        evidence,
        "the curves split image by image or by kind (deletion fills with the mean colour, "
        "insertion starts from a blur), and a map can rank its first pixels well, the rest "
        "poorly.",
    )


def sanity(r: CompareFindings) -> Finding | None:
    """The model-randomisation check's verdicts: a map must change with the weights."""
    s = r.sanity
    if s is None or not s.final:
        return None
    fails, partly = s.with_verdict(BARELY), s.with_verdict(PARTLY)
    evidence = (
        f"Top {len(s.blocks)} block(s) re-initialised, {s.images} image(s); rank "
        "correlation with the original map: "
        + ", ".join(f"{title_of(f.method)} {num(f.rho)} ({f.verdict})" for f in s.final)
        + f" {file_ref('compare/sanity.csv')}."
    )
    if fails:
        return Finding(
            f"{join_names([title_of(m) for m in fails])} fail(s) the randomisation check.",
            evidence,
            "a map that barely changes when the weights are destroyed shows the image "
            "(edges, colour), not what the model learned.",
        )
    reason = "a map that depends on what the model learned must change when its weights go"
    if partly:
        reason += (
            f"; {join_names([title_of(m) for m in partly])} change(s) only partly because only "
            "the top blocks are randomised: the lower layers' activations, and with them the "
            "map's layout, stay"
        )
    return Finding("Every map checked depends on the model's weights.", evidence, reason + ".")


def _p(p: float | None) -> str:
    return "n/a" if p is None else p_text(p)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number


def _count(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)
