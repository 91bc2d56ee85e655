"""The rules that state an analysis's findings from its tables, into one
:class:`~explainlab.dissect.findings.DissectFindings`: the headline findings (the move from
low-level to high-level concepts over the layers, the difference a scene-trained model
makes, the distinct objects each model learned, how stable the labels are from one run of
CLIP-Dissect to another) and the statements beside the tables. A rule whose numbers do
not support its claim (a change inside the run-to-run spread, overlapping ranges) says so
instead. The tables are given under their file names, in memory or read back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from explainlab.dissect.categories import SOURCE_NOT_BRODEN, SOURCE_UNKNOWN
from explainlab.dissect.figures import model_name
from explainlab.dissect.findings import (
    ConceptStatus,
    DissectFindings,
    Finding,
    Headlines,
    ReferenceVerdict,
    TopConcepts,
    pct,
    run_list,
    truth,
    with_range,
)
from explainlab.dissect.tables import ALL_LAYERS, most_over_represented
from explainlab.report.markup import join_names

Tables = Mapping[str, pd.DataFrame]  # file name -> table
MOSTLY = 0.5  # the share of rows above which agreement "rises with the similarity"
TOP = 5  # concepts named per layer


def _table(tables: Tables, name: str) -> pd.DataFrame | None:
    """A table of the analysis, None when it was not written or has no rows."""
    frame = tables.get(name)
    return frame if frame is not None and len(frame) else None


def _all(n: int, what: str) -> str:
    """Where a finding holds: ``in both runs``, ``in all 3 models``, ``in the one run``."""
    return (
        f"in both {what}s" if n == 2 else f"in all {n} {what}s" if n > 2 else f"in the one {what}"
    )


def _supported(rows: pd.DataFrame) -> bool:
    return bool(len(rows)) and rows["supported"].map(truth).all()


def _arrow(row) -> str:
    return f"{pct(row.share_first)} → {pct(row.share_last)}"


def _span(low: float, high: float) -> str:
    return pct(low) if pct(low) == pct(high) else f"{pct(low)}–{pct(high)}"


def progression(trend: pd.DataFrame) -> Finding:
    """Colour/texture/material units falling and object/part/scene units rising from the
    first layer to the last, in every model and run, beyond the run-to-run spread."""
    low, high = (trend[trend["group"] == g] for g in ("low-level", "high-level"))
    first, last = trend["first_layer"].iloc[0], trend["last_layer"].iloc[0]
    names = [model_name(m) for m in low["model"]]
    evidence = (
        f"Units labelled with a pattern, colour, shape or material, {first} → {last}: "
        + "; ".join(f"{n} {_arrow(r)}" for n, r in zip(names, low.itertuples(), strict=True))
        + ". With an object or a place: "
        + "; ".join(f"{n} {_arrow(r)}" for n, r in zip(names, high.itertuples(), strict=True))
        + " (category_trend.csv)."
    )
    falls = _supported(low) and (low["change_max"].astype(float) < 0).all()
    rises = _supported(high) and (high["change_min"].astype(float) > 0).all()
    if falls and rises:
        return Finding.plain(
            f"From {first} to {last} the units turn from patterns and colours to objects and "
            f"places, {_all(len(low), 'model')} and {_all(int(low['runs'].min()), 'run')}.",
            evidence[:-1] + ", each change beyond its run-to-run spread.",
            f"a {last} unit sees most of the image and combines the parts found below it; a "
            f"{first} unit sees a small patch, where only colour and texture show.",
        )
    return Finding.plain(
        f"A move from patterns and colours to objects and places from {first} to {last} is "
        "not supported by this run.",
        evidence,
        "at least one change goes the other way or is inside the run-to-run spread of the "
        "shares (column spread), so the runs do not agree on it.",
    )


def scene_training(contrast: pd.DataFrame) -> Finding:
    """Whether the second model's last layer has a larger share of scene units than the
    first's (Places365 against ImageNet), beyond the run-to-run spread."""
    layer = contrast["layer"].iloc[-1]
    rows = contrast[contrast["layer"] == layer].set_index("group")
    scene, objects = rows.loc["scene"], rows.loc["object"]
    a, b = model_name(scene["model_a"]), model_name(scene["model_b"])
    evidence = (
        f"{layer} units on a place (a room, building, landscape): {b} {pct(scene['share_b'])}, "
        f"{a} {pct(scene['share_a'])}; on an object: {pct(objects['share_b'])} against "
        f"{pct(objects['share_a'])} (category_contrast.csv)."
    )
    diff_min, diff_max = float(scene["diff_min"]), float(scene["diff_max"])
    if _supported(rows.loc[["scene"]]) and diff_min > 0:
        return Finding.plain(
            f"{b}'s scene training shows in {layer}: it has more place units than {a}'s.",
            evidence
            + f" Place difference {_span(diff_min, diff_max)} {_all(int(scene['runs']), 'run')}, "
            f"run-to-run spread {pct(scene['spread'])}.",
            f"{b}'s classes are scenes (bathroom, kitchen, closet), so its last stage keeps units "
            f"for whole room layouts; {a}'s classes are objects, mostly animals.",
        )
    return Finding.plain(
        f"A larger share of place units in {b}'s {layer} than in {a}'s is not supported.",
        evidence + f" The difference ranges {_span(diff_min, diff_max)} over the runs, against "
        f"a run-to-run spread of {pct(scene['spread'])}.",
        "the difference changes sign between the runs or is no larger than the spread, so a "
        "rerun of CLIP-Dissect could reverse it.",
    )


