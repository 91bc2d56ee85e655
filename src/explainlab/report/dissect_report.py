"""Report 1: network dissection (CLIP-Dissect) of an ImageNet and a Places365 model."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from reportlab.lib.units import cm

from explainlab.dissect.tables import most_over_represented
from explainlab.report.common import RunFacts, join_names, num, pct, read_csv
from explainlab.report.dissect_runs import AnalysisSources, RunStability
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


def build(facts: RunFacts, out: Path) -> Path:
    folder = stage_dir(facts.run_dir, "dissect") / "analysis"
    summary_md = (folder / "summary.md").read_text() if (folder / "summary.md").is_file() else ""
    sources = AnalysisSources.read(folder, summary_md)
    runs = RunStability.read(folder, sources)
    counts = pd.read_csv(folder / "concept_counts.csv")
    distinct = pd.read_csv(folder / "distinct_concepts.csv")
    overlap = read_csv(folder / "model_overlap.csv")
    over = read_csv(folder / "over_represented.csv")
    concentration = read_csv(folder / "concentration.csv")
    models = list(dict.fromkeys(distinct["model"]))
    layers = [layer for layer in ASSIGNMENT_LAYERS if layer in set(distinct["layer"])] or sorted(
        set(distinct["layer"]) - {"all layers"}
    )
    configured = facts.manifest.get("config", {}).get("dissect", {})

    report = facts.new_report(
        "Network dissection with CLIP-Dissect", "report 1", BANNERS.get(sources.kind, "")
    )
    caveat = " ".join(text(c) for c in sources.caveats)
    if sources.kind == "reference_runs":
        report.paragraph(
            "<b>What this report analyses.</b> This run could not dissect the models itself, so "
            "it analyses the labels of the reference CLIP-Dissect code's runs on the assignment's "
            f"own configuration, for {join_names([text(m) for m in models])}. {caveat}"
        )
    elif sources.kind == "published":
        if not caveat:  # an analysis made before sources.json: its note is in the summary
            note = next((x for x in summary_md.splitlines() if x.startswith("**Note:**")), "")
            caveat = text(note.replace("**Note:**", "").strip())
        report.paragraph(
            "<b>What this report analyses.</b> This run could not dissect the models itself (the "
            "CLIP weights, the ResNet18 weights or the Broden probe set were not available), so it "
            "analyses the labels the CLIP-Dissect authors published for "
            + join_names([text(m) for m in models])
            + ". "
            + caveat
        )
    else:
        report.paragraph(
            f"Every unit of {join_names(list(layers))} of {join_names([text(m) for m in models])} is labelled "
            f"with the concept whose CLIP text embedding best matches the unit's top-activating probe "
            f"images (CLIP-Dissect, similarity {text(configured.get('similarity', 'soft_wpmi'))}, concept set "
            f"{text(configured.get('concept_set', '20k'))}, CLIP {text(configured.get('clip_model', 'ViT-B-16'))}, "
            f"probe set {text(', '.join(configured.get('probe', ['broden'])))}"
            + (f", {configured['probe_limit']} images" if configured.get("probe_limit") else "")
            + ")."
        )
    if runs is not None:
        report.paragraph(
            "Each finding below is checked against the other runs of the same models "
            f"({_other_runs(runs, models)}): a finding that does not hold in every run is said to "
            "flip, and counts carry their run-to-run range in brackets."
        )

    report.heading("Concepts learned by most neurons")
    lines = []
    for model in models:
        per_layer = "; ".join(
            f"{layer}: {_top(counts, model, layer)}" + (runs.top_note(model, layer) if runs else "")
            for layer in layers
        )
        lines.append(f"<b>{text(model)}</b> ({_kind(model)}): {per_layer}.")
    report.bullets(lines)
    report.paragraph(_pattern_sentence(counts, models, layers, runs))

    report.heading("How many different concepts, and how many objects")
    rows, lines = [], []
    for model in models:
        for layer in [*layers, "all layers"]:
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
        last = distinct[(distinct["model"] == model) & (distinct["layer"] == layers[-1])]
        if len(last):
            r = last.iloc[0]
            concepts, objects, on_objects = (
                _ranged(runs, model, layers[-1], m, r)
                for m in ("distinct_concepts", "distinct_object", "units_object")
            )
            lines.append(
                f"{text(model)} uses {concepts} different concepts for its {int(r['units'])} "
                f"{layers[-1]} units, {objects} of them objects ({on_objects} units)"
            )
    report.paragraph(
        "; ".join(lines)
        + ". Objects are concepts in Broden's object category (see the caveat below)."
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
    comparison = _count_comparison(distinct, models, [*layers, "all layers"], runs)
    if comparison:
        report.paragraph(comparison)
    caveat = next((line for line in summary_md.splitlines() if line.startswith("Categories:")), "")
    if caveat:
        report.paragraph(f"<i>{text(caveat)}</i>")

    if overlap is not None and len(overlap) and len(models) >= 2:
        report.heading("ImageNet vs Places365")
        parts = []
        for layer in layers:
            r = overlap[overlap["layer"] == layer]
            if len(r):
                r = r.iloc[0]
                parts.append(
                    f"{layer}: {int(r['shared'])} shared concepts (Jaccard {num(r['jaccard'])})"
                )
        text_ = "Concepts both models use, per layer: " + "; ".join(parts) + "."
        if over is not None and len(over):
            text_ += _over_represented(over, models, runs)
        report.paragraph(text_)

    if runs is not None:
        _stability_section(report, runs, models)
    verdicts = read_csv(folder / "reference_verdicts.csv")
    if verdicts is not None and len(verdicts):
        _reference_section(report, verdicts)

    if concentration is not None and len(concentration):
        report.heading("Further analyses")
        bits = []
        for model in models:
            c = concentration[
                (concentration["model"] == model) & (concentration["layer"].isin(layers))
            ]
            if len(c):
                bits.append(
                    f"{text(model)}: normalised entropy of concept use "
                    + ", ".join(
                        f"{r['layer']} {num(r['normalized_entropy'])}" for _, r in c.iterrows()
                    )
                    + f"; the five most frequent concepts label {pct(c.iloc[-1]['top5_share'])} of {c.iloc[-1]['layer']}"
                )
        report.paragraph(
            "Concentration of concept use: "
            + "; ".join(bits)
            + ". Higher entropy means labels spread over more concepts."
        )

    for name, caption, height in (
        ("distinct_concepts.png", "Distinct concepts per layer, split by Broden category.", 10),
        ("model_overlap.png", "Shared and model-specific concepts per layer.", 10),
        ("over_represented.png", "Concepts most over-represented in each model.", 10),
        ("similarity.png", "Similarity scores of the labels per layer.", 10),
        # a tall table of numbers: at 10 cm its labels would shrink below print size
        ("concept_layer_heatmap.png", "Units per concept and layer, most frequent concepts.", 17),
        ("concentration.png", "Concentration of concept use per layer.", 10),
        (
            "label_stability.png",
            "Label stability: units labelled alike by every run of a model, overall and by "
            "quartile of the similarity score.",
            10,
        ),
        (
            "published_agreement.png",
            "Agreement of the labels analysed with each reference file of the same model.",
            10,
        ),
    ):
        if (folder / name).is_file():
            report.figure(folder / name, caption=caption, max_height=height * cm)
    for path in sorted(folder.glob("top_concepts_*.png")):
        report.figure(
            path, caption="Concepts learned by most neurons, per layer.", max_height=11 * cm
        )
    for path in sorted(folder.glob("montage*.png")) + sorted(folder.glob("montages/*.png")):
        report.figure(
            path,
            caption=f"Top-activating probe images of units labelled with frequent concepts ({text(path.stem)}).",
            max_height=10 * cm,
        )
    return report.save(out)


PATTERN_WORDS = frozenset(
    {
        "dotted",
        "dots",
        "striped",
        "stripes",
        "stripe",
        "checker",
        "checkered",
        "grid",
        "lattice",
        "zigzagged",
        "textile",
        "blue",
        "red",
        "green",
        "yellow",
        "black",
        "white",
        "darkness",
        "magenta",
    }
)


def _pattern_words(counts: pd.DataFrame, models: list[str], layer: str) -> int:
    """How many models' most frequent concept in ``layer`` is a pattern or colour word."""
    top = counts[(counts["layer"] == layer) & (counts["rank"] == 1) & counts["model"].isin(models)]
    return int(top["concept"].str.lower().isin(PATTERN_WORDS).sum())


