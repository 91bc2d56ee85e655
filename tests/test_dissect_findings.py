"""Report 1's finding rules on hand-made tables: planted numbers give the finding, the
opposite numbers (or numbers inside the run-to-run spread) give the opposite or the
"not supported" finding; and the category shares behind them."""

from __future__ import annotations

import pandas as pd

from explainlab import plotting
from explainlab.dissect import figures, progression, stability
from explainlab.dissect import statements as rules
from explainlab.dissect.categories import CategoryMap
from explainlab.dissect.stability import RunGroup
from explainlab.dissect.tables import Descriptions


def _run(model: str, run: str, layers: dict[str, list[str]]) -> Descriptions:
    rows = [(layer, i, c) for layer, names in layers.items() for i, c in enumerate(names)]
    table = pd.DataFrame(rows, columns=["layer", "unit", "description"])
    return Descriptions(
        name=model,
        model=model,
        dataset="imagenet",
        source="reference",
        path=__file__,
        table=table,
        run=run,
    )


# planted WordNet categories (the category shares are on WordNet's)
CMAP = CategoryMap(
    categories={
        "dotted": "pattern or quality",
        "red": "colour or attribute",
        "dog": "animal",
        "kitchen": "place",
    }
)


def _groups(early_a, late_a, early_b, late_b):
    return [
        RunGroup(
            "resnet18",
            [_run("resnet18", r, {"layer2": early_a, "layer4": late_a}) for r in ("a", "b")],
        ),
        RunGroup(
            "resnet18_places365",
            [
                _run("resnet18_places365", r, {"layer2": early_b, "layer4": late_b})
                for r in ("a", "b")
            ],
        ),
    ]


LOW = ["dotted", "red", "dotted", "x"]
HIGH_OBJ = ["dog", "dog", "kitchen", "x"]
HIGH_SCENE = ["kitchen", "kitchen", "kitchen", "dog"]


def test_shares_trend_and_contrast_of_planted_labels():
    shares = progression.category_shares(_groups(LOW, HIGH_OBJ, LOW, HIGH_SCENE), CMAP)
    main = progression.with_share(shares[shares["main"]])
    main = main.set_index(["model", "layer", "group"])["share"]
    assert main[("resnet18", "layer2", "low-level")] == 0.75
    assert main[("resnet18", "layer4", "object")] == 0.5
    assert main[("resnet18_places365", "layer4", "scene")] == 0.75
    trend = progression.category_trend(shares).set_index(["model", "group"])
    assert trend.loc[("resnet18", "low-level"), "supported"]
    assert trend.loc[("resnet18", "low-level"), "change_max"] == -0.75
    contrast = progression.category_contrast(shares).set_index(["layer", "group"])
    assert contrast.loc[("layer4", "scene"), "supported"]
    assert contrast.loc[("layer4", "scene"), "diff_min"] == 0.5


def _finding(groups, rule):
    shares = progression.category_shares(groups, CMAP)
    return rule(shares)


def test_progression_is_found_and_its_opposite_is_not_supported():
    found = _finding(
        _groups(LOW, HIGH_OBJ, LOW, HIGH_SCENE),
        lambda s: rules.progression(progression.category_trend(s)),
    )
    assert "turn from patterns and colours to objects" in found.claim
    assert "in both runs" in found.claim and "75% → 0%" in found.evidence
    backwards = _finding(
        _groups(HIGH_OBJ, LOW, HIGH_SCENE, LOW),
        lambda s: rules.progression(progression.category_trend(s)),
    )
    assert "not supported" in backwards.claim


def _spread_groups():
    """Run b of the ImageNet model has as many scene units as Places365: the difference
    is inside the run-to-run spread."""
    a = [
        _run("resnet18", "a", {"layer2": LOW, "layer4": HIGH_OBJ}),
        _run("resnet18", "b", {"layer2": LOW, "layer4": HIGH_SCENE}),
    ]
    b = [_run("resnet18_places365", r, {"layer2": LOW, "layer4": HIGH_SCENE}) for r in ("a", "b")]
    return [RunGroup("resnet18", a), RunGroup("resnet18_places365", b)]


