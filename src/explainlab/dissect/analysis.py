"""``explainlab dissect analyze``: tables, figures and a summary from descriptions.csv files.

Works on any ``layer,unit,description[,similarity]`` file, ours, the published
CLIP-Dissect results or the reference code's runs on the assignment's configuration.
Several runs of a model (``runs``) add its label stability; reference files of the
same model (``published``) are compared with the labels analysed and with each other.
Outputs go to ``<out>/`` (default ``<run>/dissect/analysis/``) through a resumable
``runfolder.Stage``, so a half-written analysis never replaces a complete one:

    *.csv                 the tables (see ``tables.py``, ``stability.py``)
    *.png                 the figures (see ``figures.py``), montages when possible
    findings.json         the findings, one typed record computed from the tables
    summary.md            that record rendered in markdown, with the tables' numbers
    sources.json          what was analysed (KINDS), its caveats, the runs of each model
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from explainlab import assets, runfolder
from explainlab.dissect import figures, progression, stability, statements, tables
from explainlab.dissect.categories import CategoryMap, load_category_map
from explainlab.dissect.montage import make_montages
from explainlab.dissect.summary import SummaryInputs, write_summary
from explainlab.dissect.wordnet import WordNetCategories, load_wordnet_categories
from explainlab.errors import AssetError, InputError, MissingAssetsError
from explainlab.stages import stage_dir

# what an analysis is of (sources.json's "kind"; the report's banner follows it)
KINDS = ("files", "computed", "reference_runs", "published")


@dataclass(kw_only=True)
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


@dataclass(kw_only=True)
class _Computed:
    """Every table of one analysis, computed before anything is written."""

    counts: pd.DataFrame
    distinct: pd.DataFrame
    categories: pd.DataFrame
    concentration: pd.DataFrame
    similarity: pd.DataFrame
    overlap: pd.DataFrame
    shared: pd.DataFrame
    over: pd.DataFrame
    matrix: pd.DataFrame
    agreement: pd.DataFrame
    agreement_units: pd.DataFrame
    self_agreement: pd.DataFrame
    verdicts: pd.DataFrame
    fc: pd.DataFrame
    groups: list[stability.RunGroup]
    stable: stability.StabilityTables | None
    shares: pd.DataFrame  # on WordNet's categories, as the trend and the contrast
    top: pd.DataFrame  # concept_count_ranges.csv

    def frames(self) -> dict[str, pd.DataFrame]:
        frames = {
            "concept_counts.csv": self.counts,
            "distinct_concepts.csv": self.distinct,
            "concept_categories.csv": self.categories,
            "concentration.csv": self.concentration,
            "similarity_stats.csv": self.similarity,
            "model_overlap.csv": self.overlap,
            "shared_concepts.csv": self.shared,
            "over_represented.csv": self.over,
            "concept_layer_matrix.csv": self.matrix.reset_index(),
            "published_agreement.csv": self.agreement,
            "published_agreement_units.csv": self.agreement_units,
            "fc_accuracy.csv": self.fc,
            "category_shares.csv": self.shares,
            "category_coverage.csv": progression.coverage(self.shares),
            "concept_count_ranges.csv": self.top,
            "category_trend.csv": progression.category_trend(self.shares),
            "category_contrast.csv": progression.category_contrast(self.shares),
        }
        if self.stable is not None:
            frames |= self.stable.frames()
        if not self.self_agreement.empty:
            frames["reference_self_agreement.csv"] = self.self_agreement
            frames["reference_verdicts.csv"] = self.verdicts
        return frames


def analyze(
    paths: Sequence[Path | str],
    out: Path,
    *,
    names: Sequence[str] | None = None,
    published: Sequence[Path | str] = (),
    runs: Sequence[Path | str] = (),
    title: str = "CLIP-Dissect analysis",
    caveats: Sequence[str] = (),
    kind: str = "files",
    category_map: CategoryMap | None = None,
    wordnet: WordNetCategories | None = None,
    montage_concepts: int = 4,
    force: bool = False,
) -> AnalysisOutcome:
    """Analyse the descriptions.csv files ``paths`` (one per model) into ``out``.

    ``category_map``: Broden's categories (the distinct objects); ``wordnet``: WordNet's
    (the category shares, trend and contrast), read from the installed WordNet if None.

    ``runs``: further runs of the models of ``paths``, for their label stability.
    ``published``: reference labels of the same models, compared unit by unit with
    those of ``paths`` and, two or more of a model, with each other. ``kind`` (one of
    :data:`KINDS`) and ``caveats`` say what the labels are, in the summary and the report."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    inputs, more_runs, refs = _read_inputs(paths, names, runs, published)
    out = Path(out)
    stage = runfolder.Stage(
        out.parent,
        out.name,
        {
            "inputs": [[d.label, str(d.path), assets.file_digest(d.path)] for d in inputs],
            "runs": [[d.label, str(d.path), assets.file_digest(d.path)] for d in more_runs],
            "published": [[d.label, str(d.path), assets.file_digest(d.path)] for d in refs],
            "title": title,
            "caveats": list(caveats),
            "kind": kind,
            "montage_concepts": montage_concepts,
            "version": 5,
        },
    )
    if force:
        stage.reset()
    if stage.complete and not force:
        return AnalysisOutcome(folder=stage.final, summary=stage.final / "summary.md", skipped=True)

    cmap = category_map or load_category_map()
    computed = _compute(inputs, more_runs, refs, cmap, wordnet or load_wordnet_categories())
    note = _label_notes(inputs, caveats)
    outcome = AnalysisOutcome(folder=stage.final)
    frames = computed.frames()
    runs_of = {g.model: g.names for g in computed.groups if len(g.runs) > 1}
    findings = statements.state(
        frames,
        title=title,
        kind=kind,
        caveats=caveats,
        models={d.label: d.model for d in inputs},
        runs=runs_of,
        category_sources=cmap.notes,
    )
    with stage.finishing() as folder:
        for name, frame in frames.items():
            outcome.tables[name] = runfolder.write_csv(folder / name, frame)
        outcome.figures = _figures(folder, inputs, computed, note)
        montage_notes = _montages(folder, inputs, computed.counts, montage_concepts, outcome)
        findings.write(folder)
        summary_inputs = SummaryInputs(
            findings=findings,
            inputs=inputs,
            published=refs,
            distinct=computed.distinct,
            concentration=computed.concentration,
            similarity=computed.similarity,
            overlap=computed.overlap,
            agreement=computed.agreement,
            fc=computed.fc,
            stability=computed.stable,
            self_agreement=computed.self_agreement,
            montages=[p.name for p in outcome.montages],
            montage_notes=montage_notes,
            files=[*outcome.tables, *outcome.figures],
        )
        runfolder.write_text(folder / "summary.md", write_summary(summary_inputs, title))
        runfolder.write_json(
            folder / "sources.json",
            {
                "kind": kind,
                "title": title,
                "caveats": list(caveats),
                "models": [{"label": d.label, "model": d.model, "run": d.run} for d in inputs],
                "runs": runs_of,
                "references": [d.label for d in refs],
            },
        )
    # the stage folder was renamed into place: point at the final files
    outcome.tables = {k: stage.final / k for k in outcome.tables}
    outcome.figures = {k: stage.final / k for k in outcome.figures}
    outcome.montages = [stage.final / p.name for p in outcome.montages]
    outcome.summary = stage.final / "summary.md"
    return outcome