def most_units(
    ranges: pd.DataFrame, concentration: pd.DataFrame, models: Mapping[str, str]
) -> Finding:
    """The concepts labelling most units of each model over all its layers (the sheet's
    first question), with their range over the runs; why the most frequent concepts
    cover fewer of a layer's units with depth (their share in the first and last layer)."""
    pooled, why = [], []
    for label, model in models.items():
        mine = ranges[ranges["model"] == label]
        layers = [x for x in dict.fromkeys(mine["layer"]) if x != ALL_LAYERS]
        over = ALL_LAYERS if (mine["layer"] == ALL_LAYERS).any() else layers[0]
        pooled.append(f"{model_name(model)} " + _named(mine[mine["layer"] == over], TOP))
        mine = concentration[concentration["model"] == label]
        mine = mine[mine["layer"] != ALL_LAYERS]
        if len(mine) > 1:
            why.append((model_name(model), mine.iloc[0], mine.iloc[-1]))
    span = f"{layers[0]}–{layers[-1]}" if len(layers) > 1 else layers[0]
    claim = f"The concepts learned by most neurons, {span}: " + "; ".join(pooled) + "."
    evidence = (
        "Units of run a (range over the runs); per layer: the figure (concept_count_ranges.csv)."
    )
    if not why:
        return Finding.plain(claim, evidence, "one layer: no change with depth to explain.")
    shares = "; ".join(
        f"{n} {pct(first.top5_share)} → {pct(last.top5_share)}" for n, first, last in why
    )
    first, last = why[0][1].layer, why[0][2].layer
    reason = (
        f"a layer's five most frequent concepts label, {first} → {last}: {shares} "
        "(concentration.csv): "
    ) + (
        f"a {first} unit sees a small patch where a few patterns recur; {last}'s units "
        "spread over hundreds of objects and places."
        if all(b.top5_share < a.top5_share for _, a, b in why)
        else "the concentration on a few concepts does not fall with depth in every model."
    )
    return Finding.plain(claim, evidence, reason)


def _named(rows: pd.DataFrame, n: int) -> str:
    """``'dotted' 60 (58–61), 'textile' 23``: the first ``n`` concepts of ``rows`` of
    ``concept_count_ranges.csv``, with their range over the runs."""
    rows = rows.sort_values("rank").head(n)
    return ", ".join(
        f"'{r.concept}' {with_range(int(r.units), int(r.units_min), int(r.units_max))}"
        for r in rows.itertuples(index=False)
    )


