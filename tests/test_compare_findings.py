"""The comparison's finding rules on hand-made summaries: planted numbers give the expected
finding, the opposite numbers the opposite or the "not supported" one."""

from __future__ import annotations

import copy

import pytest

from explainlab.compare import findings as rules
from explainlab.compare.findings import CompareFindings

CORR = {
    m: {"rho": 0.1, "p": 0.8, "n": 10}
    for m in ("object_area", "n_superpixels", "edge_density", "colour_entropy", "top1_prob")
}


def numbers(**changes) -> dict:
    base = {
        "images": 10,
        "keys": [f"img{i}" for i in range(10)],
        "cam_methods": ["gradcam", "scorecam"],
        "primary_method": "gradcam",
        "agreement_mean": {
            "gradcam": {"iou_area": 0.25, "iou_area_chance": 0.09},
            "scorecam": {"iou_area": 0.27, "iou_area_chance": 0.09},
        },
        "above_chance": {"gradcam": 9, "scorecam": 9},
        "cam_grid": [7, 7],
        "crop": 224,
        "iou_area_ceiling": 0.8,
        "complexity": {
            "correlations": copy.deepcopy(CORR),
            "verdict": "no",
            "supporting": ["object_area"],
            "against": [],
            "significant": [],
            "alpha": 0.05,
            "critical_rho": 0.6319,
        },
        "faithfulness_mean": {
            "gradcam": {"images": 10, "deletion_auc": 0.2, "insertion_auc": 0.8},
            "lime": {"images": 10, "deletion_auc": 0.3, "insertion_auc": 0.7},
            "random": {"images": 10, "deletion_auc": 0.35, "insertion_auc": 0.5},
        },
        "faithfulness_paired": {
            "methods": ["gradcam", "lime"],
            "images": 10,
            "deletion_wins": 9,
            "insertion_wins": 8,
        },
        "sanity": {
            "blocks": ["classifier", "blocks.6"],
            "images": 1,
            "final": {
                "gradcam": {"spearman": 0.1, "ssim": 0.2, "verdict": "changes strongly"},
                "lime": {"spearman": 0.5, "ssim": 0.6, "verdict": "changes partly"},
            },
        },
        "failures": [],
    }
    for key, value in changes.items():
        base[key] = value
    return base


def summary(**changes) -> CompareFindings:
    """The record of those numbers (its findings chosen by the rules)."""
    return CompareFindings.of(numbers(**changes))


def test_iou_above_chance_with_the_grid_as_reason():
    found = rules.agreement(summary())
    assert "more than chance" in found.claim
    assert "0.25" in found.evidence and "0.09" in found.evidence and "9 of 10" in found.evidence
    assert "7×7 grid" in found.reason and "224×224" in found.reason and "0.80" in found.reason
    assert "every CAM method alike, 0.25–0.27" in found.evidence  # en dash, within 0.05


def test_iou_at_chance_says_so():
    found = rules.agreement(summary(above_chance={"gradcam": 4}))
    assert "no better than chance" in found.claim


def test_without_a_grid_the_reason_stays_general():
    planted = numbers()
    del planted["cam_grid"], planted["iou_area_ceiling"], planted["crop"]
    reason = rules.agreement(CompareFindings.of(planted)).reason
    assert "coarse grid" in reason and "7" not in reason


def test_ceiling_decides_what_the_gap_is():
    near = rules.agreement(summary(iou_area_ceiling=0.3)).reason
    far = rules.agreement(summary(iou_area_ceiling=0.8)).reason
    assert "much of the shortfall is that resolution" in near
    assert "disagreement about where the evidence lies" in far


def test_cam_methods_ranked_only_when_they_differ():
    assert rules.family(summary()) is None  # 0.25 against 0.27: alike
    means = numbers()["agreement_mean"]
    means["scorecam"]["iou_area"] = 0.40
    found = rules.family(summary(agreement_mean=means))
    assert found is not None and found.claim.startswith("ScoreCAM agrees most")


def test_no_significant_rho_is_not_supported():
    found = rules.complexity(summary())
    assert "not supported with 10 images" in found.claim
    assert "0.63" in found.evidence and "p < 0.05" in found.evidence


@pytest.mark.parametrize("direction", ["supporting", "against"])
def test_a_significant_rho_follows_its_direction(direction):
    c = numbers()["complexity"]
    c["correlations"]["edge_density"] = {"rho": -0.8, "p": 0.005, "n": 10}
    c["significant"] = ["edge_density"]
    c["supporting"] = ["edge_density"] if direction == "supporting" else []
    found = rules.complexity(summary(complexity=c))
    assert "p = 0.0050" in found.evidence
    if direction == "supporting":
        assert found.claim.startswith("Simpler images agree more by edge density")
        assert "5 measures are tested at once" in found.reason
    else:
        assert "not supported" in found.claim and "other way" in found.claim


