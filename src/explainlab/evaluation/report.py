"""The report card as a short PDF (:class:`explainlab.report.pdf.Report`): what was
evaluated, the figure, the ranking per measure with the significant differences, the
agreement between methods and the cost per image."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from explainlab.evaluation.card import AGREEMENT
from explainlab.measures import get_measure
from explainlab.methods import title_of
from explainlab.report.markup import join_names, num, text

if TYPE_CHECKING:
    from explainlab.evaluation.merge import Evaluation


def save_report(evaluation: Evaluation, path: Path, *, title: str = "") -> Path:
    from explainlab.report.pdf import TEXT_WIDTH, Report

    plan, card, tables = evaluation.plan, evaluation.card, evaluation.tables
    images, failures = len(tables["images.csv"]), len(tables["failures.csv"])
    report = Report(
        title="Which explanation can I trust? A report card",
        subtitle=f"{title + ', ' if title else ''}{images} images",
        footer="explainlab evaluate",
    )
    methods = join_names([title_of(m) for m in plan.methods])
    failed = f"; {failures} input(s) could not be read (failures.csv)" if failures else ""
    report.paragraph(
        f"{text(methods)} evaluated on {images} images{text(failed)}, each explaining "
        f"{'its true class where known' if plan.target == 'label' else 'its predicted class'}. "
        "Means with a bootstrap 95% interval over images; a difference between two methods "
        "is significant when the Wilcoxon signed-rank test over images, Holm-corrected for "
        "the pairs of methods, gives p &lt; 0.05."
    )
    if evaluation.folder is not None and (evaluation.folder / "card.png").is_file():
        report.figure(evaluation.folder / "card.png", width=TEXT_WIDTH)
    report.heading("Ranking per measure", 2)
    significance = card.significance
    rows = []
    for measure in plan.measures:
        spec = get_measure(measure)
        ranked = card.ranks[card.ranks["measure"] == measure]
        order = ", ".join(
            f"{title_of(r.method)} {num(r.mean, spec.text_format)}" for r in ranked.itertuples()
        )
        wins = significance[(significance["measure"] == measure) & significance["significant"]]
        rows.append([f"{spec.title} {spec.arrow}", order, str(len(wins))])
    report.table(
        rows,
        ["measure", "methods, best first (mean)", "significant pairs"],
        col_widths=[0.25 * TEXT_WIDTH, 0.6 * TEXT_WIDTH, 0.15 * TEXT_WIDTH],
    )
    report.heading(f"Agreement between methods (mean {get_measure(AGREEMENT).title})", 2)
    matrix = card.agreement
    report.table(
        [[title_of(a), *(num(matrix.loc[a, b]) for b in matrix.columns)] for a in matrix.index],
        ["", *(title_of(b) for b in matrix.columns)],
    )
    report.heading("Cost per image", 2)
    report.table(
        [
            [title_of(r.method), f"{r.seconds_per_image:.4f}", str(r.forward), str(r.backward)]
            for r in card.costs.itertuples()
        ],
        ["method", "seconds (measured)", "forward passes", "backward passes"],
    )
    return report.save(path)
