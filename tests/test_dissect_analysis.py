"""The analysis of descriptions.csv files: tables on hand-made inputs with known answers,
Broden categories, montages, and every table and figure on the published results."""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from explainlab import assets
from explainlab.cli import main
from explainlab.dissect import tables
from explainlab.dissect.analysis import (
    analyze,
    analyze_published,
    analyze_run,
    reference_run_paths,
)
from explainlab.dissect.categories import (
    SOURCE_NETDISSECT,
    SOURCE_NOT_BRODEN,
    SOURCE_PLACES,
    SOURCE_UNKNOWN,
    SOURCE_ZIP,
    CategoryMap,
    categories_from_zip,
    load_category_map,
    normalize,
)
from explainlab.dissect.montage import make_montages
from explainlab.errors import InputError

PUBLISHED_PLACES = "resnet18_places_imagenet_broden.csv"
SINGLE_MODEL_TABLES = {
    "concept_counts.csv",
    "distinct_concepts.csv",
    "concept_categories.csv",
    "concentration.csv",
    "similarity_stats.csv",
    "concept_layer_matrix.csv",
    "model_overlap.csv",
    "shared_concepts.csv",
    "over_represented.csv",
    "published_agreement.csv",
    "published_agreement_units.csv",
    "fc_accuracy.csv",
    "category_shares.csv",
    "category_coverage.csv",
    "category_trend.csv",
    "category_contrast.csv",
    "concept_count_ranges.csv",
}


def _write(path: Path, rows: list[tuple], similarity: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ["layer", "unit", "description", "similarity"][: 4 if similarity else 3]
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)
    return path


def _frame(name: str, rows, dataset="imagenet") -> tables.Descriptions:
    table = pd.DataFrame(rows, columns=["layer", "unit", "description"])
    return tables.Descriptions(
        name=name,
        model=name,
        dataset=dataset,
        source="ours",
        path=Path(f"/x/{name}.csv"),
        table=table,
    )


# --- tables on hand-made inputs ---------------------------------------------------------


def test_model_names_from_files(tmp_path):
    published = _write(tmp_path / PUBLISHED_PLACES, [("layer4", 0, "dog", 0.3)])
    d = tables.read_descriptions(published)
    assert (d.name, d.model, d.dataset, d.source) == (
        "resnet18_places",
        "resnet18_places365",
        "places365",
        "published",
    )
    ours = _write(
        tmp_path / "run" / "dissect" / "resnet18" / "descriptions.csv", [("fc", 0, "x", 1)]
    )
    d = tables.read_descriptions(ours)
    assert (d.name, d.model, d.dataset, d.source) == ("resnet18", "resnet18", "imagenet", "ours")
    assert tables.canonical_model("resnet50_imagenet_broden") == "resnet50"
    assert tables.canonical_model("resnet18_places365") == "resnet18_places365"


def test_unreadable_descriptions_name_the_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("unit,label\n0,dog\n")
    with pytest.raises(InputError, match=r"bad.csv: missing column\(s\) layer, description"):
        tables.read_descriptions(bad)
    with pytest.raises(InputError, match="no such file"):
        tables.read_descriptions(tmp_path / "nowhere.csv")
    (tmp_path / "empty.csv").write_text("layer,unit,description\n")
    with pytest.raises(InputError, match="no units"):
        tables.read_descriptions(tmp_path / "empty.csv")