def _ranged(runs: RunStability | None, model: str, layer: str, measure: str, row) -> str:
    """A count of ``row`` in running text, with its run-to-run range when there are runs."""
    value = int(row[measure])
    if runs is None:
        return str(value)
    return runs.count(model, layer, measure, value).replace(" (", " [runs: ").replace(")", "]")


def _other_runs(runs: RunStability, models: list[str]) -> str:
    return "; ".join(f"{text(m)}: " + ", ".join(f"run {r}" for r in runs.others(m)) for m in models)


def _pattern_sentence(
    counts: pd.DataFrame, models: list[str], layers: list[str], runs: RunStability | None
) -> str:
    first, last = layers[0], layers[-1]
    sentence = (
        f"The most frequent concept is a pattern or colour word (dotted, striped, checkered, grid, "
        f"a colour ...) for {_pattern_words(counts, models, first)} of the {len(models)} models "
        f"in {first} and for {_pattern_words(counts, models, last)} in {last}"
    )
    if runs is None:
        return sentence + "."
    per_run = {
        r: tuple(
            sum(c.lower() in PATTERN_WORDS for c in runs.top_concepts(x).get(r, []))
            for x in (first, last)
        )
        for r in runs.replicate_names()
    }
    if len(set(per_run.values())) == 1:
        return sentence + " — in every run."
    return (
        sentence
        + "; this flips between the runs ("
        + "; ".join(f"run {r}: {a} and {b}" for r, (a, b) in per_run.items())
        + ")."
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
            if runs is not None:
                pair = next(
                    (p for p in pairs if not runs.values(f"more {what}", p, layer).empty), ""
                )
                if pair:
                    held = runs.values(f"more {what}", pair, layer)
                    bit += (
                        ""
                        if bool(held["holds"].iloc[0])
                        else " (flips: "
                        + "; ".join(
                            f"run {r.replicate}: {r.value}" for r in held.itertuples(index=False)
                        )
                        + ")"
                    )
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
        bands = runs.by_similarity[runs.by_similarity["model"] == model]
        for r in agreement.itertuples(index=False):
            status = concepts[concepts["layer"] == r.layer]["status"].value_counts()
            band = bands[bands["layer"] == r.layer].sort_values("band")["same_label_rate"]
            rows.append(
                [
                    model,
                    r.layer,
                    f"{r.same_label} of {r.units} ({pct(r.same_label_rate)})",
                    ""
                    if r.layer == "all layers"
                    else f"{status.get('stable', 0)} / {status.get('partly stable', 0)} / {status.get('flips', 0)}",
                    f"{pct(band.iloc[0])} → {pct(band.iloc[-1])}" if len(band) else "n/a",
                ]
            )
    report.paragraph(
        "Running CLIP-Dissect again on other hardware does not give the same labels. The share "
        "of units whose label is the same in every run: " + "; ".join(said) + ". A concept is "
        "stable when it labels the same units in every run, partly stable when some of its "
        "units keep it, and it flips when no unit keeps it in every run."
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
    rises = runs.by_similarity.groupby(["model", "layer"], sort=False)["same_label_rate"].agg(
        lambda r: r.iloc[-1] > r.iloc[0]
    )
    keys = runs.findings.drop_duplicates(["finding", "model", "layer", "subject"])
    flips = keys[~keys["holds"].astype(bool)]
    sentence = (
        f"Agreement rises from the lowest to the highest similarity quartile in {int(rises.sum())} "
        f"of {len(rises)} model-layer rows: labels with a high similarity score are the ones to trust."
        if len(rises)
        else ""
    )
    if len(keys):
        sentence += (
            f" Of the {len(keys)} headline findings checked (top concepts, the trend of distinct "
            "concepts over the layers, which model has more distinct and more object concepts, "
            f"the over-represented concepts), {len(keys) - len(flips)} hold in every run"
            + (
                "; flipping: "
                + "; ".join(
                    f"{text(r.finding)} ({text(r.model)}"
                    + (f", {text(r.layer)}" if r.layer else "")
                    + (f", '{text(r.subject)}'" if r.subject else "")
                    + ")"
                    for r in flips.itertuples(index=False)
                )
                if len(flips)
                else ""
            )
            + "."
        )
    report.paragraph(sentence)


def _reference_section(report: Report, verdicts: pd.DataFrame) -> None:
    report.heading("These labels against the reference runs")
    rows = [
        [
            r.model,
            r.layer,
            pct(r.ours_min) if r.ours_min == r.ours_max else f"{pct(r.ours_min)}–{pct(r.ours_max)}",
            pct(r.reference_self),
            "as close" if r.as_close else "less close",
        ]
        for r in verdicts.itertuples(index=False)
    ]
    close = int(verdicts["as_close"].sum())
    report.paragraph(
        "The labels analysed here are compared unit by unit with each reference file of the same "
        "model and layer, and the reference files with each other: a run that agrees with the "
        "reference as much as the reference agrees with itself is as close as reruns of the "
        f"reference code can be. {close} of {len(verdicts)} model-layer rows are as close."
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
