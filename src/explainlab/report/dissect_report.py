"""Report 1: network dissection (CLIP-Dissect) of an ImageNet and a Places365 model."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from reportlab.lib.units import cm

from explainlab.report.common import RunFacts, join_names, num, pct, read_csv
from explainlab.report.pdf import text
from explainlab.stages import stage_dir

ASSIGNMENT_LAYERS = ("layer2", "layer3", "layer4")


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
    published = "PUBLISHED" in summary_md or "(published)" in summary_md
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

    banner = (
        "PUBLISHED CLIP-Dissect RESULTS ANALYSED — labels not computed in this run"
        if published
        else ""
    )
    report = facts.new_report("Network dissection with CLIP-Dissect", "report 1", banner)
    if published:
        note = next((line for line in summary_md.splitlines() if line.startswith("**Note:**")), "")
        report.paragraph(
            "<b>What this report analyses.</b> This run could not dissect the models itself (the "
            "CLIP weights, the ResNet18 weights or the Broden probe set were not available), so it "
            "analyses the labels the CLIP-Dissect authors published for "
            + join_names([text(m) for m in models])
            + ". "
            + text(note.replace("**Note:**", "").strip())
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

    report.heading("Concepts learned by most neurons")
    lines = []
    for model in models:
        per_layer = "; ".join(f"{layer}: {_top(counts, model, layer)}" for layer in layers)
        lines.append(f"<b>{text(model)}</b> ({_kind(model)}): {per_layer}.")
    report.bullets(lines)
    first, last = (
        _pattern_words(counts, models, layers[0]),
        _pattern_words(counts, models, layers[-1]),
    )
    report.paragraph(
        f"The most frequent concept is a pattern or colour word (dotted, striped, checkered, grid, "
        f"a colour ...) for {first} of the {len(models)} models in {layers[0]} and for {last} in "
        f"{layers[-1]}."
    )

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
                        str(int(r["distinct_concepts"])),
                        str(int(r["distinct_object"])),
                        str(int(r["units_object"])),
                        str(int(r["distinct_scene"])),
                        str(int(r["distinct_other"])),
                    ]
                )
        last = distinct[(distinct["model"] == model) & (distinct["layer"] == layers[-1])]
        if len(last):
            r = last.iloc[0]
            lines.append(
                f"{text(model)} uses {int(r['distinct_concepts'])} different concepts for its "
                f"{int(r['units'])} {layers[-1]} units, {int(r['distinct_object'])} of them objects "
                f"({int(r['units_object'])} units)"
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
        col_widths=[w * cm for w in (4.4, 1.9, 1.4, 2.0, 1.7, 2.0, 1.6, 1.4)],
    )
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
            every = over[over["layer"] == "all layers"]
            for model in models:
                favoured = (
                    every[every["favours"] == model]
                    .sort_values("log2_ratio", ascending=False)
                    .head(5)
                )
                if len(favoured):
                    text_ += (
                        f" Most over-represented in {text(model)}: "
                        + ", ".join(f"'{text(c)}'" for c in favoured["concept"])
                        + "."
                    )
        report.paragraph(text_)

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