def test_counts_distinct_and_concentration_known_answers():
    d = _frame(
        "m",
        [("l1", 0, "dog"), ("l1", 1, "dog"), ("l1", 2, "sky"), ("l1", 3, "red"),
         ("l2", 0, "dog"), ("l2", 1, "grass")],
    )  # fmt: skip
    counts = tables.concept_counts([d])
    l1 = counts[counts.layer == "l1"]
    assert l1[["concept", "units", "rank"]].values.tolist() == [
        ["dog", 2, 1],
        ["red", 1, 2],
        ["sky", 1, 3],
    ]
    assert l1.share.tolist() == [0.5, 0.25, 0.25]
    pooled = counts[counts.layer == tables.ALL_LAYERS]
    assert pooled.iloc[0].concept == "dog" and pooled.iloc[0].units == 3

    cmap = CategoryMap(categories={"dog": "object", "sky": "object", "red": "color"})
    distinct = tables.distinct_concepts([d], cmap).set_index("layer")
    assert distinct.loc["l1", "distinct_concepts"] == 3
    assert distinct.loc["l1", "distinct_object"] == 2 and distinct.loc["l1", "units_object"] == 3
    assert distinct.loc["l1", "distinct_color"] == 1 and distinct.loc["l2", "distinct_other"] == 1

    conc = tables.concentration([d]).set_index("layer")
    # l1: shares 1/2, 1/4, 1/4 -> 1.5 bits; log2(4 units) = 2
    assert conc.loc["l1", "entropy_bits"] == pytest.approx(1.5)
    assert conc.loc["l1", "normalized_entropy"] == pytest.approx(0.75)
    assert conc.loc["l1", "effective_concepts"] == pytest.approx(2**1.5)
    assert conc.loc["l1", "top1_share"] == 0.5
    assert conc.loc["l2", "gini"] == pytest.approx(0.0)  # two concepts, one unit each
    # Gini of counts (1, 1, 2): (2*1-3-1)*1 + (2*2-3-1)*1 + (2*3-3-1)*2 = 2, over 3*4
    assert conc.loc["l1", "gini"] == pytest.approx(2 / 12)


def test_overlap_jaccard_and_over_representation():
    a = _frame("a", [("l4", 0, "dog"), ("l4", 1, "dog"), ("l4", 2, "cat"), ("l4", 3, "sky")])
    b = _frame("b", [("l4", 0, "sky"), ("l4", 1, "bedroom"), ("l4", 2, "dog")], "places365")
    overlap, shared = tables.model_overlap([a, b])
    row = overlap.iloc[0]
    assert (row.model_a, row.model_b) == ("a", "b")  # ImageNet model first
    assert (row.shared, row.only_a, row.only_b) == (2, 1, 1)
    assert row.jaccard == pytest.approx(2 / 4)
    assert row.units_a_on_shared == pytest.approx(3 / 4) and row.units_b_on_shared == pytest.approx(
        2 / 3
    )
    assert shared.concept.tolist() == ["dog", "sky"]
    over = tables.over_represented([a, b]).set_index("concept")
    # shares with 0.5 pseudo counts over 4 concepts: dog (2.5/6) / (1.5/5)
    assert over.loc["dog", "log2_ratio"] == pytest.approx(math.log2((2.5 / 6) / (1.5 / 5)))
    assert over.loc["bedroom", "favours"] == "b" and over.loc["cat", "favours"] == "a"


def test_fc_accuracy_against_class_names():
    names = {"imagenet": ["tench, Tinca tinca", "goldfish, Carassius auratus", "great white shark"]}
    d = _frame(
        "r", [("fc", 0, "tench"), ("fc", 1, "Goldfish"), ("fc", 2, "whale"), ("layer4", 0, "x")]
    )
    acc = tables.fc_accuracy([d], names)
    assert acc[["units", "correct"]].values.tolist() == [[3, 2]]
    assert acc.accuracy.iloc[0] == pytest.approx(2 / 3)
    places = _frame("p", [("fc", 0, "bakery-shop"), ("fc", 1, "airfield")], "places365")
    acc = tables.fc_accuracy([places], {"places365": ["bakery/shop", "alley"]})
    assert acc.correct.iloc[0] == 1


def test_agreement_with_published_labels(tmp_path):
    ours_path = _write(
        tmp_path / "run" / "dissect" / "resnet18_places365" / "descriptions.csv",
        [("layer4", 0, "dog", 1.0), ("layer4", 1, "bedroom", 1.0), ("layer4", 2, "red", 1.0)],
    )
    pd.DataFrame(
        [("layer4", 0, 1, "dog", 1.0), ("layer4", 1, 1, "bedroom", 1.0), ("layer4", 1, 2, "kitchen", 0.5),
         ("layer4", 2, 1, "red", 1.0), ("layer4", 2, 2, "blue", 0.4)],
        columns=["layer", "unit", "rank", "concept", "similarity"],
    ).to_csv(ours_path.parent / "top_concepts.csv", index=False)  # fmt: skip
    ref_path = _write(
        tmp_path / PUBLISHED_PLACES,
        [("layer4", 0, "dog", 0.2), ("layer4", 1, "kitchen", 0.2), ("layer4", 2, "blue", 0.2),
         ("conv1", 0, "red", 0.1)],
    )  # fmt: skip
    ours, ref = tables.read_descriptions(ours_path), tables.read_descriptions(ref_path)
    cmap = CategoryMap(
        categories={
            "dog": "object",
            "bedroom": "scene",
            "kitchen": "scene",
            "red": "color",
            "blue": "color",
        }
    )
    agreement, units = tables.published_agreement([ours], [ref], cmap)
    row = agreement.iloc[0]
    assert (row.layer, row.units, row.same_concept) == ("layer4", 3, 1)
    assert row.same_category_rate == 1.0  # dog/dog, bedroom/kitchen, red/blue
    assert row.published_in_our_top5_rate == 1.0
    assert units.same.tolist() == [True, False, False]