def test_scene_training_needs_a_difference_beyond_the_spread():
    rule = lambda s: rules.scene_training(progression.category_contrast(s))  # noqa: E731
    found = _finding(_groups(LOW, HIGH_OBJ, LOW, HIGH_SCENE), rule)
    assert found.claim.startswith("Places365's scene training shows in layer4")
    assert "75%" in found.evidence and "25%" in found.evidence
    inside = _finding(_spread_groups(), rule)
    assert "not supported" in inside.claim


def _distinct(a: int, b: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": ["m (run a)", "p (run a)"],
            "layer": ["all layers"] * 2,
            "distinct_object": [a, b],
        }
    )


def _ranges(a: tuple[int, int], b: tuple[int, int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": ["resnet18", "resnet18_places365"],
            "layer": ["all layers"] * 2,
            "measure": ["distinct_object"] * 2,
            "min": [a[0], b[0]],
            "max": [a[1], b[1]],
        }
    )


def test_distinct_objects_compared_only_outside_the_run_ranges():
    models = {"m (run a)": "resnet18", "p (run a)": "resnet18_places365"}
    apart = rules.distinct_objects(_distinct(65, 57), _ranges((64, 65), (53, 57)), models)
    assert apart.claim.startswith("The ImageNet model learned more distinct objects")
    assert "65 (64–65)" in apart.evidence and "57 (53–57)" in apart.evidence
    reversed_ = rules.distinct_objects(_distinct(50, 57), _ranges((49, 50), (53, 57)), models)
    assert reversed_.claim.startswith("The Places365 model learned more")
    overlapping = rules.distinct_objects(_distinct(56, 57), _ranges((55, 58), (53, 57)), models)
    assert overlapping.claim.startswith("Neither model learned clearly more")


def test_stability_names_the_findings_that_flip():
    agreement = pd.DataFrame(
        {
            "model": ["resnet18"] * 2,
            "layer": ["layer2", "all layers"],
            "same_label_rate": [0.890625, 0.88],
        }
    )
    checks = pd.DataFrame(
        {"finding": ["top concept", "more object concepts"], "layer": ["layer2", "all layers"]}
        | {"holds": [True, False]}
    )
    rises = pd.DataFrame({"rises": [True, True]})
    found = rules.stability(agreement, checks, rises)
    assert "ImageNet 89%" in found.evidence and "1 of 2" in found.evidence
    assert "more object concepts, all layers" in found.evidence
    assert "most findings hold" in found.claim and "similarity is low" in found.reason
    every = rules.stability(agreement, checks.assign(holds=True), rises.assign(rises=False))
    assert "every headline finding holds" in every.claim
    assert "similarity is low" not in every.reason


def test_category_figure_is_legible_at_print_size(tmp_path, monkeypatch):
    groups = _groups(LOW, HIGH_OBJ, LOW, HIGH_SCENE)
    shares = progression.category_shares(groups, CMAP)
    top = stability.concept_count_ranges(groups)
    problems = []
    monkeypatch.setattr(
        plotting, "close", lambda f: problems.extend(plotting.legibility_problems(f))
    )
    assert figures.category_figure(shares, top, tmp_path / "c.png").is_file()
    assert problems == []


def test_word_forms_take_the_category_of_their_name():
    cmap = CategoryMap(
        categories={"bedroom": "scene", "bus": "object"}, broden_labels={"bedroom", "bus"}
    )
    assert cmap.category("bedrooms") == "scene" and cmap.category("buses") == "object"
    assert cmap.category("stripes") == "texture" and cmap.category("checker") == "texture"
    assert cmap.category("juvenile") == "other" and cmap.category("bus") == "object"