def _read_inputs(
    paths: Sequence[Path | str],
    names: Sequence[str] | None,
    runs: Sequence[Path | str],
    published: Sequence[Path | str],
) -> tuple[list[tables.Descriptions], list[tables.Descriptions], list[tables.Descriptions]]:
    """The models' labels, their further runs and the reference labels, checked."""
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
    given = [Path(p).resolve() for p in [*paths, *runs]]
    twice = sorted({str(p) for p in given if given.count(p) > 1})
    if twice:
        raise InputError(f"given twice: {', '.join(twice)}", hint="give each run of a model once")
    more_runs = [tables.read_descriptions(Path(p)) for p in runs]
    _check_runs(inputs, more_runs)
    refs = [tables.read_descriptions(Path(p), source=_reference_source(p)) for p in published]
    return inputs, more_runs, refs


def _compute(
    inputs: list[tables.Descriptions],
    more_runs: list[tables.Descriptions],
    refs: list[tables.Descriptions],
    cmap: CategoryMap,
    wordnet: WordNetCategories,
) -> _Computed:
    overlap, shared = tables.model_overlap(inputs)
    agreement, agreement_units = tables.published_agreement(inputs, refs, cmap)
    self_agreement = stability.reference_self_agreement(refs)
    groups = stability.with_runs(inputs, more_runs)
    return _Computed(
        counts=tables.concept_counts(inputs),
        distinct=tables.distinct_concepts(inputs, cmap),
        categories=tables.concept_categories(inputs, cmap, wordnet),
        concentration=tables.concentration(inputs),
        similarity=tables.similarity_stats(inputs),
        overlap=overlap,
        shared=shared,
        over=tables.over_represented(inputs),
        matrix=tables.concept_layer_matrix(inputs),
        agreement=agreement,
        agreement_units=agreement_units,
        self_agreement=self_agreement,
        verdicts=stability.reference_verdicts(agreement, self_agreement),
        fc=tables.fc_accuracy(inputs, class_names()),
        groups=groups,
        stable=stability.measure_stability(groups, cmap),
        shares=progression.category_shares(groups, wordnet),
        top=stability.concept_count_ranges(groups),
    )