def counted(
    ranges: pd.DataFrame | None, model: str, layer: str, measure: str, value: int
) -> tuple[str, int, int]:
    """``value`` with its range over ``model``'s runs ("278 (276–278)"), and the range."""
    r = (
        ranges[
            (ranges["model"] == model) & (ranges["layer"] == layer) & (ranges["measure"] == measure)
        ]
        if ranges is not None
        else ()
    )
    if not len(r):
        return str(value), value, value
    low, high = int(r["min"].iloc[0]), int(r["max"].iloc[0])
    return with_range(value, low, high), low, high


def distinct_objects(
    distinct: pd.DataFrame, ranges: pd.DataFrame | None, models: Mapping[str, str]
) -> Finding:
    """How many distinct object concepts each model uses over all its layers, with the
    range over the runs; which learned more, unless the ranges overlap."""
    said, bounds = [], []
    for label, model in models.items():
        rows = distinct[distinct["model"] == label]
        pooled = rows[rows["layer"] == ALL_LAYERS]  # absent with one layer: that layer's row
        row = (pooled if len(pooled) else rows).iloc[-1]
        value = int(row["distinct_object"])
        text, low, high = counted(ranges, model, row["layer"], "distinct_object", value)
        said.append(f"{model_name(model)} {text}")
        bounds.append((low, high, model_name(model)))
    evidence = (
        "Distinct object concepts over all layers (range over the runs): "
        + ", ".join(said)
        + " (run_count_ranges.csv)."
    )
    reason = (
        "an object is a Broden object or part or an ImageNet class name; uncategorised "
        "concepts are not counted, so these are lower bounds, and counting ImageNet's class "
        "names favours the ImageNet model"
    )
    (la, ha, a), (lb, hb, b) = bounds[:2]
    if ha < lb or hb < la:
        more, fewer = (b, a) if lb > ha else (a, b)
        return Finding.plain(
            f"The {more} model learned more distinct objects than the {fewer} one.",
            evidence,
            reason + ".",
        )
    return Finding.plain(
        f"Neither model learned clearly more distinct objects: the {a} and {b} counts overlap "
        "over the runs.",
        evidence,
        reason + "; a count inside the other's run-to-run range does not separate them.",
    )


def stability(
    agreement: pd.DataFrame, checks: pd.DataFrame | None, rises: pd.DataFrame | None
) -> Finding:
    """How often the runs label a unit alike per layer, how many headline findings hold
    in every run, and whether agreement rises with the similarity score."""
    per_layer = agreement[agreement["layer"] != ALL_LAYERS]
    said = [
        f"{model_name(m)} " + ", ".join(pct(r) for r in part["same_label_rate"])
        for m, part in per_layer.groupby("model", sort=False)
    ]
    layers = list(dict.fromkeys(per_layer["layer"]))
    evidence = (
        f"The same label in every run, {join_names(layers)}: "
        + "; ".join(said)
        + " (run_agreement.csv)."
    )
    claim = "Most labels repeat between runs"
    headlines = Headlines.of(checks) if checks is not None else Headlines(checks=())
    if headlines.checks:
        flips = "; ".join(f"{r.finding}, {r.layer}" for r in headlines.flips)
        evidence += (
            f" Headline findings holding in every run: {headlines.held} of "
            f"{len(headlines.checks)}" + (f" (flipping: {flips})" if flips else "")
        ) + " (headline_checks.csv)."
        every = not headlines.flips
        claim += ", and " + ("every headline finding holds" if every else "most findings hold")
    reason = "the runs differ only by floating-point rounding, which moves a label only where a "
    reason += "unit's best concepts score almost alike"
    if rises is not None and len(rises):
        up = rises["rises"].map(truth)
        evidence += (
            f" Agreement rises with the similarity score in {int(up.sum())} of {len(rises)} rows "
            "(stability_rises.csv)."
        )
        reason += ", i.e. where the similarity is low" if up.mean() > MOSTLY else ""
    return Finding.plain(claim + ".", evidence, reason + ".")


def headlines(tables: Tables, models: Mapping[str, str]) -> list[Finding]:
    """The headline findings the tables support, in the order of the assignment's
    question. ``models``: each analysed label -> its canonical model."""
    trend, contrast = _table(tables, "category_trend.csv"), _table(tables, "category_contrast.csv")
    ranges = _table(tables, "concept_count_ranges.csv")
    found = []
    if ranges is not None:
        found.append(most_units(ranges, tables["concentration.csv"], models))
    if trend is not None:
        found.append(progression(trend))
    if contrast is not None and {"scene", "object"} <= set(contrast["group"]):
        found.append(scene_training(contrast))
    if len(models) >= 2:
        found.append(
            distinct_objects(
                tables["distinct_concepts.csv"], _table(tables, "run_count_ranges.csv"), models
            )
        )
    return found