# --- Broden categories ------------------------------------------------------------------


def test_normalize_follows_the_cleaned_broden_names():
    assert normalize("wine_cellar/bottle_storage-s") == "wine cellar-bottle storage"
    assert normalize("red-c") == "red" and normalize(" Dog ") == "dog"


def test_categories_from_broden_tables(tmp_path):
    path = tmp_path / "broden1_224.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(
            "broden1_224/c_object.csv",
            "code,number,name,frequency,coverage\n1,5,dog,9,0.9\n2,6,sky,9,0.2\n",
        )
        z.writestr(
            "broden1_224/c_scene.csv", "code,number,name,frequency,coverage\n1,7,sky-s,5,0.5\n"
        )
        z.writestr("broden1_224/c_part.csv", "code,number,name,frequency,coverage\n1,5,dog,1,0.1\n")
    assert categories_from_zip(path) == {"dog": "object", "sky": "object", "sky-s": "scene"}
    cmap = load_category_map(broden_zip=path)
    assert cmap.category("dog") == "object" and cmap.source("dog") == SOURCE_ZIP


def test_offline_category_map_from_the_mirror(mirror):
    cmap = load_category_map()
    assert cmap.category("red") == "color" and cmap.source("red") == SOURCE_NETDISSECT
    assert cmap.category("dotted") == "texture"
    assert cmap.category("wine cellar-bottle storage") == "scene"
    assert cmap.source("wine cellar-bottle storage") in (SOURCE_NETDISSECT, SOURCE_PLACES)
    # a Broden scene that neither offline source names stays 'other', and says why
    assert cmap.category("elevator-freight elevator") == "other"
    assert cmap.source("elevator-freight elevator") == SOURCE_UNKNOWN
    assert cmap.category("juvenile") == "other" and cmap.source("juvenile") == SOURCE_NOT_BRODEN
    assert any("broden1_224.zip is not available" in n for n in cmap.notes)


# --- montages ---------------------------------------------------------------------------


def test_montage_from_top_images(tmp_path, mirror):
    folder = tmp_path / "dissect" / "m"
    samples = sorted((mirror / "imagenet-samples").glob("*.JPEG"))
    _write(
        folder / "descriptions.csv",
        [("layer4", 0, "fish", 0.9), ("layer4", 1, "fish", 0.5), ("layer4", 2, "bird", 0.4)],
    )
    pd.DataFrame(
        {
            "probe_index": range(len(samples) + 1),
            "path": [*map(str, samples), str(tmp_path / "gone.jpg")],
        }
    ).to_csv(folder / "probe_images.csv", index=False)
    rows = [
        ("layer4", u, r + 1, (u * 3 + r) % 11, 1.0 - r / 10) for u in range(3) for r in range(5)
    ]
    pd.DataFrame(rows, columns=["layer", "unit", "rank", "probe_index", "activation"]).to_csv(
        folder / "top_images.csv", index=False
    )
    d = tables.read_descriptions(folder / "descriptions.csv")
    counts = tables.concept_counts([d])
    result = make_montages(d, counts, tmp_path / "out", concepts=2, images=5)
    assert [p.name for p in result.paths] == ["montage_m_fish.png", "montage_m_bird.png"]
    assert all(p.is_file() and p.stat().st_size > 10_000 for p in result.paths)
    assert result.missing_images == 1  # probe index 10 points at a deleted file
    published = tables.read_descriptions(_write(tmp_path / PUBLISHED_PLACES, [("l", 0, "x", 1.0)]))
    assert "no top_images.csv" in make_montages(published, counts, tmp_path / "out").reason