def test_too_few_images_is_a_missed_target_not_a_finding():
    c = numbers()["complexity"]
    c["correlations"] = {m: {"rho": None, "p": None, "n": 2} for m in CORR}
    c["verdict"] = "undetermined"
    few = summary(images=2, complexity=c)
    assert rules.complexity(few) is None
    assert [m.target for m in rules.missed(few)] == ["a test of whether simple images agree more"]
    assert rules.missed(summary()) == []


def test_faithfulness_winner_follows_the_paired_counts():
    assert "Grad-CAM's map is the more faithful" in rules.faithfulness(summary()).claim
    lime_wins = {
        "methods": ["gradcam", "lime"],
        "images": 10,
        "deletion_wins": 1,
        "insertion_wins": 2,
    }
    assert rules.faithfulness(summary(faithfulness_paired=lime_wins)).claim.startswith("LIME's")
    split = {"methods": ["gradcam", "lime"], "images": 10, "deletion_wins": 8, "insertion_wins": 3}
    assert rules.faithfulness(summary(faithfulness_paired=split)).claim.startswith("Neither")


def test_sanity_verdicts():
    found = rules.sanity(summary())
    assert "depends on the model's weights" in found.claim and "only partly" in found.reason
    s = numbers()["sanity"]
    s["final"]["lime"]["verdict"] = "barely changes"
    assert rules.sanity(summary(sanity=s)).claim.startswith("LIME fail")


def sheet(simple_iou: float = 0.27, complex_iou: float = 0.21, **simple) -> dict:
    """summary.json's ``sheet_example``: goldfish (simple) and kite (complex) of ten."""

    def facts(key, iou, rank, area, chance, ceiling, complexity):
        return {"key": key, "iou": iou, "rank": rank, "chance": chance, "ceiling": ceiling,
                "lime_area": area, "complexity": complexity}  # fmt: skip

    goldfish = {"object_area": 0.26, "n_superpixels": 33, "edge_density": 0.05,
                "colour_entropy": 4.41, "top1_prob": 0.95} | simple  # fmt: skip
    kite = {"object_area": 0.21, "n_superpixels": 48, "edge_density": 0.17,
            "colour_entropy": 5.38, "top1_prob": 0.48}  # fmt: skip
    return {
        "images": 10,
        "simple": facts("goldfish", simple_iou, 3, 0.15, 0.08, 0.75, goldfish),
        "complex": facts("kite", complex_iou, 7, 0.12, 0.06, 0.59, kite),
    }


def test_the_sheets_example_states_each_iou_rank_and_the_reason_of_its_numbers():
    found = rules.sheet_example(summary(sheet_example=sheet()))
    assert found.claim == "Goldfish (simple) agrees more than kite (complex), as the sheet expects."
    assert "IoU 0.27 (rank 3 of 10) vs 0.21 (rank 7 of 10)" in found.evidence
    assert "quickshift superpixels 33 vs 48" in found.evidence
    assert "edge density 0.05 vs 0.17" in found.evidence
    assert "top-1 probability 95% vs 48%" in found.evidence
    assert "goldfish is simpler by 5 of 5 measures" in found.reason
    assert "goldfish's larger LIME mask (15% vs 12% of the crop)" in found.reason
    assert "chance overlap (0.08 vs 0.06)" in found.reason
    assert "0.75 vs 0.59" in found.reason and "kite's shortfall is resolution" in found.reason


def test_the_sheets_example_follows_the_numbers_either_way():
    other_way = rules.sheet_example(summary(sheet_example=sheet(0.15, 0.30)))
    assert other_way.claim.startswith("Kite (complex) agrees more than goldfish (simple)")
    assert "not by its mask's area (kite 12% vs 15% of the crop)" in other_way.reason
    assert "0.59 vs 0.75 (compare/ceiling.csv): not resolution" in other_way.reason
    assert other_way.reason.endswith("disagree about where goldfish's evidence lies.")
    alike = rules.sheet_example(summary(sheet_example=sheet(0.24, 0.22)))
    assert alike.claim == "Goldfish (simple) and kite (complex) agree alike."
    busier = rules.sheet_example(summary(sheet_example=sheet(edge_density=0.3)))
    assert "simpler by 4 of 5 measures (not by edge density)" in busier.reason


def test_the_sheets_example_is_left_out_without_goldfish_or_kite():
    assert rules.sheet_example(summary()) is None
    assert rules.sheet_example(summary(sheet_example=None)) is None
    with_it = rules.choose(summary(sheet_example=sheet()))
    claims = [f.claim for f in with_it]
    assert len(with_it) == len(rules.choose(summary())) + 1 <= 5
    assert "as the sheet expects" in claims[2]  # after agreement and complexity


