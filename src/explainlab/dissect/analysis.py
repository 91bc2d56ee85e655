"""``explainlab dissect analyze``: tables, figures and a summary from descriptions.csv files.

Works on any ``layer,unit,description[,similarity]`` file, ours or the published
CLIP-Dissect results. Outputs go to ``<out>/`` (default ``<run>/dissect/analysis/``)
through a resumable ``runfolder.Stage``, so a half-written analysis never replaces a
complete one:

    *.csv                 the tables (see ``tables.py``)
    *.png                 the figures (see ``figures.py``), montages when possible
    summary.md            the findings in sentences generated from the tables
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from explainlab import assets, runfolder
from explainlab.dissect import figures, tables
from explainlab.dissect.categories import CategoryMap, load_category_map
from explainlab.dissect.montage import make_montages
from explainlab.dissect.summary import SummaryInputs, write_summary
from explainlab.errors import AssetError, InputError


@dataclass
class AnalysisOutcome:
    folder: Path
    tables: dict[str, Path] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)
    montages: list[Path] = field(default_factory=list)
    summary: Path | None = None
    skipped: bool = False


def class_names() -> dict[str, list[str]]:
    """Class names in class order, for the fc check: CLIP-Dissect's imagenet_labels.txt
    (with synonyms) or torchvision's names; the CSAIL Places365 list."""
    from explainlab.models import labels

    names: dict[str, list[str]] = {}
    try:
        path = assets.fetch("imagenet_labels.txt", allow_download=False)
        names["imagenet"] = [
            x.strip() for x in path.read_text(encoding="utf-8").splitlines() if x.strip()
        ]
    except AssetError:
        names["imagenet"] = labels.imagenet_labels()
    with contextlib.suppress(AssetError):
        names["places365"] = labels.places365_labels(
            assets.fetch("categories_places365.txt", allow_download=False)
        )
    return names


def _label_notes(inputs: Sequence[tables.Descriptions], caveats: Sequence[str]) -> str:
    notes = list(dict.fromkeys([*caveats, *[n for d in inputs for n in d.notes]]))
    return " ".join(notes)


