"""Key numbers of the compare stage: a small JSON for the report stage, and a text summary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from explainlab.compare.complexity import LABELS, Answer, critical_rho
from explainlab.compare.figures import title
from explainlab.compare.settings import LIME

if TYPE_CHECKING:
    from explainlab.compare.tables import Resolution

ALPHA = 0.05  # significance level of the complexity correlations

# Sanity verdict from the mean rank correlation with the original map at the last step.
CHANGED_BELOW, UNCHANGED_ABOVE = 0.3, 0.7


def sanity_verdict(rho: float) -> str:
    if rho < CHANGED_BELOW:
        return "changes strongly"
    if rho > UNCHANGED_ABOVE:
        return "barely changes"
    return "changes partly"


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
    agreement: pd.DataFrame,
    correlations: pd.DataFrame,
    answer: Answer,
    faithfulness: pd.DataFrame | None,
    sanity: pd.DataFrame | None,
    label_mismatches: list[str],
    failures: list[str],
    resolution: Resolution | None = None,
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
    }
    if resolution is not None:
        out["cam_grid"] = list(resolution.grid)
        out["iou_area_ceiling"] = float(np.nanmean(list(resolution.ceilings.values())))
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
                    "spearman": g["spearman"].mean(),
                    "ssim": g["ssim"].mean(),
                    "verdict": sanity_verdict(float(g["spearman"].mean())),
                }
                for m, g in last.groupby("method")
            },
        }
    return _clean(out)


def above_chance(agreement: pd.DataFrame) -> dict[str, int]:
    """Per CAM method: on how many images the area-matched IoU beats two random masks'."""
    wide = agreement.pivot_table(index=["method", "key"], columns="measure", values="value")
    beats = wide["iou_area"] > wide["iou_area_chance"]
    return {str(m): int(v) for m, v in beats.groupby(level="method").sum().items()}


def paired_wins(faith: pd.DataFrame, a: str, b: str) -> dict[str, Any]:
    """Image by image, how often ``a``'s map is more faithful than ``b``'s: lower deletion
    AUC, higher insertion AUC (the images both have)."""
    table = faith.pivot_table(
        index="key", columns="method", values=["deletion_auc", "insertion_auc"]
    )
    deletion, insertion = (
        table["deletion_auc"][[a, b]].dropna(),
        table["insertion_auc"][[a, b]].dropna(),
    )
    return {
        "methods": [a, b],
        "images": len(deletion),
        "deletion_wins": int((deletion[a] < deletion[b]).sum()),
        "insertion_wins": int((insertion[a] > insertion[b]).sum()),
    }


def faithfulness_table(faith: pd.DataFrame) -> pd.DataFrame:
    """Per method: mean AUCs over the images, and on how many images it beats the random order."""
    random = faith[faith["method"] == "random"].set_index("key")
    rows = []
    for method, group in faith.groupby("method", sort=False):
        row = {
            "method": method,
            "images": len(group),
            "deletion_auc": group["deletion_auc"].mean(),
            "insertion_auc": group["insertion_auc"].mean(),
        }
        if method != "random" and len(random):
            g = group.set_index("key")
            row["deletion_beats_random"] = int(
                (g["deletion_auc"] < random["deletion_auc"].reindex(g.index)).sum()
            )
            row["insertion_beats_random"] = int(
                (g["insertion_auc"] > random["insertion_auc"].reindex(g.index)).sum()
            )
        rows.append(row)
    table = pd.DataFrame(rows)
    for column in ("deletion_beats_random", "insertion_beats_random"):
        if column in table:  # counts, empty for the random order itself
            table[column] = table[column].astype("Int64")
    return table


def text(numbers: dict[str, Any]) -> str:
    """The human-readable summary.txt."""
    lines = [
        f"explainlab compare: {numbers['images']} images, model {numbers['model'] or '?'}",
        "",
        "Agreement with LIME (mean over images):",
        f"  {'method':12s} {'IoU thr':>8s} {'IoU area':>9s} {'chance':>7s} {'Dice area':>9s} "
        f"{'pointing':>8s} {'rho spx':>8s}",
    ]
    for method, m in numbers["agreement_mean"].items():
        lines.append(
            f"  {title(method):12s} {_f(m['iou_threshold']):>8s} {_f(m['iou_area']):>9s} "
            f"{_f(m['iou_area_chance']):>7s} {_f(m['dice_area']):>9s} "
            f"{_f(m['pointing_game']):>8s} {_f(m['superpixel_rho']):>8s}"
        )
    lines += ["", "Complexity vs IoU (" + numbers["complexity"]["iou"] + "):"]
    for name, c in numbers["complexity"]["correlations"].items():
        lines.append(f"  {LABELS[name]:32s} rho {_f(c['rho'], '+.2f'):>6s}  p {_f(c['p'], '.3g')}")
    lines += ["", numbers["complexity"]["paragraph"]]
    if "faithfulness_mean" in numbers:
        lines += [
            "",
            "Faithfulness (mean AUC; deletion: lower is better, insertion: higher is better):",
            f"  {'method':12s} {'deletion':>9s} {'insertion':>9s} {'del<rand':>9s} {'ins>rand':>9s}",
        ]
        for method, f in numbers["faithfulness_mean"].items():
            n = f["images"]
            beats = (
                (
                    f"{int(f['deletion_beats_random'])}/{n}",
                    f"{int(f['insertion_beats_random'])}/{n}",
                )
                if f.get("deletion_beats_random") is not None
                else ("", "")
            )
            lines.append(
                f"  {title(method):12s} {_f(f['deletion_auc'], '.3f'):>9s} "
                f"{_f(f['insertion_auc'], '.3f'):>9s} {beats[0]:>9s} {beats[1]:>9s}"
            )
    if "sanity" in numbers:
        s = numbers["sanity"]
        lines += [
            "",
            f"Sanity check ({s['images']} images, {len(s['blocks'])} blocks randomised top-down, "
            f"last: {s['blocks'][-1] if s['blocks'] else '-'}):",
        ]
        for method, f in s["final"].items():
            lines.append(
                f"  {title(method):12s} rho {_f(f['spearman'], '+.2f')}  SSIM {_f(f['ssim'], '.2f')}"
                f"  -> {f['verdict']}"
            )
        lines.append(
            f"  (verdict from rho with the original map: below {CHANGED_BELOW} changes strongly, "
            f"above {UNCHANGED_ABOVE} barely changes)"
        )
    if numbers["label_mismatches"]:
        lines += [
            "",
            "CAM and LIME explain different classes for: " + ", ".join(numbers["label_mismatches"]),
        ]
    if numbers["failures"]:
        lines += ["", "Not compared:"] + [f"  - {f}" for f in numbers["failures"]]
    return "\n".join(lines) + "\n"


def _f(value: float | None, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)