def test_the_sheets_numbers_come_from_the_tables_with_each_ones_rank():
    import pandas as pd

    from explainlab.compare.summary import sheet_example

    iou = {"goldfish": 0.30, "kite": 0.10, "orange": 0.40, "racer": 0.20}
    agreement = pd.DataFrame(
        [
            {"key": k, "method": m, "measure": name, "value": v}
            for k, value in iou.items()
            for m, shift in (("gradcam", 0.0), ("scorecam", 0.5))
            for name, v in (("iou_area", value + shift), ("iou_area_chance", 0.05),
                            ("lime_area", value / 2))
        ]
    )  # fmt: skip
    complexity = pd.DataFrame({"key": list(iou), "edge_density": [0.1, 0.2, 0.3, 0.4]})
    found = sheet_example(agreement, "gradcam", complexity, {"goldfish": 0.7})
    assert found["images"] == 4
    assert found["simple"] == {"key": "goldfish", "iou": 0.30, "rank": 2, "chance": 0.05,
                               "ceiling": 0.7, "lime_area": 0.15,
                               "complexity": {"edge_density": 0.1}}  # fmt: skip
    assert (found["complex"]["rank"], found["complex"]["ceiling"]) == (4, None)
    without_kite = agreement[agreement["key"] != "kite"]
    assert sheet_example(without_kite, "gradcam", complexity, {}) is None


def test_choose_gives_three_to_five_findings():
    assert 3 <= len(rules.choose(summary())) <= 5


def test_the_family_reason_names_the_methods_compared_from_the_registry():
    """A method registered by the test alone is named, in its own words, in the reason."""
    from explainlab.methods import MethodSpec, Passes, register, unregister

    toy = MethodSpec(
        name="toycam",
        title="ToyCAM",
        colour="#F0E442",
        kind="cam",
        layer=True,
        passes=lambda channels, impl: Passes(forward=1),
        reference="ours",
        compute=lambda *args, **kwargs: None,
        about="weights each channel by a planted constant",
        cost_text="runs one forward pass",
    )
    register(toy)
    try:
        means = numbers()["agreement_mean"]
        means["toycam"] = {"iou_area": 0.45, "iou_area_chance": 0.09}
        found = rules.family(
            summary(cam_methods=["gradcam", "scorecam", "toycam"], agreement_mean=means)
        )
    finally:
        unregister("toycam")
    assert found is not None and found.claim == "ToyCAM agrees most with LIME, Grad-CAM least."
    assert "ToyCAM weights each channel by a planted constant" in found.reason
    assert "ScoreCAM weights each channel by the class's softmax score" in found.reason
    assert "AblationCAM" not in found.reason  # not compared: not named


def test_the_record_round_trips_through_summary_json():
    with_sheet = summary(sheet_example=sheet())
    assert with_sheet.sheet is not None and CompareFindings.of(with_sheet.to_json()) == with_sheet
    record = summary()
    assert record.findings and CompareFindings.of(record.to_json()) == record
    stored = numbers() | {"findings": [{"claim": "C", "evidence": "E", "reason": "R"}]}
    assert [f.claim for f in CompareFindings.of(stored).findings] == ["C"]  # as written


def test_summary_txt_and_report_4_state_the_same_findings(tmp_path):
    """Both render the one record: every finding's words are in both, none retyped."""
    import json

    import pandas as pd
    from pypdf import PdfReader

    from explainlab.assignment.report import compare_report
    from explainlab.assignment.report.common import RunFacts
    from explainlab.compare.summary import text
    from explainlab.report.markup import markdown

    means = numbers()["agreement_mean"]
    means["scorecam"]["iou_area"] = 0.40  # ranked: the family finding too
    record = summary(agreement_mean=means, label_mismatches=["img3"], sheet_example=sheet())
    assert any("as the sheet expects" in f.claim for f in record.findings)
    folder = tmp_path / "compare"
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps(record.to_json()))
    pd.DataFrame(
        [
            {"key": k, "method": m, "measure": name, "value": v}
            for k in record.keys
            for m in record.cam_methods
            for name, v in record.agreement_mean[m].items()
        ]
    ).to_csv(folder / "agreement.csv", index=False)
    pdf = compare_report.build(RunFacts.read(tmp_path), tmp_path / "4.pdf")
    report = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(str(pdf)).pages)
    summary_txt = " ".join(text(record).split())
    for finding in record.findings:
        for part in (finding.claim, finding.evidence, finding.reason):
            words = " ".join(markdown(part).split())
            assert words in summary_txt
            assert words.replace("**", "").replace("*", "") in report
    assert "CAM and LIME explain different classes for img3" in summary_txt
    assert "CAM and LIME explain different classes for img3" in report