# --- the whole analysis -------------------------------------------------------------------


def test_analysis_of_the_published_places_file(tmp_path, mirror, wordnet):
    path = assets.fetch(PUBLISHED_PLACES)
    outcome = analyze([path], tmp_path / "analysis")
    assert set(outcome.tables) == SINGLE_MODEL_TABLES and all(
        p.is_file() for p in outcome.tables.values()
    )
    assert set(outcome.figures) == {
        "top_concepts_resnet18_places.png",
        "category_shares.png",
        "distinct_concepts.png",
        "similarity.png",
        "concept_layer_heatmap.png",
        "concentration.png",
    }
    for figure in outcome.figures.values():
        with Image.open(figure) as image:
            assert image.width >= 1000  # 7 inches at 200 dpi: legible in print
    raw = pd.read_csv(path)
    # the published file holds one model, ResNet18-Places365, conv1 to layer4
    assert raw.layer.value_counts().to_dict() == {
        "layer4": 512,
        "layer3": 256,
        "layer2": 128,
        "layer1": 64,
        "conv1": 64,
    }
    counts = pd.read_csv(outcome.tables["concept_counts.csv"])
    layer4 = counts[counts.layer == "layer4"]
    expected = raw[raw.layer == "layer4"].description.value_counts()
    assert layer4.units.sum() == 512 and layer4.units.iloc[0] == expected.iloc[0]
    distinct = pd.read_csv(outcome.tables["distinct_concepts.csv"]).set_index("layer")
    assert (
        distinct.loc["layer4", "distinct_concepts"]
        == raw[raw.layer == "layer4"].description.nunique()
    )
    summary = outcome.summary.read_text()
    n = distinct.loc["layer4", "distinct_concepts"]
    assert f"in layer4: {n} distinct concepts for 512 units" in summary
    assert f"'{expected.index[0]}' ({expected.iloc[0]} units" in summary
    assert "Only one model was given" in summary
    assert "are neither (those count as 'other')" in summary
    # unchanged inputs: the analysis is up to date
    assert analyze([path], tmp_path / "analysis").skipped


def test_offline_fallback_analyses_both_published_models(tmp_path, mirror, wordnet):
    outcome = analyze_published(tmp_path / "run", "CLIP weights are not available offline")
    assert outcome.folder == tmp_path / "run" / "dissect" / "analysis"
    assert {"model_overlap.png", "over_represented.png", "top_concepts_resnet50.png"} <= set(
        outcome.figures
    )
    overlap = pd.read_csv(outcome.tables["model_overlap.csv"])
    assert overlap.model_a.iloc[0] == "resnet50 (published)"  # the ImageNet model first
    assert set(overlap.layer) == {
        "conv1",
        "layer1",
        "layer2",
        "layer3",
        "layer4",
        tables.ALL_LAYERS,
    }
    summary = outcome.summary.read_text()
    assert "PUBLISHED CLIP-Dissect results" in summary and "not available offline" in summary
    row = overlap[overlap.layer == "layer4"].iloc[0]
    assert f"{row.shared} shared concepts (Jaccard {row.jaccard:.2f})" in summary


def test_cli_analyze(tmp_path, mirror, capsys, wordnet):
    path = _write(tmp_path / "mine.csv", [("layer4", 0, "dog", 0.3), ("layer4", 1, "sky", 0.2)])
    out = tmp_path / "analysis"
    assert main(["dissect", "analyze", str(path), "--out", str(out)]) == 0
    assert (out / "summary.md").is_file() and "summary" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["dissect", "analyze", str(bad), "--out", str(tmp_path / "x")]) == 2
    assert "bad.csv: missing column" in capsys.readouterr().err
    assert main(["dissect", "analyze"]) == 2