def reliability(tables: Tables) -> tuple[Finding, ...]:
    """The finding on how far the runs agree (none with one run): it qualifies the
    headlines rather than answering the question, so report 1 gives it in its appendix."""
    agreement = _table(tables, "run_agreement.csv")
    if agreement is None:
        return ()
    checks, rises = _table(tables, "headline_checks.csv"), _table(tables, "stability_rises.csv")
    return (stability(agreement, checks, rises),)


def _top_stability(checks: Headlines, model: str, layer: str) -> str:
    """Whether ``model``'s top concept (and top three) in ``layer`` are those of every run."""
    top = checks.get("top concept", model, layer)
    three = checks.get("top three concepts", model, layer)
    if top is None:
        return ""
    others = top.values[1:]
    if not top.holds:
        return "flips: " + "; ".join(f"run {r}'s top concept is '{v}'" for r, v in others)
    runs = run_list([r for r, _ in others])
    if three is not None and not three.holds:
        return f"top concept the same in {runs}; the top three differ"
    return f"the same in {runs}"


def top_concepts(
    counts: pd.DataFrame,
    models: Mapping[str, str],
    checks: Headlines,
    ranges: pd.DataFrame | None = None,
):
    """Each model's most frequent concepts per layer and over all its layers, with their
    range over the runs where ``ranges`` (concept_count_ranges.csv) gives one."""
    found = []
    for label, model in models.items():
        mine = counts[counts["model"] == label]
        for layer, part in mine.groupby("layer", sort=False):
            part = part.sort_values("rank").head(TOP)
            spread = {}
            if ranges is not None:
                rows = ranges[(ranges["model"] == label) & (ranges["layer"] == layer)]
                spread = {
                    str(r.concept): (int(r.units_min), int(r.units_max))
                    for r in rows.itertuples(index=False)
                }
            concepts = tuple(
                (str(c), int(n)) for c, n in zip(part.concept, part.units, strict=True)
            )
            found.append(
                TopConcepts(
                    model=label,
                    layer=layer,
                    units=int(mine[mine["layer"] == layer]["units"].sum()),
                    concepts=concepts,
                    stability=_top_stability(checks, model, layer),
                    ranges=tuple(spread.get(c, (n, n)) for c, n in concepts),
                )
            )
    return tuple(found)


def comparison(distinct: pd.DataFrame, models: Mapping[str, str], checks: Headlines) -> str:
    """Which of two models has more distinct and more object concepts, per layer, and
    whether that holds in every run."""
    if len(models) != 2:
        return ""
    labels, canonical = list(models), list(models.values())
    table = distinct.set_index(["model", "layer"])
    pairs = (f"{canonical[0]} vs {canonical[1]}", f"{canonical[1]} vs {canonical[0]}")
    parts = []
    for layer in dict.fromkeys(distinct[distinct["model"] == labels[0]]["layer"]):
        if (labels[1], layer) not in table.index:
            continue
        bits = []
        for measure, what in (
            ("distinct_concepts", "distinct concepts"),
            ("distinct_object", "object concepts"),
        ):
            a, b = (int(table.loc[(m, layer), measure]) for m in labels)
            more = labels[0] if a > b else labels[1] if b > a else "neither model"
            bit = f"more {what}: {more}"
            check = next(
                (c for p in pairs if (c := checks.get(f"more {what}", p, layer)) is not None),
                None,
            )
            if check is not None and not check.holds:
                bit += f" (flips: {check.per_run()})"
            bits.append(bit)
        parts.append(f"{layer}: " + ", ".join(bits))
    if not parts:
        return ""
    every = " Unless a flip is named, each holds in every run." if checks.checks else ""
    return "The two models compared: " + "; ".join(parts) + "." + every


