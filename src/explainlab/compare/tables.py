"""The compare stage's run-wide tables, figures and summary, from the images' folders."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from explainlab import runfolder
from explainlab.compare import complexity, figures, summary
from explainlab.compare.findings import HEADLINE, CompareFindings
from explainlab.compare.pairs import MATRIX_MEASURES, matrix, pair_means
from explainlab.compare.settings import CompareSettings
from explainlab.images import Failure
from explainlab.measures import get_measure
from explainlab.models import LoadedModel


def concat(folder: Path, keys: Sequence[str], name: str) -> pd.DataFrame | None:
    """The per-image tables ``<key>/<name>`` stacked (None when no image has one)."""
    parts = [pd.read_csv(folder / k / name) for k in keys if (folder / k / name).is_file()]
    return pd.concat(parts, ignore_index=True) if parts else None


@dataclass(frozen=True)
class Resolution:
    """The CAM layer's grid (h, w) and, per image, the IoU it allows (:mod:`.grid`), for
    maps on a ``crop`` × ``crop`` image."""

    grid: tuple[int, int]
    ceilings: dict[str, float]
    crop: int


def write_all(
    settings: CompareSettings,
    folder: Path,
    keys: list[str],
    methods: list[str],
    model: LoadedModel | None,
    failures: list[Failure],
    resolution: Resolution | None = None,
) -> None:
    """Every run-wide file of the stage into ``folder``."""
    items = [json.loads((folder / k / "item.json").read_text()) for k in keys]
    agreement = concat(folder, keys, "agreement.csv")
    sweep = concat(folder, keys, "iou_sweep.csv")
    assert agreement is not None and sweep is not None
    runfolder.write_csv(folder / "agreement.csv", agreement)
    runfolder.write_csv(folder / "iou_sweep.csv", sweep)
    if resolution is not None:
        ceilings = pd.DataFrame(
            {"key": keys, "iou_area_ceiling": [resolution.ceilings.get(k) for k in keys]}
        )
        runfolder.write_csv(folder / "ceiling.csv", ceilings)
    primary = settings.primary_method if settings.primary_method in methods else methods[0]
    comp, corr, answer = _complexity(folder, items, agreement, methods, primary)
    figures.save_overview(
        overview_table(agreement, primary, resolution),
        corr[corr["method"] == primary],
        complexity.critical_rho(len(keys)),
        primary,
        folder / "overview.png",
    )
    figures.save_iou_bars(agreement, primary, folder / "iou_bars.png")
    figures.save_sweep(sweep, folder / "iou_sweep.png")
    faith = _faithfulness(folder, keys)
    means = _pairs(folder, keys)
    sanity_rows = concat(folder, keys, "sanity.csv")
    if sanity_rows is not None:
        runfolder.write_csv(folder / "sanity.csv", sanity_rows)
        figures.save_sanity(sanity_rows, folder / "sanity.png")
    numbers = summary.key_numbers(
        model=model.name if model is not None else None,
        keys=keys,
        methods=methods,
        primary=primary,
        threshold=settings.threshold,
        agreement=agreement,
        correlations=corr,
        answer=answer,
        faithfulness=faith,
        sanity=sanity_rows,
        label_mismatches=[it["key"] for it in items if it["label_mismatch"]],
        failures=[f"{f.key}: {f.error}" for f in failures],
        resolution=resolution,
        pair_means=means,
        complexity=comp,
    )
    record = CompareFindings.of(numbers)
    runfolder.write_json(folder / "summary.json", record.to_json())
    runfolder.write_text(folder / "summary.txt", summary.text(record))


def overview_table(
    agreement: pd.DataFrame, method: str, resolution: Resolution | None
) -> pd.DataFrame:
    """Per image: ``method``'s headline IoU, its chance level and the grid's ceiling."""
    headline = get_measure(HEADLINE)
    part = agreement[agreement["method"] == method]
    wide = part.pivot_table(index="key", columns="measure", values="value")
    table = pd.DataFrame(
        {"key": wide.index, "iou": wide[headline.name], "chance": wide[headline.chance]}
    ).reset_index(drop=True)
    if resolution is not None:
        table["ceiling"] = table["key"].map(resolution.ceilings)
    return table


def _complexity(
    folder: Path,
    items: list[dict],
    agreement: pd.DataFrame,
    methods: list[str],
    primary: str,
) -> tuple[pd.DataFrame, pd.DataFrame, complexity.Answer]:
    """complexity.csv, correlations.csv and the scatter; the complexity measures per image,
    their correlations and the "simple agree more?" answer."""
    headline = agreement[agreement["measure"] == HEADLINE]
    iou = {m: headline[headline["method"] == m].set_index("key")["value"] for m in methods}
    comp = pd.DataFrame([it["complexity"] for it in items])
    table = comp.copy()
    for m in methods:
        table[f"{HEADLINE}_{m}"] = table["key"].map(iou[m])
    runfolder.write_csv(folder / "complexity.csv", table)
    corr = complexity.correlations(comp, iou)
    runfolder.write_csv(folder / "correlations.csv", corr)
    answer = complexity.answer(
        corr[corr["method"] == primary], iou[primary], figures.title(primary)
    )
    figures.save_complexity_scatter(
        comp,
        iou[primary],
        corr[corr["method"] == primary],
        primary,
        folder / "complexity_scatter.png",
    )
    return comp, corr, answer


def _pairs(folder: Path, keys: list[str]) -> pd.DataFrame | None:
    """pairs.csv, pair_means.csv and the matrix figure; the means (None: no pairs)."""
    pairs = concat(folder, keys, "pairs.csv")
    if pairs is None or pairs.empty:
        return None
    runfolder.write_csv(folder / "pairs.csv", pairs)
    means = pair_means(pairs)
    runfolder.write_csv(folder / "pair_means.csv", means)
    figures.save_pair_matrix(
        {m: matrix(means, m) for m in MATRIX_MEASURES},
        int(pairs["key"].nunique()),
        folder / "pair_matrix.png",
    )
    return means


def _faithfulness(folder: Path, keys: list[str]) -> pd.DataFrame | None:
    faith = concat(folder, keys, "faithfulness.csv")
    if faith is None:
        return None
    curves = concat(folder, keys, "curves.csv")
    assert curves is not None
    runfolder.write_csv(folder / "faithfulness.csv", faith)
    runfolder.write_csv(folder / "faithfulness_curves.csv", curves)
    runfolder.write_csv(folder / "faithfulness_summary.csv", summary.faithfulness_table(faith))
    figures.save_curves(
        curves,
        folder / "faithfulness_curves.png",
        f"Deletion and insertion, mean over {faith['key'].nunique()} images",
    )
    figures.save_auc_summary(faith, folder / "faithfulness_auc.png")
    return faith