def analyze(
    paths: Sequence[Path | str],
    out: Path,
    *,
    names: Sequence[str] | None = None,
    published: Sequence[Path | str] = (),
    title: str = "CLIP-Dissect analysis",
    caveats: Sequence[str] = (),
    category_map: CategoryMap | None = None,
    montage_concepts: int = 4,
    force: bool = False,
) -> AnalysisOutcome:
    if not paths:
        raise InputError(
            "no descriptions.csv given", hint="give one or more descriptions.csv files"
        )
    if names and len(names) != len(paths):
        raise InputError(
            f"{len(names)} names for {len(paths)} files", hint="give one name per file"
        )
    inputs = [
        tables.read_descriptions(Path(p), names[i] if names else None) for i, p in enumerate(paths)
    ]
    labels = [d.label for d in inputs]
    if len(set(labels)) != len(labels):
        raise InputError(
            f"two inputs have the same name ({', '.join(labels)})", hint="name them with --names"
        )
    refs = [tables.read_descriptions(Path(p), source="published") for p in published]
    out = Path(out)
    stage = runfolder.Stage(
        out.parent,
        out.name,
        {
            "inputs": [[d.label, str(d.path), assets.file_digest(d.path)] for d in inputs],
            "published": [[d.label, str(d.path), assets.file_digest(d.path)] for d in refs],
            "title": title,
            "caveats": list(caveats),
            "montage_concepts": montage_concepts,
            "version": 1,
        },
    )
    if stage.complete and not force:
        return AnalysisOutcome(stage.final, summary=stage.final / "summary.md", skipped=True)

    cmap = category_map or load_category_map()
    note = _label_notes(inputs, caveats)
    outcome = AnalysisOutcome(stage.final)
    counts = tables.concept_counts(inputs)
    distinct = tables.distinct_concepts(inputs, cmap)
    categories = tables.concept_categories(inputs, cmap)
    conc = tables.concentration(inputs)
    sim = tables.similarity_stats(inputs)
    overlap, shared = tables.model_overlap(inputs)
    over = tables.over_represented(inputs)
    matrix = tables.concept_layer_matrix(inputs)
    agreement, agreement_units = tables.published_agreement(inputs, refs, cmap)
    fc = tables.fc_accuracy(inputs, class_names())

    with stage.finishing() as folder:
        frames: dict[str, pd.DataFrame] = {
            "concept_counts.csv": counts,
            "distinct_concepts.csv": distinct,
            "concept_categories.csv": categories,
            "concentration.csv": conc,
            "similarity_stats.csv": sim,
            "model_overlap.csv": overlap,
            "shared_concepts.csv": shared,
            "over_represented.csv": over,
            "concept_layer_matrix.csv": matrix.reset_index(),
            "published_agreement.csv": agreement,
            "published_agreement_units.csv": agreement_units,
            "fc_accuracy.csv": fc,
        }
        for name, frame in frames.items():
            outcome.tables[name] = runfolder.write_csv(folder / name, frame)

        made: dict[str, Path | None] = {}
        for d in inputs:
            made[f"top_concepts_{d.name}.png"] = figures.top_concepts_figure(
                counts, d.label, folder / f"top_concepts_{d.name}.png", note=note
            )
        made["distinct_concepts.png"] = figures.distinct_figure(
            distinct, folder / "distinct_concepts.png", note
        )
        made["similarity.png"] = figures.similarity_figure(inputs, folder / "similarity.png", note)
        made["concept_layer_heatmap.png"] = figures.heatmap_figure(
            matrix, folder / "concept_layer_heatmap.png", note
        )
        made["concentration.png"] = figures.concentration_figure(
            conc, folder / "concentration.png", note
        )
        made["model_overlap.png"] = figures.overlap_figure(
            overlap, folder / "model_overlap.png", note
        )
        made["over_represented.png"] = figures.over_represented_figure(
            over, folder / "over_represented.png", note=note
        )
        made["published_agreement.png"] = figures.agreement_figure(
            agreement, folder / "published_agreement.png", note
        )
        outcome.figures = {k: v for k, v in made.items() if v is not None}

        montage_notes: list[str] = []
        for d in inputs:
            result = make_montages(d, counts, folder, concepts=montage_concepts)
            outcome.montages.extend(result.paths)
            if result.reason:
                montage_notes.append(f"not made for {result.reason}")
            if result.missing_images:
                montage_notes.append(
                    f"{d.label}: {result.missing_images} probe images could not be opened (grey)"
                )
        files = [*outcome.tables, *outcome.figures]
        text = write_summary(
            SummaryInputs(
                inputs,
                refs,
                cmap,
                counts,
                distinct,
                categories,
                conc,
                sim,
                overlap,
                over,
                agreement,
                fc,
                montages=[p.name for p in outcome.montages],
                montage_notes=montage_notes,
                files=files,
                caveats=list(caveats),
            ),
            title,
        )
        outcome.summary = runfolder.write_text(folder / "summary.md", text)
    # the stage folder was renamed into place: point at the final files
    outcome.tables = {k: stage.final / k for k in outcome.tables}
    outcome.figures = {k: stage.final / k for k in outcome.figures}
    outcome.montages = [stage.final / p.name for p in outcome.montages]
    outcome.summary = stage.final / "summary.md"
    return outcome


def published_paths() -> list[Path]:
    """The published CLIP-Dissect results of the registry (mirror or download)."""
    found = assets.fetch_many(tables.PUBLISHED_FILES)
    return [found[name] for name in tables.PUBLISHED_FILES]


def analyze_published(
    run_dir: Path, reason: str = "", *, out: Path | None = None, force: bool = False
) -> AnalysisOutcome:
    """The offline fallback: analyse the published CLIP-Dissect results (ResNet50 on
    ImageNet, ResNet18 on Places365) under ``<run>/dissect/analysis/``, labelled as such."""
    caveat = (
        "These are the PUBLISHED CLIP-Dissect results of Oikarinen & Weng (ResNet50 ImageNet "
        "and ResNet18 Places365, probe set ImageNet val + Broden, concept set 20k), not "
        "labels computed here"
        + (f": {reason}" if reason else "")
        + ". The two models differ in architecture as well as training data."
    )
    return analyze(
        published_paths(),
        out or Path(run_dir) / "dissect" / "analysis",
        title="CLIP-Dissect analysis of the published results",
        caveats=[caveat],
        force=force,
    )


def analyze_run(
    run_dir: Path,
    *,
    published: Sequence[Path] = (),
    out: Path | None = None,
    force: bool = False,
) -> AnalysisOutcome:
    """Analyse every model dissected under ``<run>/dissect/`` (and compare with published
    results of the same models, when given)."""
    found = sorted(Path(run_dir).glob("dissect/*/descriptions.csv"))
    found = [p for p in found if p.parent.name != "analysis"]
    if not found:
        raise InputError(
            f"{run_dir}: no dissect/<model>/descriptions.csv",
            hint="run 'explainlab dissect run' first, or give descriptions.csv files",
        )
    out = out or Path(run_dir) / "dissect" / "analysis"
    return analyze(found, out, published=published, force=force)