def coverage(table: pd.DataFrame | None, models: Mapping[str, str]) -> tuple[str, str]:
    """The share of each layer's units with a WordNet category over all models, layers
    and runs (``category_coverage.csv``), and per model and layer."""
    if table is None:
        return "", ""
    runs = int(table.groupby(["model", "layer"])["run"].nunique().min())
    overall = (
        f"WordNet 3.0 gives a category to {_span(table['coverage'].min(), table['coverage'].max())} "
        f"of the units of every layer {_all(runs, 'run')} (category_coverage.csv)."
    )
    said = []
    for model in dict.fromkeys(models.values()):
        mine = table[table["model"] == model]
        said.append(
            f"{model_name(model)} "
            + ", ".join(
                f"{layer} {_span(part['coverage'].min(), part['coverage'].max())}"
                for layer, part in mine.groupby("layer", sort=False)
            )
        )
    where = " (range over the runs)" if runs > 1 else ""
    return overall, "Units with a WordNet category per layer" + where + ": " + "; ".join(said) + "."


def categories(used: pd.DataFrame) -> str:
    """How many of the concepts used have a Broden category, and where they come from."""
    named = used[used["source"] != SOURCE_NOT_BRODEN]
    unknown = used[used["source"] == SOURCE_UNKNOWN]
    sources = sorted(set(named["source"]) - {SOURCE_UNKNOWN})
    return (
        f"Broden categories (for the distinct objects): of the {len(used)} distinct concepts in "
        f"these files, {len(named)} are Broden labels or ImageNet class names and "
        f"{len(used) - len(named)} are neither (those count as 'other'). "
        f"Categories were taken from: {'; '.join(sources) or 'no source'}. "
        f"{len(unknown)} Broden labels used here had no category in the files available offline "
        "and also count as 'other'. The category shares are on WordNet's categories: each "
        "concept's WordNet lexname and category are in concept_categories.csv."
    )


def overlap(table: pd.DataFrame | None) -> str:
    """The concepts the first two models both use, per layer."""
    if table is None:
        return ""
    pair = table[(table["model_a"] == table["model_a"].iloc[0])]
    pair = pair[(pair["model_b"] == pair["model_b"].iloc[0]) & (pair["layer"] != ALL_LAYERS)]
    return (
        "Concepts both models use, per layer: "
        + "; ".join(
            f"{r.layer}: {int(r.shared)} shared concepts (Jaccard {r.jaccard:.2f})"
            for r in pair.itertuples(index=False)
        )
        + "."
    )


def over_represented(
    over: pd.DataFrame | None, models: Mapping[str, str], checks: Headlines, several: bool
) -> str:
    """The concepts most over-represented in each model of a pair, and whether each is
    so in every run (``several``: the models have several runs)."""
    if over is None:
        return ""
    out = ""
    for a, b in dict.fromkeys(zip(over["model_a"], over["model_b"], strict=True)):
        layer, in_a, in_b = most_over_represented(over, a, b)
        for model, favoured in ((a, in_a), (b, in_b)):
            if model not in models or not len(favoured):
                continue
            names = []
            for concept in favoured["concept"]:
                flag = ""
                if several:
                    pair = f"{models.get(a, a)} vs {models.get(b, b)}"
                    check = checks.get("over-represented in", pair, layer, concept)
                    flag = " (not checked)" if check is None else "" if check.holds else " (flips)"
                names.append(f"'{concept}'{flag}")
            out += f" Most over-represented in {model}: " + ", ".join(names) + "."
    if several and out:
        out += " Unless marked, each is over-represented in the same model in every run."
    return out.strip()


def analysed_agreement(agreement: pd.DataFrame, model: str) -> pd.DataFrame:
    """``model``'s rows of ``run_agreement.csv`` per layer: its two runs, or all its runs
    together when it has more."""
    a = agreement[agreement["model"] == model]
    return a[a["run_a"].eq("all") | ~a.duplicated(["model", "layer"], keep=False)]