def _figures(
    folder: Path, inputs: list[tables.Descriptions], c: _Computed, note: str
) -> dict[str, Path]:
    made: dict[str, Path | None] = {}
    for d in inputs:
        made[f"top_concepts_{d.name}.png"] = figures.top_concepts_figure(
            c.counts, d.label, folder / f"top_concepts_{d.name}.png", note=note
        )
    made["category_shares.png"] = figures.category_figure(
        c.shares, c.top, folder / "category_shares.png"
    )
    made["distinct_concepts.png"] = figures.distinct_figure(
        c.distinct, folder / "distinct_concepts.png", note
    )
    made["similarity.png"] = figures.similarity_figure(inputs, folder / "similarity.png", note)
    made["concept_layer_heatmap.png"] = figures.heatmap_figure(
        c.matrix, folder / "concept_layer_heatmap.png", note
    )
    made["concentration.png"] = figures.concentration_figure(
        c.concentration, folder / "concentration.png", note
    )
    made["model_overlap.png"] = figures.overlap_figure(
        c.overlap, folder / "model_overlap.png", note
    )
    made["over_represented.png"] = figures.over_represented_figure(
        c.over, folder / "over_represented.png", note=note
    )
    made["published_agreement.png"] = figures.agreement_figure(
        c.agreement, folder / "published_agreement.png", note, c.verdicts
    )
    if c.stable is not None:
        made["label_stability.png"] = figures.stability_figure(
            c.stable.agreement, c.stable.by_similarity, folder / "label_stability.png", note
        )
    return {k: v for k, v in made.items() if v is not None}


def _montages(
    folder: Path,
    inputs: list[tables.Descriptions],
    counts: pd.DataFrame,
    concepts: int,
    outcome: AnalysisOutcome,
) -> list[str]:
    """Each model's neuron montages into ``folder``; notes on what could not be made."""
    notes: list[str] = []
    for d in inputs:
        result = make_montages(d, counts, folder, concepts=concepts)
        outcome.montages.extend(result.paths)
        if result.reason:
            notes.append(f"not made for {result.reason}")
        if result.missing_images:
            notes.append(
                f"{d.label}: {result.missing_images} probe images could not be opened (grey)"
            )
    return notes


def _reference_source(path: Path | str) -> str:
    """Reference labels are published, except the reference code's runs (named as such)."""
    return "reference" if Path(path).name in tables.REFERENCE_RUN_FILES else "published"


def _check_runs(inputs: Sequence[tables.Descriptions], runs: Sequence[tables.Descriptions]):
    models = {d.model for d in inputs}
    for d in runs:
        if d.model not in models:
            raise InputError(
                f"{d.path}: a run of {d.model}, which none of the files analysed is "
                f"({', '.join(sorted(models))})",
                hint="give each model's main run as a file to analyse and its other runs "
                "with --runs, or give all runs with --runs alone",
            )


def collect_runs(items: Sequence[Path | str]) -> list[Path]:
    """The descriptions.csv files of ``items``: files as given, folders by their ``*.csv``
    files in name order."""
    found: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            files = sorted(item.glob("*.csv"))
            if not files:
                raise InputError(
                    f"{item}: a folder without .csv files",
                    hint="give a folder of descriptions CSV files (one per run), or the files",
                )
            found.extend(files)
        else:
            found.append(item)
    return found


def analyze_runs(
    items: Sequence[Path | str],
    out: Path,
    *,
    published: Sequence[Path | str] = (),
    title: str = "CLIP-Dissect analysis of several runs",
    caveats: Sequence[str] = (),
    kind: str = "files",
    montage_concepts: int = 4,
    force: bool = False,
) -> AnalysisOutcome:
    """Analyse several runs of one or more models (files, or folders of them): each
    model's first run is the one analysed, and all its runs give its label stability."""
    paths = collect_runs(items)
    if len(paths) < 2:
        raise InputError(
            f"{len(paths)} run given ({', '.join(map(str, paths)) or 'none'})",
            hint="give at least two runs of the same model",
        )
    groups = stability.group_runs([tables.read_descriptions(p) for p in paths])
    if all(len(g.runs) < 2 for g in groups):
        raise InputError(
            "no model has two runs among " + ", ".join(map(str, paths)),
            hint="runs are grouped by model name (<model>_run_<id>.csv, or "
            "<run>/dissect/<model>/descriptions.csv): give two runs of one model",
        )
    return analyze(
        [g.main.path for g in groups],
        out,
        runs=[d.path for g in groups for d in g.runs[1:]],
        published=published,
        title=title,
        caveats=caveats,
        kind=kind,
        montage_concepts=montage_concepts,
        force=force,
    )