def test_stage_falls_back_to_the_reference_runs_offline(tmp_path, mirror, wordnet):
    from explainlab.dissect.settings import DissectSettings
    from explainlab.dissect.stage import run_dissect_stage

    settings = DissectSettings(cache_dir=str(tmp_path / "cache"))  # Broden, CLIP: not offline
    with pytest.raises(assets.MissingAssetsError, match="broden1_224.zip"):
        run_dissect_stage(settings, tmp_path / "run", allow_published_fallback=False)
    outcome = run_dissect_stage(settings, tmp_path / "run")
    assert outcome.dissect is None and "broden1_224.zip" in outcome.fallback_reason
    assert "reference CLIP-Dissect code's runs" in outcome.fallback_reason
    assert outcome.analysis.folder == tmp_path / "run" / "dissect" / "analysis"
    sources = json.loads((outcome.analysis.folder / "sources.json").read_text())
    assert sources["kind"] == "reference_runs"
    # the assignment's two models, run a analysed, run b for the stability
    assert [m["label"] for m in sources["models"]] == [
        "resnet18 (run a)",
        "resnet18_places365 (run a)",
    ]
    assert sources["runs"] == {"resnet18": ["a", "b"], "resnet18_places365": ["a", "b"]}
    summary = outcome.analysis.summary.read_text()
    assert "PUBLISHED" not in summary and "not computed here" in summary
    assert "layer3 213 of 256 units (83%)" in summary  # resnet18's least stable layer
    assert "layer2 118 of 128 units (92%)" in summary  # Places365's
    distinct = pd.read_csv(outcome.analysis.tables["distinct_concepts.csv"])
    assert set(distinct.model) == {"resnet18 (run a)", "resnet18_places365 (run a)"}
    assert "label_stability.png" in outcome.analysis.figures


def test_a_run_is_judged_against_the_reference_runs(tmp_path, mirror, wordnet):
    """A dissection of resnet18 (here: run b with 100 layer4 units relabelled) is compared
    with both reference runs, beside their agreement with each other."""
    run_a, run_b = reference_run_paths(["resnet18"])
    ours = pd.read_csv(run_b, keep_default_na=False)
    relabel = (ours.layer == "layer4") & (ours.unit < 100)
    ours.loc[relabel, "description"] = "no such concept"
    folder = tmp_path / "run" / "dissect" / "resnet18"
    folder.mkdir(parents=True)
    ours.to_csv(folder / "descriptions.csv", index=False)
    outcome = analyze_run(tmp_path / "run")
    verdicts = pd.read_csv(outcome.tables["reference_verdicts.csv"]).set_index("layer")
    a = pd.read_csv(run_a, keep_default_na=False)
    for layer in ("layer2", "layer3", "layer4"):
        mine, theirs = ours[ours.layer == layer], a[a.layer == layer]
        with_a = (mine.description.to_numpy() == theirs.description.to_numpy()).mean()
        with_b = 1 - relabel[ours.layer == layer].mean()
        self_rate = (
            pd.read_csv(run_b, keep_default_na=False)
            .query("layer == @layer")
            .description.to_numpy()
            == theirs.description.to_numpy()
        ).mean()
        row = verdicts.loc[layer]
        assert row.ours_min == pytest.approx(min(with_a, with_b))
        assert row.ours_max == pytest.approx(max(with_a, with_b))
        assert row.reference_self == pytest.approx(self_rate)
        assert row.as_close == ((with_a + with_b) / 2 >= self_rate)
    # run b itself is as close as can be; the relabelled layer4 is not
    assert verdicts.loc["layer2", "as_close"] and not verdicts.loc["layer4", "as_close"]
    summary = outcome.summary.read_text()
    assert "less close to the reference than the reference is to itself" in summary
    assert "published_agreement.png" in outcome.figures


def test_imagenet_class_names_count_as_objects_and_formations_as_scenes():
    from explainlab.dissect.categories import imagenet_categories

    lines = (
        ["tench, Tinca tinca"]
        + [f"class {i}" for i in range(1, 970)]
        + ["alp", "bubble", "cliff, drop"]
    )
    found = imagenet_categories("\n".join(lines))
    assert found["tench"] == found["Tinca tinca"] == "object"
    assert found["alp"] == found["drop"] == "scene" and found["bubble"] == "object"


def test_category_map_names_imagenet_objects_offline(mirror):
    from explainlab.dissect.categories import SOURCE_IMAGENET, load_category_map

    cmap = load_category_map()
    assert (
        cmap.category("goldfish") == "object" and cmap.source("Boston terrier") == SOURCE_IMAGENET
    )
    assert cmap.category("seashore") == "scene"
    assert cmap.category("dotted") == "texture"  # a Broden label keeps Broden's category
    assert cmap.category("juvenile") == "other"
