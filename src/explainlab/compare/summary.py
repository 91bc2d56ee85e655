"""The compare stage's key numbers (:func:`key_numbers`, from its tables) and the text
summary, ``summary.txt``: one renderer of the findings record
(:class:`~explainlab.compare.findings.CompareFindings`) that report 4 renders too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from explainlab.compare.complexity import LABELS, Answer, critical_rho
from explainlab.compare.figures import title
from explainlab.compare.findings import (
    CHANGED_BELOW,
    HEADLINE,
    PAIR_FACT_MEASURE,
    RANDOM,
    SHEET_EXAMPLE,
    UNCHANGED_ABOVE,
    CompareFindings,
    FaithfulnessRow,
    Sanity,
    beats_column,
    mismatch_note,
    ranked_measures,
    sanity_verdict,
    verdict_measure,
    wins_key,
)
from explainlab.compare.pairs import extremes, in_order
from explainlab.compare.settings import LIME
from explainlab.measures import MeasureSpec, get_measure, measures, table_columns
from explainlab.report.findings import markdown_lines
from explainlab.report.markup import markdown

if TYPE_CHECKING:
    from explainlab.compare.tables import Resolution

ALPHA = 0.05  # significance level of the complexity correlations


def _clean(value: Any) -> Any:
    if value is pd.NA:
        return None
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else round(float(value), 4)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    return value


def key_numbers(
    *,
    model: str | None,
    keys: list[str],
    methods: list[str],
    primary: str,
    threshold: float,
    agreement: pd.DataFrame,
    correlations: pd.DataFrame,
    answer: Answer,
    faithfulness: pd.DataFrame | None,
    sanity: pd.DataFrame | None,
    label_mismatches: list[str],
    failures: list[str],
    resolution: Resolution | None = None,
    pair_means: pd.DataFrame | None = None,
    complexity: pd.DataFrame | None = None,
) -> dict[str, Any]:
    means = agreement.groupby(["method", "measure"])["value"].mean()
    n = len(correlations[correlations["method"] == primary].dropna(subset=["rho"]))
    out: dict[str, Any] = {
        "model": model,
        "images": len(keys),
        "keys": keys,
        "cam_methods": methods,
        "primary_method": primary,
        "agreement_mean": {
            m: {measure: means[m][measure] for measure in means[m].index} for m in methods
        },
        "above_chance": above_chance(agreement),
        "complexity": {
            "iou": f"{primary} vs LIME, area-matched",
            "correlations": {
                r["measure"]: {"rho": r["rho"], "p": r["p"], "n": r["n"]}
                for _, r in correlations[correlations["method"] == primary].iterrows()
            },
            "verdict": answer.verdict,
            "paragraph": answer.paragraph,
            "supporting": answer.supporting,
            "against": answer.against,
            "significant": answer.significant,
            "alpha": ALPHA,
            "critical_rho": critical_rho(int(correlations["n"].max())) if n else None,
        },
        "label_mismatches": label_mismatches,
        "failures": failures,
        "threshold": threshold,
    }
    if resolution is not None:
        out["cam_grid"] = list(resolution.grid)
        out["iou_area_ceiling"] = float(np.nanmean(list(resolution.ceilings.values())))
        out["crop"] = resolution.crop
    if faithfulness is not None:
        out["faithfulness_mean"] = (
            faithfulness_table(faithfulness).set_index("method").to_dict(orient="index")
        )
        if {primary, LIME} <= set(faithfulness["method"]):
            out["faithfulness_paired"] = paired_wins(faithfulness, primary, LIME)
    if sanity is not None:
        last = sanity[sanity["step"] == sanity["step"].max()]
        out["sanity"] = {
            "blocks": sanity.drop_duplicates("step").sort_values("step")["block"].tolist()[1:],
            "images": int(sanity["key"].nunique()),
            "changed_below": CHANGED_BELOW,
            "unchanged_above": UNCHANGED_ABOVE,
            "final": {
                m: {
                    **{spec.name: g[spec.name].mean() for spec in measures("sanity")},
                    "verdict": sanity_verdict(float(g[verdict_measure().name].mean())),
                }
                for m, g in last.groupby("method")
            },
        }
    if pair_means is not None:
        out["pairs"] = pair_facts(pair_means)
    if complexity is not None:
        ceilings = resolution.ceilings if resolution is not None else {}
        out["sheet_example"] = sheet_example(agreement, primary, complexity, ceilings)
    return _clean(out)


def sheet_example(
    agreement: pd.DataFrame,
    primary: str,
    complexity: pd.DataFrame,
    ceilings: dict[str, float],
) -> dict[str, Any] | None:
    """summary.json's ``sheet_example``: for each image of :data:`SHEET_EXAMPLE`, its
    headline IoU, rank among the images, chance, ceiling, LIME's mask area and complexity
    measures (None where either image is not in the run)."""
    part = agreement[agreement["method"] == primary]
    wide = part.pivot_table(index="key", columns="measure", values="value")
    iou = wide[HEADLINE].dropna()
    if not set(SHEET_EXAMPLE) <= set(iou.index):
        return None
    rank = iou.rank(ascending=False, method="min")
    measures_ = complexity.set_index("key")
    chance = get_measure(HEADLINE).chance

    def facts(key: str) -> dict[str, Any]:
        row = wide.loc[key]
        return {
            "key": key,
            "iou": iou[key],
            "rank": int(rank[key]),
            "chance": row.get(chance),
            "ceiling": ceilings.get(key),
            "lime_area": row.get("lime_area"),
            "complexity": {
                m: measures_.loc[key, m]
                for m in LABELS
                if m in measures_ and key in measures_.index
            },
        }

    simple, complex_ = SHEET_EXAMPLE
    return {"images": len(iou), "simple": facts(simple), "complex": facts(complex_)}


def pair_facts(pair_means: pd.DataFrame) -> dict[str, Any] | None:
    """summary.json's ``pairs``: the two methods that agree most and least by
    :data:`PAIR_FACT_MEASURE` (None where fewer than two pairs have a value)."""
    found = extremes(pair_means, PAIR_FACT_MEASURE)
    if found is None:
        return None
    most, least = found
    part = pair_means[pair_means["measure"] == PAIR_FACT_MEASURE]
    return {
        "measure": PAIR_FACT_MEASURE,
        "methods": in_order(list(dict.fromkeys([*part["method_a"], *part["method_b"]]))),
        "images": int(part["images"].max()),
        "most": {"methods": [most["method_a"], most["method_b"]], "value": most["mean"]},
        "least": {"methods": [least["method_a"], least["method_b"]], "value": least["mean"]},
    }


def above_chance(agreement: pd.DataFrame) -> dict[str, int]:
    """Per CAM method: on how many images the headline IoU beats two random masks'."""
    headline = get_measure(HEADLINE)
    wide = agreement.pivot_table(index=["method", "key"], columns="measure", values="value")
    beats = wide[headline.name] > wide[headline.chance]
    return {str(m): int(v) for m, v in beats.groupby(level="method").sum().items()}


