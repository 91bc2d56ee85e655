"""Label stability across runs of the same model: hand-made runs with known agreement,
the verdict on a run against the reference, and the two reference runs of the mirror."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from explainlab.dissect import stability, tables
from explainlab.dissect.analysis import analyze, analyze_runs, collect_runs, reference_run_paths
from explainlab.dissect.categories import CategoryMap
from explainlab.dissect.findings import Headlines
from explainlab.errors import InputError

CMAP = CategoryMap(categories={"dog": "object", "sky": "object", "cat": "object", "red": "color"})


def _write(path: Path, rows: list[tuple]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["layer", "unit", "description", "similarity"]).to_csv(
        path, index=False
    )
    return path


def _two_runs(folder: Path) -> list[Path]:
    # l1: units 0 and 2 keep their label (1/2); l2: both do (1); all layers: 4 of 6
    a = _write(
        folder / "m_run_a.csv",
        [("l1", 0, "dog", 0.9), ("l1", 1, "dog", 0.2), ("l1", 2, "sky", 0.85),
         ("l1", 3, "red", 0.1), ("l2", 0, "cat", 0.5), ("l2", 1, "car", 0.4)],
    )  # fmt: skip
    b = _write(
        folder / "m_run_b.csv",
        [("l1", 0, "dog", 0.8), ("l1", 1, "sky", 0.3), ("l1", 2, "sky", 0.8),
         ("l1", 3, "sky", 0.2), ("l2", 0, "cat", 0.5), ("l2", 1, "car", 0.4)],
    )  # fmt: skip
    return [a, b]


def _groups(paths) -> list[stability.RunGroup]:
    return stability.group_runs([tables.read_descriptions(p) for p in paths])


def test_run_names_and_models_from_file_names(tmp_path):
    a, b = _two_runs(tmp_path)
    d = tables.read_descriptions(a)
    assert (d.name, d.model, d.run, d.source, d.label) == ("m_run_a", "m", "a", "ours", "m_run_a")
    ours = _write(tmp_path / "runX" / "dissect" / "m" / "descriptions.csv", [("l1", 0, "dog", 1)])
    assert tables.read_descriptions(ours).run == "runX"
    assert tables.model_of("resnet18_places365_run_b.csv") == "resnet18_places365"
    (group,) = _groups([a, b])
    assert (group.model, group.names, group.layers) == ("m", ["a", "b"], ["l1", "l2"])


def test_agreement_counts_and_concept_stability_known_answers(tmp_path):
    groups = _groups(_two_runs(tmp_path))
    agreement = stability.run_agreement(groups).set_index("layer")
    assert agreement.loc["l1", ["units", "same_label"]].tolist() == [4, 2]
    assert agreement.loc["l1", "same_label_rate"] == 1 / 2
    assert agreement.loc["l2", "same_label_rate"] == 1.0
    assert agreement.loc[tables.ALL_LAYERS, "same_label_rate"] == 4 / 6

    counts = stability.run_counts(groups, CMAP)
    l1 = counts[counts.layer == "l1"].set_index("run")
    assert l1.distinct_concepts.to_dict() == {"a": 3, "b": 2}
    # objects: run a dog (2 units), sky (1); run b dog (1), sky (3)
    assert l1.distinct_object.to_dict() == {"a": 2, "b": 2}
    assert l1.units_object.to_dict() == {"a": 3, "b": 4}
    ranges = stability.count_ranges(counts).set_index(["layer", "measure"])
    assert ranges.loc[("l1", "distinct_concepts"), ["min", "max", "spread"]].tolist() == [2, 3, 1]
    assert ranges.loc[("l2", "distinct_concepts"), "spread"] == 0

    concepts = stability.concept_stability(groups).set_index(["layer", "concept"])
    # dog: a {0, 1}, b {0}; sky: a {2}, b {1, 2, 3}; red: a {3} only
    assert concepts.loc[("l1", "dog"), ["units_kept", "units_any", "status"]].tolist() == [
        1,
        2,
        stability.PARTLY,
    ]
    assert concepts.loc[("l1", "sky"), ["units_main", "units_min", "units_max"]].tolist() == [
        1,
        1,
        3,
    ]
    assert concepts.loc[("l1", "red"), "status"] == stability.FLIPS
    assert concepts.loc[("l2", "cat"), "status"] == stability.STABLE


def test_agreement_rises_with_similarity_known_answer(tmp_path):
    by = stability.stability_by_similarity(_groups(_two_runs(tmp_path)), bands=2)
    l1 = by[by.layer == "l1"].set_index("band")
    # run a's lowest half: units 3 (0.1) and 1 (0.2), both relabelled; highest: 2 and 0
    assert l1.same_label_rate.to_dict() == {1: 0.0, 2: 1.0}
    assert (l1.loc[1, "similarity_from"], l1.loc[2, "similarity_to"]) == (0.1, 0.9)
    pooled = by[by.layer == tables.ALL_LAYERS].set_index("band")
    # l2's two units (both kept) join bands 1 and 2: 1 of 3, then 3 of 3
    assert pooled.same_label_rate.to_dict() == {1: 1 / 3, 2: 1.0}
    rises = stability.rises_with_similarity(by).set_index("layer")
    assert rises.loc["l1", ["lowest_band", "highest_band", "rises"]].tolist() == [0.0, 1.0, True]
    assert not rises.loc["l2", "rises"]  # 1.0 in both bands


def test_three_runs_pairwise_and_unanimous(tmp_path):
    paths = [
        _write(tmp_path / f"m_run_{r}.csv", [("l", u, w, 0.5) for u, w in enumerate(words)])
        for r, words in (("a", "xyz"), ("b", "xyw"), ("c", "xqz"))
    ]
    agreement = stability.run_agreement(_groups(paths))
    rates = {(r.run_a, r.run_b): r.same_label_rate for r in agreement.itertuples()}
    assert rates == {
        ("a", "b"): 2 / 3,
        ("a", "c"): 2 / 3,
        ("b", "c"): 1 / 3,
        ("all", "3 runs"): 1 / 3,
    }


def test_headline_findings_hold_or_flip(tmp_path):
    net_a = _write(
        tmp_path / "net_run_a.csv", [("l", 0, "dog", 1), ("l", 1, "dog", 1), ("l", 2, "sky", 1)]
    )
    net_b = _write(
        tmp_path / "net_run_b.csv", [("l", 0, "dog", 1), ("l", 1, "sky", 1), ("l", 2, "sky", 1)]
    )
    places_a = _write(
        tmp_path / "net_places_run_a.csv",
        [("l", 0, "room", 1), ("l", 1, "room", 1), ("l", 2, "dog", 1)],
    )
    places_b = _write(
        tmp_path / "net_places_run_b.csv",
        [("l", 0, "room", 1), ("l", 1, "room", 1), ("l", 2, "cat", 1)],
    )
    groups = _groups([net_a, places_a, net_b, places_b])
    found = stability.headline_findings(groups, CMAP)
    key = found.set_index(["finding", "model", "subject", "replicate"])
    # net's top concept: dog (2 units) in run a, sky (2 units) in run b
    assert key.loc[("top concept", "net", "", "a"), "value"] == "dog"
    assert key.loc[("top concept", "net", "", "b"), "value"] == "sky"
    assert not key.loc[("top concept", "net", "", "a"), "holds"]
    assert key.loc[("top concept", "net_places", "", "b"), "holds"]  # room in both
    pair = "net vs net_places"
    # distinct: 2 against 2 in both runs; objects: net dog+sky (2) vs dog (1), then
    # sky+dog (2) vs cat (1)
    assert key.loc[("more distinct concepts", pair, "", "a"), "value"] == "equal"
    assert key.loc[("more object concepts", pair, "", "b"), "value"] == "net"
    assert key.loc[("more object concepts", pair, "", "a"), "holds"]
    # the watched over-represented concepts come from run a: sky in net, room in places
    over = found[found.finding == "over-represented in"].set_index(["subject", "replicate"])
    assert over.loc[("room", "b"), "value"] == "net_places" and over.loc[("room", "a"), "holds"]
    assert over.loc[("dog", "a"), "value"] == "net"  # 2 units against 1 ...
    assert over.loc[("dog", "b"), "value"] == "net"  # ... then 1 against 0
    # 9 findings: top concept and top three of each model, the two counts, three concepts;
    # net's top concept flips, and so do net_places's top three (cat for dog in run b)
    assert not key.loc[("top three concepts", "net_places", "", "a"), "holds"]
    headlines = Headlines.of(found)
    assert (headlines.held, len(headlines.checks)) == (7, 9)
    assert headlines.flips[0].values == (("a", "dog"), ("b", "sky"))  # net's top concept


def test_our_run_against_the_reference_known_answer(tmp_path):
    ref_a = _write(tmp_path / "m_run_a.csv", [("l", u, w, 0.5) for u, w in enumerate("abcd")])
    ref_b = _write(tmp_path / "m_run_b.csv", [("l", u, w, 0.5) for u, w in enumerate("abce")])
    ours = _write(
        tmp_path / "run" / "dissect" / "m" / "descriptions.csv",
        [("l", u, w, 0.5) for u, w in enumerate("abxe")],
    )
    refs = [tables.read_descriptions(p, source="published") for p in (ref_a, ref_b)]
    agreement, _ = tables.published_agreement([tables.read_descriptions(ours)], refs, CMAP)
    assert agreement.same_concept_rate.tolist() == [2 / 4, 3 / 4]
    self_agreement = stability.reference_self_agreement(refs)
    assert self_agreement.same_label_rate.tolist() == [3 / 4]
    verdict = stability.reference_verdicts(agreement, self_agreement).iloc[0]
    assert (verdict.ours_min, verdict.ours_max, verdict.ours_mean) == (0.5, 0.75, 0.625)
    assert verdict.reference_self == 0.75 and not verdict.as_close


def test_bad_runs_get_one_clear_error(tmp_path, wordnet):
    a, _ = _two_runs(tmp_path)
    short = _write(tmp_path / "short" / "m_run_c.csv", [("l1", u, "dog", 0.5) for u in range(3)])
    with pytest.raises(InputError, match=r"l1 labels 4 units in one and 3 in the other"):
        _groups([a, short])
    other = _write(tmp_path / "other" / "m_run_d.csv", [("l9", 0, "dog", 0.5)])
    with pytest.raises(InputError, match="two runs of m without a layer in common"):
        _groups([a, other])
    # two files of one model both analysed (not given as runs): no stability, no error
    assert "run_agreement.csv" not in analyze([a, other], tmp_path / "two").tables
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty: a folder without .csv files"):
        collect_runs([tmp_path / "empty"])
    with pytest.raises(InputError, match="given twice: .*m_run_a.csv"):
        analyze([a], tmp_path / "out", runs=[a])
    lone = _write(tmp_path / "lone" / "x_run_a.csv", [("l1", 0, "dog", 0.5)])
    with pytest.raises(InputError, match="no model has two runs"):
        analyze_runs([a, lone], tmp_path / "out")


# --- the two reference runs of the mirror ---------------------------------------------


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("resnet18", {"layer2": 0.89, "layer3": 0.83, "layer4": 0.90}),
        ("resnet18_places365", {"layer2": 0.92, "layer3": 0.92, "layer4": 0.91}),
    ],
)
def test_reference_runs_agree_as_measured(model, expected, mirror):
    run_a, run_b = reference_run_paths([model])
    assert (run_a.name, run_b.name) == (f"{model}_run_a.csv", f"{model}_run_b.csv")
    (group,) = _groups([run_a, run_b])
    agreement = stability.run_agreement([group]).set_index("layer")
    # the same counts, taken straight from the CSV files
    a = {(r["layer"], r["unit"]): r["description"] for r in _read(run_a)}
    b = {(r["layer"], r["unit"]): r["description"] for r in _read(run_b)}
    assert a.keys() == b.keys()
    for layer, rate in expected.items():
        same = sum(a[k] == b[k] for k in a if k[0] == layer)
        units = sum(k[0] == layer for k in a)
        assert agreement.loc[layer, ["units", "same_label"]].tolist() == [units, same]
        assert round(agreement.loc[layer, "same_label_rate"], 2) == rate

    counts = stability.run_counts([group], CMAP).set_index(["run", "layer"])
    for run, rows in (("a", _read(run_a)), ("b", _read(run_b))):
        for layer in expected:
            distinct = {r["description"].strip() for r in rows if r["layer"] == layer}
            assert counts.loc[(run, layer), "distinct_concepts"] == len(distinct)