def published_paths() -> list[Path]:
    """The published CLIP-Dissect results of the registry (mirror or download)."""
    found = assets.fetch_many(tables.PUBLISHED_FILES)
    return [found[name] for name in tables.PUBLISHED_FILES]


def analyze_published(
    run_dir: Path, reason: str = "", *, out: Path | None = None, force: bool = False
) -> AnalysisOutcome:
    """Analyse the published CLIP-Dissect results (ResNet50 on ImageNet, ResNet18 on
    Places365) under ``<run>/dissect/analysis/``, labelled as such: a comparison with a
    bigger ImageNet model than the assignment's."""
    caveat = (
        "These are the PUBLISHED CLIP-Dissect results of Oikarinen & Weng (ResNet50 ImageNet "
        "and ResNet18 Places365, probe set ImageNet val + Broden, concept set 20k), not "
        "labels computed here"
        + (f": {reason}" if reason else "")
        + ". The two models differ in architecture as well as training data."
    )
    return analyze(
        published_paths(),
        out or stage_dir(run_dir, "dissect") / "analysis",
        title="CLIP-Dissect analysis of the published results",
        caveats=[caveat],
        kind="published",
        force=force,
    )


def reference_run_paths(models: Sequence[str] | None = None) -> list[Path]:
    """The reference code's runs on the assignment's configuration (registry: mirror or
    download), run a first; only those of ``models`` (canonical names) when given."""
    names = [
        n for n in tables.REFERENCE_RUN_FILES if models is None or tables.model_of(n) in set(models)
    ]
    found = assets.fetch_many(names)
    return [found[name] for name in names]


REFERENCE_CAVEAT = (
    "These labels come from two runs of the reference CLIP-Dissect code on the assignment's "
    "configuration (Broden probes, 20k concepts, CLIP ViT-B/16, soft_wpmi), run a on a GPU "
    "(analysed) and run b on a CPU (for the label stability), not computed here{reason}."
)


def analyze_reference_runs(
    run_dir: Path, reason: str = "", *, out: Path | None = None, force: bool = False
) -> AnalysisOutcome:
    """The offline fallback: analyse the reference code's runs of the assignment's two
    models under ``<run>/dissect/analysis/`` (run a as the main one, run b for the label
    stability), labelled as such."""
    return analyze_runs(
        reference_run_paths(),
        out or stage_dir(run_dir, "dissect") / "analysis",
        title="CLIP-Dissect analysis of the reference runs",
        caveats=[REFERENCE_CAVEAT.format(reason=f": {reason}" if reason else "")],
        kind="reference_runs",
        force=force,
    )


def analyze_run(
    run_dir: Path,
    *,
    published: Sequence[Path] = (),
    out: Path | None = None,
    force: bool = False,
) -> AnalysisOutcome:
    """Analyse every model dissected under ``<run>/dissect/``, comparing its labels with
    published ones of the same model (``published``) and with the reference code's runs
    of the same model where there are any (fetched; left out, with a note, if missing)."""
    found = sorted(Path(run_dir).glob("dissect/*/descriptions.csv"))
    found = [p for p in found if p.parent.name != "analysis"]
    if not found:
        raise InputError(
            f"{run_dir}: no dissect/<model>/descriptions.csv",
            hint="run 'explainlab dissect run' first, or give descriptions.csv files",
        )
    models = {tables.model_of(p.parent.name) for p in found}
    references: list[Path] = []
    try:
        references = reference_run_paths(sorted(models))
    except MissingAssetsError as exc:
        print(
            f"the reference runs ({', '.join(exc.names)}) are not available: these labels are "
            "not judged against them",
            file=sys.stderr,
        )
    given = {Path(p).resolve() for p in published}
    extra = [p for p in references if p.resolve() not in given]
    out = out or stage_dir(run_dir, "dissect") / "analysis"
    return analyze(found, out, published=[*published, *extra], kind="computed", force=force)