def paired_wins(faith: pd.DataFrame, a: str, b: str) -> dict[str, Any]:
    """Image by image, how often ``a``'s map is more faithful than ``b``'s by each
    faithfulness measure (the images both have)."""
    specs = ranked_measures()
    table = faith.pivot_table(index="key", columns="method", values=[s.name for s in specs])
    pairs = {s.name: table[s.name][[a, b]].dropna() for s in specs}
    return {
        "methods": [a, b],
        "images": len(pairs[specs[0].name]),
        **{wins_key(s): int(s.beats(pairs[s.name][a], pairs[s.name][b]).sum()) for s in specs},
    }


def faithfulness_table(faith: pd.DataFrame) -> pd.DataFrame:
    """Per method: the mean of each faithfulness measure over the images, and on how many
    images it beats the random order by each."""
    specs = measures("map")
    random = faith[faith["method"] == RANDOM].set_index("key")
    rows = []
    for method, group in faith.groupby("method", sort=False):
        row = {"method": method, "images": len(group)}
        row |= {s.name: group[s.name].mean() for s in specs}
        if method != RANDOM and len(random):
            g = group.set_index("key")
            for s in specs:
                if s.direction != "neither":
                    baseline = random[s.name].reindex(g.index)
                    row[beats_column(s)] = int(s.beats(g[s.name], baseline).sum())
        rows.append(row)
    table = pd.DataFrame(rows)
    for column in map(beats_column, specs):
        if column in table:  # counts, empty for the random order itself
            table[column] = table[column].astype("Int64")
    return table