def label_stability(agreement: pd.DataFrame | None, models: Mapping[str, str]) -> str:
    """The share of units labelled alike by every run, per model and layer."""
    if agreement is None:
        return ""
    said = []
    for model in dict.fromkeys(models.values()):
        a = analysed_agreement(agreement, model)
        if len(a):
            said.append(
                f"{model}: "
                + ", ".join(f"{r.layer} {pct(r.same_label_rate)}" for r in a.itertuples())
            )
    return (
        "The share of units whose label is the same in every run: "
        + "; ".join(said)
        + ". "
        + ConceptStatus.MEANING
    )


def rising(rises: pd.DataFrame | None) -> str:
    if rises is None:
        return ""
    up = rises["rises"].map(truth)
    return (
        f"Agreement rises from the lowest to the highest similarity quartile in "
        f"{int(up.sum())} of {len(rises)} model-layer rows"
        + (
            ": labels with a high similarity score are the ones to trust."
            if up.mean() > MOSTLY
            else "."
        )
    )


def held(checks: Headlines, several: bool) -> str:
    """How many headline findings hold in every run, and which flip."""
    if not checks.checks:
        return (
            "Headline findings: not checked (they need two runs of every model)." if several else ""
        )
    flips = "; ".join(
        f"{r.finding} ({r.model}"
        + (f", {r.layer}" if r.layer else "")
        + (f", '{r.subject}'" if r.subject else "")
        + ")"
        for r in checks.flips
    )
    return (
        f"Of the {len(checks.checks)} headline findings checked (top concepts, the trend "
        "of distinct concepts over the layers, which model has more distinct and more object "
        f"concepts, the over-represented concepts), {checks.held} hold in every run"
        + (f"; flipping: {flips}" if flips else "")
        + "."
    )


def reference(self_agreement: pd.DataFrame | None, verdicts: Sequence[ReferenceVerdict]) -> str:
    """How many model-layers are as close to the reference as its runs are to each other."""
    if self_agreement is None:
        return ""
    if not verdicts:
        return "No analysed model has two reference files of its own: no verdict."
    close = sum(r.as_close for r in verdicts)
    return (
        "The labels analysed here are compared unit by unit with each reference file of the same "
        "model and layer, and the reference files with each other: a run that agrees with the "
        "reference as much as the reference agrees with itself is as close as reruns of the "
        f"reference code can be. {close} of {len(verdicts)} model-layer rows are as close."
    )


def state(
    tables: Tables,
    *,
    title: str,
    kind: str,
    caveats: Sequence[str],
    models: Mapping[str, str],
    runs: Mapping[str, list[str]],
    category_sources: Sequence[str],
) -> DissectFindings:
    """The findings of an analysis from its tables (``models``: each analysed label -> its
    canonical model; ``runs``: each model's run names, where it has several)."""
    checks = _table(tables, "stability_findings.csv")
    checked = Headlines.of(checks) if checks is not None else Headlines(checks=())
    several = _table(tables, "run_agreement.csv") is not None
    verdicts = _table(tables, "reference_verdicts.csv")
    verdicts = tuple(ReferenceVerdict.rows(verdicts)) if verdicts is not None else ()
    covered = coverage(_table(tables, "category_coverage.csv"), models)
    return DissectFindings(
        title=title,
        kind=kind,
        caveats=tuple(caveats),
        models=dict(models),
        runs={m: list(r) for m, r in runs.items()},
        headlines=tuple(headlines(tables, models)),
        reliability=reliability(tables),
        top_concepts=top_concepts(
            tables["concept_counts.csv"],
            models,
            checked,
            _table(tables, "concept_count_ranges.csv"),
        ),
        comparison=comparison(tables["distinct_concepts.csv"], models, checked),
        categories=categories(tables["concept_categories.csv"]),
        category_sources="Sources checked: " + "; ".join(category_sources) + ".",
        coverage=covered[0],
        coverage_layers=covered[1],
        overlap=overlap(_table(tables, "model_overlap.csv")),
        over_represented=over_represented(
            _table(tables, "over_represented.csv"), models, checked, several
        ),
        stability=label_stability(_table(tables, "run_agreement.csv"), models),
        rises=rising(_table(tables, "stability_rises.csv")),
        checks=held(checked, several),
        reference=reference(_table(tables, "reference_self_agreement.csv"), verdicts),
        verdicts=verdicts,
    )