def _planted_runs(folder):
    """Two runs of two models, layer2 low-level and layer4 high-level; run b relabels the
    units with the lowest similarity only, so agreement rises with the similarity."""
    folder.mkdir(parents=True)
    words = {
        "resnet18": {"layer2": LOW * 2, "layer4": HIGH_OBJ * 2},
        "resnet18_places365": {"layer2": LOW * 2, "layer4": HIGH_SCENE * 2},
    }
    for model, layers in words.items():
        for run in ("a", "b"):
            rows = [
                (layer, u, "x" if run == "b" and u < 2 else w, 0.1 * (u + 1))
                for layer, names in layers.items()
                for u, w in enumerate(names)
            ]
            pd.DataFrame(rows, columns=["layer", "unit", "description", "similarity"]).to_csv(
                folder / f"{model}_run_{run}.csv", index=False
            )
    return folder


def _rendered(run):
    """The record of ``run``'s analysis, its summary.md and report 1's text (one line)."""
    from pypdf import PdfReader

    from explainlab.assignment.report import dissect_report
    from explainlab.assignment.report.common import RunFacts
    from explainlab.dissect.findings import DissectFindings

    folder = run / "dissect" / "analysis"
    pdf = dissect_report.build(RunFacts.read(run), run / "1_dissection.pdf")
    text = " ".join(p.extract_text() for p in PdfReader(str(pdf)).pages)
    summary = (folder / "summary.md").read_text()
    return DissectFindings.read(folder), " ".join(summary.split()), " ".join(text.split())


def test_summary_and_report_render_one_record(tmp_path, mirror, monkeypatch, wordnet):
    """summary.md and report 1 state the same findings from findings.json, and a threshold
    of a rule, changed in its one place, changes both."""
    from explainlab.dissect import statements
    from explainlab.dissect.analysis import analyze_runs

    runs = _planted_runs(tmp_path / "runs")
    analyze_runs([runs], tmp_path / "run" / "dissect" / "analysis")
    record, summary, report = _rendered(tmp_path / "run")
    claims = [f.claim for f in record.headlines]
    assert len(claims) == 4 and claims[0].startswith("The concepts learned by most neurons")
    assert "turn from patterns and colours to objects" in claims[1]
    assert len(record.reliability) == 1
    assert record.reliability[0].claim.startswith("Most labels repeat between runs")
    reliability = record.reliability[0]  # in the appendix, where it may cross a page break
    assert reliability.claim in report and reliability.evidence in summary
    for statement in [
        *claims,
        *(f.evidence for f in record.headlines),
        record.categories,
        record.coverage,
        record.comparison,
        record.over_represented,
        record.stability,
        record.rises,
        record.checks,
    ]:
        assert statement and statement in summary and statement in report
    assert "similarity is low" in summary and "similarity is low" in report
    assert "ones to trust" in summary and "ones to trust" in report
    monkeypatch.setattr(statements, "MOSTLY", 1.0)  # "rises" now needs every row
    analyze_runs([runs], tmp_path / "run" / "dissect" / "analysis", force=True)
    record, summary, report = _rendered(tmp_path / "run")
    for said in (summary, report):
        assert "similarity is low" not in said and "ones to trust" not in said
    assert record.rises in summary and record.rises in report


def test_report_of_a_single_model_analysis(tmp_path, mirror, wordnet):
    """One model, one run: no comparison, no stability, and still a report."""
    from explainlab.dissect.analysis import analyze, reference_run_paths

    run_a, _ = reference_run_paths(["resnet18"])
    analyze([run_a], tmp_path / "run" / "dissect" / "analysis")
    record, summary, report = _rendered(tmp_path / "run")
    assert not record.comparison and not record.overlap and not record.stability
    assert [f.claim for f in record.headlines] == [
        "The concepts learned by most neurons, layer2–layer4: ImageNet 'dotted' 60, "
        "'textile' 23, 'checker' 20, 'lattice' 19, 'zebra' 18.",  # the run a
        "From layer2 to layer4 the units turn from patterns and colours to objects and "
        "places, in the one model and in the one run.",
    ]
    assert not record.reliability
    for finding in record.headlines:
        assert finding.claim in summary and finding.claim in report
    assert "Only one model was given" in summary and "resnet18 (run a) (ImageNet)" in report