def text(record: CompareFindings) -> str:
    """summary.txt: the tables of means, then the findings, as report 4 states them."""
    columns = table_columns("map-mask")
    lines = [
        f"explainlab compare: {record.images} images, model {record.model or '?'}",
        "",
        "Agreement with LIME (mean over images):",
        f"  {'method':12s} " + " ".join(f"{c.short:>{c.text_width}s}" for c in columns),
    ]
    for method, m in record.agreement_mean.items():
        lines.append(
            f"  {title(method):12s} "
            + " ".join(f"{_f(m.get(c.name)):>{c.text_width}s}" for c in columns)
        )
    lines += ["", "Complexity vs IoU (" + record.complexity.iou + "):"]
    for name, c in record.complexity.correlations.items():
        lines.append(f"  {LABELS[name]:32s} rho {_f(c.rho, '+.2f'):>6s}  p {_f(c.p, '.3g')}")
    lines += ["", record.complexity.paragraph]
    if record.faithfulness:
        lines += faithfulness_text(record.faithfulness)
    if record.sanity is not None:
        lines += sanity_text(record.sanity)
    if record.pairs is not None:
        lines += [
            "",
            "Agreement between every two methods:",
            "  " + markdown(record.pairs.sentence()),
        ]
    lines += ["", "Findings:", *markdown_lines(record.findings, record.missed)]
    if record.label_mismatches:
        lines += ["", markdown(mismatch_note(record.label_mismatches))]
    if record.failures:
        lines += ["", "Not compared:"] + [f"  - {f}" for f in record.failures]
    return "\n".join(lines) + "\n"


def faithfulness_text(rows: Sequence[FaithfulnessRow]) -> list[str]:
    specs = measures("map")
    beats = ranked_measures()
    wording = ", ".join(f"{s.short}: {s.better}" for s in beats)
    lines = [
        "",
        f"Faithfulness (mean AUC; {wording}):",
        f"  {'method':12s} "
        + " ".join(f"{s.short:>9s}" for s in specs)
        + "".join(f" {_against_random(s):>9s}" for s in beats),
    ]
    for row in rows:
        counts = [
            "" if row.beats_random[s.name] is None else f"{row.beats_random[s.name]}/{row.images}"
            for s in beats
        ]
        lines.append(
            f"  {title(row.method):12s} "
            + " ".join(f"{_f(row.means[s.name], '.3f'):>9s}" for s in specs)
            + "".join(f" {c:>9s}" for c in counts)
        )
    return lines


def _against_random(spec: MeasureSpec) -> str:
    """The compact header of the count of images beating the random order: "del<rand"."""
    return f"{spec.short[:3]}{'<' if spec.direction == 'lower' else '>'}rand"


def sanity_text(sanity: Sanity) -> list[str]:
    specs = measures("sanity")
    lines = [
        "",
        f"Sanity check ({sanity.images} images, {len(sanity.blocks)} blocks randomised "
        f"top-down, last: {sanity.blocks[-1] if sanity.blocks else '-'}):",
    ]
    for f in sanity.final:
        values = "  ".join(f"{s.short} {_f(f.values.get(s.name), s.text_format)}" for s in specs)
        lines.append(f"  {title(f.method):12s} {values}  -> {f.verdict}")
    rule = sanity.rule(f"{verdict_measure().short} with the original map")
    if rule:
        lines.append(f"  ({rule})")
    return lines


def _f(value: float | None, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)
