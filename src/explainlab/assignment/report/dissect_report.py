"""Report 1: network dissection (CLIP-Dissect) of an ImageNet and a Places365 model."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from reportlab.lib.units import cm

from explainlab.assignment.report.common import RunFacts, join_names, num, pct, read_csv
from explainlab.assignment.report.dissect_findings import DissectTables, choose
from explainlab.assignment.report.dissect_runs import AnalysisSources, RunStability
from explainlab.dissect.figures import GROUP_NAMES
from explainlab.dissect.findings import ConceptStatus, ReferenceVerdict, with_range
from explainlab.dissect.progression import STACKED
from explainlab.dissect.stability import FLIPS, PARTLY, STABLE, rises_with_similarity
from explainlab.dissect.tables import ALL_LAYERS, most_over_represented
from explainlab.report.findings import front_page
from explainlab.report.pdf import Report, text
from explainlab.stages import stage_dir

ASSIGNMENT_LAYERS = ("layer2", "layer3", "layer4")
BANNERS = {
    "published": "PUBLISHED CLIP-Dissect RESULTS ANALYSED — labels not computed in this run",
    "reference_runs": "REFERENCE CLIP-Dissect RUNS ANALYSED — labels not computed in this run",
}


def _kind(model: str) -> str:
    return "Places365" if "places" in model.lower() else "ImageNet"


def _top(counts: pd.DataFrame, model: str, layer: str, n: int = 3) -> str:
    rows = (
        counts[(counts["model"] == model) & (counts["layer"] == layer)].sort_values("rank").head(n)
    )
    return ", ".join(f"'{text(r['concept'])}' ({r['units']})" for _, r in rows.iterrows())


QUESTION = (
    "Label every neuron of layer2, layer3 and layer4 of ResNet18-ImageNet and "
    "ResNet18-Places365 with a concept (CLIP-Dissect). Which concepts dominate each layer, "
    "how do the two models differ, and how many distinct objects has each learned?"
)
CAPTION = (
    "Units per layer by the Broden category of their label (run a); grey: neither a Broden "
    "label nor an ImageNet class. The files named below are in dissect/analysis/."
)


def build(facts: RunFacts, out: Path) -> Path:
    folder = stage_dir(facts.run_dir, "dissect") / "analysis"
    summary_md = (folder / "summary.md").read_text() if (folder / "summary.md").is_file() else ""
    sources = AnalysisSources.read(folder, summary_md)
    runs = RunStability.read(folder, sources)
    found = DissectTables.read(folder)
    models = list(dict.fromkeys(found.distinct["model"]))
    layers = [
        layer for layer in ASSIGNMENT_LAYERS if layer in set(found.distinct["layer"])
    ] or sorted(set(found.distinct["layer"]) - {ALL_LAYERS})
    findings = choose(found, {m: runs.model(m) if runs else m for m in models})

    report = facts.new_report(
        "Network dissection with CLIP-Dissect", "report 1", BANNERS.get(sources.kind, "")
    )
    front_page(
        report,
        question=QUESTION,
        setting=_setting(facts, sources, summary_md, models, layers),
        figure=folder / "category_shares.png",
        caption=CAPTION,
        findings=findings,
        appendix="top concepts and counts per layer with run-to-run ranges, label stability.",
        figure_height=6.5 * cm,
    )
    report.appendix("Appendix: tables, label stability, figures")
    _appendix(report, folder, found, runs, models, layers, summary_md)
    return report.save(out)


def _setting(
    facts: RunFacts, sources: AnalysisSources, summary_md: str, models: list[str], layers: list[str]
) -> str:
    """What was done: the method in one sentence, and whose labels these are (the one
    statement that this run did not compute them, beside the banner)."""
    configured = facts.manifest.get("config", {}).get("dissect", {})
    method = (
        "<b>What was done.</b> CLIP-Dissect names each unit by the concept whose CLIP text "
        "embedding best matches its top-activating probe images; each name is put in a "
        "Broden category (object, part, scene, material, texture, colour). "
    )
    caveat = " ".join(text(c) for c in sources.caveats)
    if sources.kind == "published" and not caveat:  # an analysis made before sources.json
        note = next((x for x in summary_md.splitlines() if x.startswith("**Note:**")), "")
        caveat = text(note.replace("**Note:**", "").strip())
    if sources.kind in ("reference_runs", "published"):
        return method + caveat
    return method + (
        f"Here every unit of {join_names(layers)} of {join_names([text(m) for m in models])} "
        f"was labelled (similarity {text(configured.get('similarity', 'soft_wpmi'))}, concept "
        f"set {text(configured.get('concept_set', '20k'))}, probe set "
        f"{text(', '.join(configured.get('probe', ['broden'])))})."
    )


def _appendix(
    report: Report,
    folder: Path,
    found: DissectTables,
    runs: RunStability | None,
    models: list[str],
    layers: list[str],
    summary_md: str,
) -> None:
    counts, distinct = found.counts, found.distinct
    report.heading("Concepts learned by most neurons")
    lines = []
    for model in models:
        per_layer = "; ".join(
            f"{layer}: {_top(counts, model, layer)}" + (runs.top_note(model, layer) if runs else "")
            for layer in layers
        )
        lines.append(f"<b>{text(model)}</b> ({_kind(model)}): {per_layer}.")
    report.bullets(lines)
    _shares_table(report, folder)
    _distinct_section(report, distinct, models, layers, runs, summary_md)
    overlap, over = (
        read_csv(folder / "model_overlap.csv"),
        read_csv(folder / "over_represented.csv"),
    )
    if overlap is not None and len(overlap) and len(models) >= 2:
        _overlap_section(report, overlap, over, models, layers, runs)
    if runs is not None:
        _stability_section(report, runs, models)
    verdicts = read_csv(folder / "reference_verdicts.csv")
    if verdicts is not None and len(verdicts):
        _reference_section(report, verdicts)
    _figures(report, folder)


def _shares_table(report: Report, folder: Path) -> None:
    shares = read_csv(folder / "category_shares.csv")
    if shares is None or shares.empty:
        return
    report.heading("Units per category")
    rows = []
    for (model, layer), part in shares.groupby(["model", "layer"], sort=False):
        cells = [str(int(part["units"].iloc[0]))]
        for group in STACKED:
            values = part[part["group"] == group]["units_group"]
            main = int(values[part["main"].astype(str) == "True"].iloc[0])
            cells.append(with_range(main, int(values.min()), int(values.max())))
        rows.append([model, layer, *cells])
    report.table(
        rows,
        header=["model", "layer", "units", *(GROUP_NAMES[g] for g in STACKED)],
        col_widths=[w * cm for w in (3.8, 1.5, 1.2, 3.4, 2.6, 2.0, 2.9)],
        caption="Units labelled with a concept of each category, run a; the range over the "
        "runs in brackets.",
    )


def _distinct_section(
    report: Report,
    distinct: pd.DataFrame,
    models: list[str],
    layers: list[str],
    runs: RunStability | None,
    summary_md: str,
) -> None:
    report.heading("How many different concepts, and how many objects")
    rows = []
    for model in models:
        for layer in [*layers, ALL_LAYERS]:
            r = distinct[(distinct["model"] == model) & (distinct["layer"] == layer)]
            if len(r):
                r = r.iloc[0]
                rows.append(
                    [
                        model,
                        layer,
                        str(int(r["units"])),
                        *(
                            runs.count(model, layer, m, int(r[m])) if runs else str(int(r[m]))
                            for m in ("distinct_concepts", "distinct_object", "units_object")
                        ),
                        str(int(r["distinct_scene"])),
                        str(int(r["distinct_other"])),
                    ]
                )
    report.table(
        rows,
        header=[
            "model",
            "layer",
            "units",
            "distinct concepts",
            "objects",
            "units on objects",
            "scenes",
            "other",
        ],
        col_widths=[w * cm for w in (3.9, 1.6, 1.2, 2.7, 2.1, 2.4, 1.3, 1.3)],
        caption="Ranges over the runs of each model in brackets." if runs else "",
    )
    comparison = _count_comparison(distinct, models, [*layers, ALL_LAYERS], runs)
    if comparison:
        report.paragraph(comparison)
    caveat = next((line for line in summary_md.splitlines() if line.startswith("Categories:")), "")
    if caveat:
        report.paragraph(f"<i>{text(caveat)}</i>")


def _overlap_section(
    report: Report,
    overlap: pd.DataFrame,
    over: pd.DataFrame | None,
    models: list[str],
    layers: list[str],
    runs: RunStability | None,
) -> None:
    report.heading("ImageNet vs Places365")
    parts = []
    for layer in layers:
        r = overlap[overlap["layer"] == layer]
        if len(r):
            r = r.iloc[0]
            parts.append(
                f"{layer}: {int(r['shared'])} shared concepts (Jaccard {num(r['jaccard'])})"
            )
    said = "Concepts both models use, per layer: " + "; ".join(parts) + "."
    if over is not None and len(over):
        said += _over_represented(over, models, runs)
    report.paragraph(said)


APPENDIX_FIGURES = (
    ("distinct_concepts.png", "Distinct concepts per layer, split by Broden category."),
    ("model_overlap.png", "Shared and model-specific concepts per layer."),
    (
        "label_stability.png",
        "Label stability: units labelled alike by every run of a model, overall and by "
        "quartile of the similarity score.",
    ),
    (
        "published_agreement.png",
        "Agreement of the labels analysed with each reference file of the same model.",
    ),
)


def _figures(report: Report, folder: Path) -> None:
    report.heading("Figures")
    for name, caption in APPENDIX_FIGURES:
        if (folder / name).is_file():
            report.figure(folder / name, caption=caption)  # at the size drawn: fonts as drawn
    for path in sorted(folder.glob("top_concepts_*.png")):
        report.figure(path, caption="Concepts learned by most neurons, per layer.")
    montages = sorted(folder.glob("montage*.png")) + sorted(folder.glob("montages/*.png"))
    for path in montages:
        report.figure(
            path,
            caption="Top-activating probe images of units labelled with frequent concepts "
            f"({text(path.stem)}).",
            max_height=10 * cm,
        )
    if not montages:
        report.paragraph(
            "<i>Neuron montages:</i> not made, because the labels analysed come without the "
            "probe images each unit activated on most (top_images.csv, probe_images.csv)."
        )


def _count_comparison(
    distinct: pd.DataFrame, models: list[str], layers: list[str], runs: RunStability | None
) -> str:
    """Which of two models has more distinct and more object concepts, per layer, and
    whether that holds in every run."""
    if len(models) != 2:
        return ""
    table = distinct.set_index(["model", "layer"])
    canonical = [runs.model(m) if runs else m for m in models]
    pairs = (f"{canonical[0]} vs {canonical[1]}", f"{canonical[1]} vs {canonical[0]}")
    parts = []
    for layer in layers:
        if (models[0], layer) not in table.index or (models[1], layer) not in table.index:
            continue
        bits = []
        for measure, what in (
            ("distinct_concepts", "distinct concepts"),
            ("distinct_object", "object concepts"),
        ):
            a, b = (int(table.loc[(m, layer), measure]) for m in models)
            more = text(models[0]) if a > b else text(models[1]) if b > a else "neither model"
            bit = f"more {what}: {more}"
            checks = (
                (runs.headlines.get(f"more {what}", p, layer) for p in pairs)
                if runs is not None
                else ()
            )
            check = next((c for c in checks if c is not None), None)
            if check is not None and not check.holds:
                bit += f" (flips: {check.per_run()})"
            bits.append(bit)
        parts.append(f"{layer}: " + ", ".join(bits))
    if not parts:
        return ""
    every = " Unless a flip is named, each holds in every run." if runs else ""
    return "The two models compared: " + "; ".join(parts) + "." + every


def _over_represented(over: pd.DataFrame, models: list[str], runs: RunStability | None) -> str:
    out = ""
    for a, b in dict.fromkeys(zip(over["model_a"], over["model_b"], strict=True)):
        layer, in_a, in_b = most_over_represented(over, a, b)
        for model, favoured in ((a, in_a), (b, in_b)):
            if model not in models or not len(favoured):
                continue
            names = []
            for concept in favoured["concept"]:
                flag = ""
                if runs is not None:
                    pair = f"{runs.model(a)} vs {runs.model(b)}"
                    holds = runs.holds("over-represented in", pair, layer, concept)
                    flag = " (not checked)" if holds is None else "" if holds else " (flips)"
                names.append(f"'{text(concept)}'{flag}")
            out += f" Most over-represented in {text(model)}: " + ", ".join(names) + "."
    if runs is not None and out:
        out += " Unless marked, each is over-represented in the same model in every run."
    return out


def _stability_section(report: Report, runs: RunStability, models: list[str]) -> None:
    report.heading("Label stability: the same model, another run")
    rises = rises_with_similarity(runs.by_similarity)
    rows, said = [], []
    for label in models:
        model = runs.model(label)
        agreement = runs.layer_agreement(model)
        if agreement.empty:
            continue
        said.append(
            f"{text(model)}: "
            + ", ".join(
                f"{r.layer} {pct(r.same_label_rate)}" for r in agreement.itertuples(index=False)
            )
        )
        concepts = runs.concepts[runs.concepts["model"] == model]
        for r in agreement.itertuples(index=False):
            status = ConceptStatus.of(concepts[concepts["layer"] == r.layer])
            band = rises[(rises["model"] == model) & (rises["layer"] == r.layer)]
            rows.append(
                [
                    model,
                    r.layer,
                    f"{r.same_label} of {r.units} ({pct(r.same_label_rate)})",
                    ""
                    if r.layer == ALL_LAYERS
                    else f"{status.stable} / {status.partly} / {status.flips}",
                    f"{pct(band['lowest_band'].iloc[0])} → {pct(band['highest_band'].iloc[0])}"
                    if len(band)
                    else "n/a",
                ]
            )
    report.paragraph(
        "Running CLIP-Dissect again on other hardware does not give the same labels. The share "
        "of units whose label is the same in every run: " + "; ".join(said) + f". A concept is "
        f"{STABLE} when it labels the same units in every run, {PARTLY} when some of its "
        f"units keep it, and it {FLIPS} when no unit keeps it in every run."
    )
    report.table(
        rows,
        header=[
            "model",
            "layer",
            "same label",
            "concepts stable / partly / flip",
            "lowest → highest similarity quartile",
        ],
        col_widths=[w * cm for w in (4.0, 2.0, 3.4, 3.8, 4.2)],
        caption="Agreement by similarity: the share of units labelled alike among the quarter "
        "of the layer's units with the lowest similarity score of the analysed run, and among "
        "the quarter with the highest.",
    )
    sentence = (
        f"Agreement rises from the lowest to the highest similarity quartile in "
        f"{int(rises['rises'].sum())} of {len(rises)} model-layer rows: labels with a high "
        "similarity score are the ones to trust."
        if len(rises)
        else ""
    )
    headlines = runs.headlines
    if headlines.checks:
        flips = "; ".join(
            f"{text(r.finding)} ({text(r.model)}"
            + (f", {text(r.layer)}" if r.layer else "")
            + (f", '{text(r.subject)}'" if r.subject else "")
            + ")"
            for r in headlines.flips
        )
        sentence += (
            f" Of the {len(headlines.checks)} headline findings checked (top concepts, the trend "
            "of distinct concepts over the layers, which model has more distinct and more object "
            f"concepts, the over-represented concepts), {headlines.held} hold in every run"
            + (f"; flipping: {flips}" if flips else "")
            + "."
        )
    report.paragraph(sentence)


def _reference_section(report: Report, verdicts: pd.DataFrame) -> None:
    report.heading("These labels against the reference runs")
    found = ReferenceVerdict.rows(verdicts)
    rows = [[r.model, r.layer, r.ours(pct), pct(r.reference_self), r.word] for r in found]
    close = sum(r.as_close for r in found)
    report.paragraph(
        "The labels analysed here are compared unit by unit with each reference file of the same "
        "model and layer, and the reference files with each other: a run that agrees with the "
        "reference as much as the reference agrees with itself is as close as reruns of the "
        f"reference code can be. {close} of {len(found)} model-layer rows are as close."
    )
    report.table(
        rows,
        header=[
            "model",
            "layer",
            "same label as each reference",
            "references with each other",
            "verdict",
        ],
        col_widths=[w * cm for w in (4.6, 2.0, 4.0, 3.8, 2.6)],
    )
