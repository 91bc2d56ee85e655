"""The merge: every finished shard's per-batch files read back into the per-image tables,
sorted by image so that they do not depend on how the images were split, then the
report card computed from them and written: ``card.csv``, ``ranks.csv``,
``significance.csv``, ``agreement_matrix.csv``, ``agreement_means.csv``, ``costs.csv``, the per-image
``values.csv``, ``agreement.csv`` and ``images.csv``, ``failures.csv``, the figure
``card.png`` and the PDF ``report_card.pdf``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from explainlab import runfolder
from explainlab.errors import InputError
from explainlab.evaluation.card import Card, report_card
from explainlab.evaluation.plan import Plan
from explainlab.evaluation.shard import BATCH_FILES, COLUMNS

SORT = {
    "values.csv": ["key", "method", "measure"],
    "agreement.csv": ["key", "method_a", "method_b", "measure"],
    "images.csv": ["key"],
    "failures.csv": ["key"],
}


@dataclass(frozen=True, eq=False)
class Evaluation:
    """What an evaluation found: its plan, the per-image tables and the report card."""

    plan: Plan
    tables: dict[str, pd.DataFrame]  # by file name: values.csv, agreement.csv, ...
    card: Card
    folder: Path | None  # where it was written

    @property
    def failures(self) -> pd.DataFrame:
        return self.tables["failures.csv"]


def read_shards(shards: Sequence[str | Path]) -> tuple[Plan, dict[str, pd.DataFrame]]:
    """The plan the shards were made with (the same for all, or an error) and their
    per-batch files concatenated, each sorted by image."""
    plans, parts = [], {name: [] for name in BATCH_FILES}
    for shard in map(Path, shards):
        try:
            plans.append(runfolder.recorded_settings(shard)["plan"])
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(
                f"{shard}: not a finished shard ({exc})",
                hint="run evaluate_shard on it to the end first",
            ) from None
        for batch in sorted(p for p in shard.glob("batch-*") if p.is_dir()):
            for name in BATCH_FILES:
                parts[name].append(pd.read_csv(batch / name, keep_default_na=False, na_values=[""]))
    if not plans:
        raise InputError("no shards to merge", hint="give the folders evaluate_shard wrote")
    if any(plan != plans[0] for plan in plans):
        raise InputError("the shards were made with different plans", hint="rerun them alike")
    tables = {}
    for name in BATCH_FILES:
        frames = [f for f in parts[name] if len(f)]
        frame = (
            pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS[name])
        )
        if name in SORT:
            frame = frame.sort_values(SORT[name], kind="stable").reset_index(drop=True)
        tables[name] = frame
    return Plan.from_dict(plans[0]), tables


def merge_shards(
    shards: Sequence[str | Path],
    out: str | Path,
    *,
    title: str = "",
    figure: bool = True,
    report: bool = True,
) -> Evaluation:
    """Read the finished ``shards`` (folders :func:`~explainlab.evaluation.shard.evaluate_shard`
    wrote), compute the report card and write every table into ``out`` (with the
    figure and the PDF unless told not to; ``title`` names the model in them)."""
    plan, tables = read_shards(shards)
    card = report_card(
        tables["values.csv"],
        tables["agreement.csv"],
        tables["costs.csv"],
        plan.methods,
        plan.measures,
        seed=plan.seed,
    )
    out = Path(out)
    for name in ("values.csv", "agreement.csv", "images.csv", "failures.csv"):
        runfolder.write_csv(out / name, tables[name])
    runfolder.write_csv(out / "card.csv", card.card)
    runfolder.write_csv(out / "ranks.csv", card.ranks)
    runfolder.write_csv(out / "significance.csv", card.significance)
    runfolder.write_csv(out / "agreement_matrix.csv", card.agreement.reset_index())
    runfolder.write_csv(out / "agreement_means.csv", card.pair_means)
    runfolder.write_csv(out / "costs.csv", card.costs)
    evaluation = Evaluation(plan, tables, card, out)
    if figure or report:
        from explainlab.evaluation.figures import save_card_figure

        save_card_figure(card, plan, out / "card.png", title=title)
    if report:
        from explainlab.evaluation.report import save_report

        save_report(evaluation, out / "report_card.pdf", title=title)
    return evaluation
