"""``explainlab evaluate`` and ``xl.evaluate``: the statistics of the card against hand
computations on planted numbers; the items of a folder, an ImageFolder tree and a CSV
(boxes mapped through the crop); the known answer (on the planted model a map of the box
ranks above RandomCAM on every faithfulness and localisation measure); resuming after an
interrupt; bad inputs listed in failures.csv; shards merged equal one run; and the
command on EfficientNet-Lite0 with the ten mission images."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import explainlab as xl
from explainlab.evaluation.card import bootstrap_interval, holm, paired_p, ranks, report_card
from explainlab.evaluation.dataset import Item, box_region, read_items
from explainlab.evaluation.shard import split
from explainlab.images import Geometry
from explainlab.measures import measure_names
from helpers import RedInBoxNet, huge_png_header, red_patches_image

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = Geometry(resize=48, crop=48)
CARD_FILES = (
    "values.csv",
    "agreement.csv",
    "images.csv",
    "card.csv",
    "ranks.csv",
    "significance.csv",
    "agreement_matrix.csv",
    "agreement_means.csv",
)


# --- statistics on planted numbers ------------------------------------------------------------


def test_holm_equals_the_hand_computation():
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    assert np.allclose(holm([0.2, 0.9]), [0.4, 0.9])
    assert np.allclose(holm([0.7, 0.8]), [1.0, 1.0])  # capped at 1, non-decreasing
    adjusted = holm([0.02, np.nan, 0.01])  # NaN does not count among the pairs
    assert np.isnan(adjusted[1]) and np.allclose(adjusted[[0, 2]], [0.02, 0.02])


def test_bootstrap_interval_equals_the_hand_computation():
    values = np.array([0.1, 0.4, np.nan, 0.35, 0.8, 0.2, 0.55])
    finite = values[np.isfinite(values)]
    rng = np.random.default_rng(5)
    means = [finite[rng.integers(0, 6, 6)].mean() for _ in range(300)]
    expected = np.quantile(means, [0.025, 0.975])
    np.testing.assert_allclose(bootstrap_interval(values, 5, resamples=300), expected)
    low, high = bootstrap_interval(values, 5)
    assert low < finite.mean() < high
    assert bootstrap_interval(values, 5) == bootstrap_interval(values, 5)  # seeded


def test_ranks_follow_the_direction_and_share_ties():
    assert ranks([0.2, 0.9, 0.5], "higher").tolist() == [3, 1, 2]
    assert ranks([0.2, 0.9, 0.5], "lower").tolist() == [1, 3, 2]
    assert ranks([0.5, 0.9, 0.5], "higher").tolist() == [2, 1, 2]
    assert np.isnan(ranks([0.2, 0.9], "neither")).all()
    out = ranks([0.2, np.nan, 0.5], "higher")
    assert out[0] == 2 and np.isnan(out[1]) and out[2] == 1


def test_paired_p_is_the_exact_wilcoxon():
    a = np.array([2.0, 4, 6, 8, 10])
    # every difference positive, ranks 1..5: the exact two-sided p is 2 / 2**5
    assert paired_p(a, a - np.arange(1, 6)) == pytest.approx(2 / 32)
    assert paired_p(a, a) == 1.0
    assert np.isnan(paired_p(a[:1], a[:1]))


def test_the_card_ranks_and_tests_planted_values():
    """Method a is better than c on every image by a margin, b is c plus noise: a ranks
    first on a "higher" measure and its difference to c is significant after Holm."""
    rng = np.random.default_rng(0)
    keys = [f"img{i:02d}" for i in range(20)]
    base = rng.random(20)
    planted = {"a": base + 1.0, "b": base + rng.normal(0, 0.01, 20), "c": base}
    values = pd.DataFrame(
        [
            {"key": k, "method": m, "measure": "sparseness", "value": v}
            for m, column in planted.items()
            for k, v in zip(keys, column, strict=True)
        ]
    )
    agreement = pd.DataFrame(
        [{"key": k, "method_a": "a", "method_b": "b", "measure": "pair_rho", "value": 0.5} for k in keys]
        + [{"key": k, "method_a": "a", "method_b": "c", "measure": "pair_rho", "value": -0.2} for k in keys]
        # another pair measure: in the means, not in the matrix
        + [{"key": k, "method_a": "b", "method_b": "c", "measure": "pair_iou_top", "value": 0.3} for k in keys],
        columns=["key", "method_a", "method_b", "measure", "value"],
    )  # fmt: skip
    costs = pd.DataFrame(
        [{"method": m, "images": 20, "seconds": 2.0, "forward": 1, "backward": 1} for m in "abc"]
    )
    card = report_card(values, agreement, costs, ["a", "b", "c"], ["sparseness"])
    table = card.card.set_index("method")
    assert table.loc["a", "rank"] == 1 and table.loc["a", "mean"] == pytest.approx(base.mean() + 1)
    assert (table["n"] == 20).all()
    tests = card.significance.set_index(["method_a", "method_b"])
    assert tests.loc[("a", "c"), "significant"] and tests.loc[("a", "c"), "better"] == "a"
    # Holm over the three pairs: the smallest p is multiplied by 3
    assert tests["p_holm"].min() == pytest.approx(3 * tests["p"].min())
    assert card.agreement.loc["a", "b"] == card.agreement.loc["b", "a"] == 0.5
    assert card.agreement.loc["a", "c"] == pytest.approx(-0.2)
    assert card.agreement.loc["c", "c"] == 1.0
    assert np.isnan(card.agreement.loc["b", "c"])
    means = card.pair_means.set_index(["measure", "method_a", "method_b"])
    assert means.loc[("pair_iou_top", "b", "c"), "mean"] == pytest.approx(0.3)
    assert means.loc[("pair_rho", "a", "c"), "images"] == len(keys)
    assert (card.costs["seconds_per_image"] == 0.1).all()


# --- the items --------------------------------------------------------------------------------


def test_a_box_is_mapped_through_the_resize_and_centre_crop():
    """A 200 x 100 image on Resize(50) -> CenterCrop(50): halved to 100 x 50, the crop
    starts at x = 25; the box x 80..180, y 20..60 lies at x 40..90 -> 15..50 (clipped),
    y 10..30 on the crop."""
    geometry = Geometry(resize=50, crop=50)
    region = box_region((80, 20, 180, 60), (200, 100), geometry)
    expected = np.zeros((50, 50), bool)
    expected[10:30, 15:50] = True
    assert (region == expected).all()
    # a box between pixels covers every crop pixel it touches
    assert box_region((81, 21, 83, 23), (200, 100), geometry).sum() == 2 * 2
    assert not box_region((0, 0, 40, 100), (200, 100), geometry).any()  # cropped away


def write_images(folder: Path, count: int, size=(56, 52), seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        path = folder / f"img{i:02d}.png"
        Image.fromarray(rng.integers(0, 256, (*size[::-1], 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def test_items_of_a_folder_an_imagefolder_tree_and_a_csv(tmp_path):
    names = ["tench", "goldfish", "great white shark"]
    write_images(tmp_path / "flat" / "sub", 2)
    write_images(tmp_path / "flat", 1)
    flat = read_items(tmp_path / "flat", names)
    assert [i.key for i in flat] == ["img00.png", "sub/img00.png", "sub/img01.png"]
    assert all(i.label is None for i in flat)
    write_images(tmp_path / "tree" / "goldfish", 1)
    write_images(tmp_path / "tree" / "Great_White_Shark", 1)
    write_images(tmp_path / "tree" / "zebra", 1)
    tree = {i.key: (i.label, i.label_name) for i in read_items(tmp_path / "tree", names)}
    assert tree == {
        "Great_White_Shark/img00.png": (2, "Great_White_Shark"),
        "goldfish/img00.png": (1, "goldfish"),
        "zebra/img00.png": (None, "zebra"),  # no such class: recorded as given
    }
    table = tmp_path / "set.csv"
    table.write_text(
        "path,label,x0,y0,x1,y1\nflat/img00.png,goldfish,1,2,30,40\nflat/sub/img01.png,0,,,,\n"
    )
    first, second = read_items(table, names)
    assert (first.label, first.box, Path(first.path)) == (
        1,
        (1, 2, 30, 40),
        tmp_path / "flat/img00.png",
    )
    assert (second.label, second.box) == (0, None)
    assert Item.from_dict(first.to_dict()) == first


def test_split_cuts_between_batches():
    items = [Item(key=str(i), path=str(i)) for i in range(10)]
    parts = split(items, 3, batch_size=3)
    assert [len(p) for p in parts] == [6, 4]  # 4 batches of 3 in 2 shards: 2 + 2
    assert list(itertools.chain(*parts)) == items


# --- the known answer: the planted model ------------------------------------------------------

BOX, DISTRACTOR, PLANT = (16, 16, 48, 48), (0, 40, 16, 64), 64
CHEAP = {  # cheaper than the defaults, as separating (tests/test_measures_model.py)
    "road_morf": {"percentiles": [30, 70]},
    "road_lerf": {"percentiles": [30, 70]},
    "faithfulness_correlation": {"runs": 30, "subset_size": 512},
    "monotonicity_correlation": {"samples": 2},
    "infidelity": {"samples": 8},
}


class Tempered(torch.nn.Module):
    """The planted model's logits divided by 4 (its probability about 0.9, so that a
    perturbation moves it)."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x) / 4


GREEN = (48, 0, 64, 16)  # a green patch: no evidence, but RandomCAM's heaviest channel


def box_map(model, layer, x, target) -> np.ndarray:
    """The known answer: 1 in the box, 0 elsewhere."""
    top, left, bottom, right = BOX
    out = np.zeros((PLANT, PLANT), np.float32)
    out[top:bottom, left:right] = 1.0
    return out


@pytest.fixture
def boxcam():
    from explainlab.methods import MethodSpec, Passes, register, unregister

    register(
        MethodSpec(
            name="boxcam",
            title="BoxCAM",
            colour="#010203",
            kind="cam",
            layer=True,
            passes=lambda channels, impl: Passes(forward=0),
            reference="ours",
            compute=box_map,
            cost_text="nothing",
        )
    )
    yield "boxcam"
    unregister("boxcam")


def test_on_the_planted_model_the_box_ranks_above_randomcam(tmp_path, boxcam):
    """Evidence only in the box (the CSV gives the boxes in the images' pixels): a method
    that marks the box ranks above RandomCAM on every faithfulness and localisation
    measure of the card."""
    net = RedInBoxNet(BOX, size=PLANT)
    model = xl.wrap(
        Tempered(net).eval(), geometry=Geometry(resize=PLANT, crop=PLANT), layer="net.features"
    )
    rows = ["path,x0,y0,x1,y1"]
    top, left, bottom, right = BOX
    for seed in range(6):
        name = f"planted{seed}.png"
        image = red_patches_image(BOX, DISTRACTOR, size=PLANT, seed=seed)
        image[GREEN[0] : GREEN[2], GREEN[1] : GREEN[3]] = (0, 255, 0)
        Image.fromarray(image).save(tmp_path / name)
        rows.append(f"{name},{left},{top},{right},{bottom}")
    (tmp_path / "boxes.csv").write_text("\n".join(rows) + "\n")
    measures = measure_names("model") + measure_names("map-region")
    found = xl.evaluate(
        model,
        tmp_path / "boxes.csv",
        [boxcam, "randomcam"],
        measures,
        tmp_path / "out",
        batch_size=4,
        options=CHEAP,
        progress=False,
        report=False,
    )
    card = found.card.card.set_index(["measure", "method"])
    for measure in measures:
        box, random = card.loc[(measure, boxcam)], card.loc[(measure, "randomcam")]
        assert box["n"] == random["n"] == 6, measure
        assert box["rank"] < random["rank"], (measure, box["mean"], random["mean"])


# --- streaming: resume, failures, shards ------------------------------------------------------


@pytest.fixture(scope="module")
def small_model():
    from torchvision.models import resnet18

    torch.manual_seed(0)
    return xl.wrap(resnet18(num_classes=10).eval(), geometry=SMALL, name="resnet18")


def run(model, images, out, **options):
    options = {
        "methods": ["gradcam", "randomcam"],
        "measures": ["confidence_drop", "sparseness"],
        "batch_size": 2,
        "progress": False,
        "report": False,
        **options,
    }
    return xl.evaluate(model, images, out=out, **options)


def same_tables(a: Path, b: Path) -> None:
    for name in CARD_FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_an_interrupted_run_resumes_from_the_last_finished_batch(tmp_path, small_model):
    write_images(tmp_path / "images", 9)
    run(small_model, tmp_path / "images", tmp_path / "whole")

    def stop_after_two(done, total):
        if done == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(small_model, tmp_path / "images", tmp_path / "cut", on_batch=stop_after_two)
    partial = tmp_path / "cut" / "shards" / ".shard-0000.partial"
    kept = sorted(p.name for p in partial.glob("batch-*"))
    assert kept == ["batch-000000", "batch-000001"]
    stamps = [(partial / k / "values.csv").stat().st_mtime_ns for k in kept]
    seen = []
    run(small_model, tmp_path / "images", tmp_path / "cut", on_batch=lambda d, t: seen.append(d))
    assert seen == [6, 8, 9]  # the three batches left, counted on from the two kept
    shard = tmp_path / "cut" / "shards" / "shard-0000"
    assert [(shard / k / "values.csv").stat().st_mtime_ns for k in kept] == stamps
    same_tables(tmp_path / "whole", tmp_path / "cut")
    seen.clear()  # a finished shard is not recomputed
    run(small_model, tmp_path / "images", tmp_path / "cut", on_batch=lambda d, t: seen.append(d))
    assert seen == []


def test_shards_merged_equal_one_run(tmp_path, small_model):
    from explainlab.evaluation.merge import merge_shards
    from explainlab.evaluation.plan import Plan
    from explainlab.evaluation.shard import evaluate_shard

    write_images(tmp_path / "images", 7)
    whole = run(small_model, tmp_path / "images", tmp_path / "whole")
    items = read_items(tmp_path / "images", small_model.class_names)
    folders = []
    for i, part in enumerate(split(items, 2, whole.plan.batch_size)):
        folder = tmp_path / "sharded" / "shards" / f"shard-{i:04d}"
        evaluate_shard(small_model, part, folder, whole.plan, progress=False)
        folders.append(folder)
    merge_shards(list(reversed(folders)), tmp_path / "sharded", figure=False, report=False)
    same_tables(tmp_path / "whole", tmp_path / "sharded")
    assert Plan.from_dict(whole.plan.to_dict()) == whole.plan


def bad_inputs(folder: Path) -> dict[str, str]:
    """Good images beside a corrupt, a truncated, a huge and a non-image file, and a
    grayscale image (which is evaluated); {file: a word of the reason it fails}."""
    write_images(folder, 3, size=(60, 50))
    Image.fromarray(np.full((50, 60), 90, np.uint8), "L").save(folder / "grey.png")
    good = folder / "img00.png"
    Image.open(good).save(folder / "whole.jpg")
    data = (folder / "whole.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    corrupt = bytearray(data)
    corrupt[2:40] = b"\x00" * 38
    (folder / "corrupt.jpg").write_bytes(bytes(corrupt))
    (folder / "whole.jpg").unlink()
    huge_png_header(folder / "huge.png", 40_000, 40_000)
    (folder / "notes.txt").write_text("not an image\n")
    return {
        "corrupt.jpg": "corrupt",
        "truncated.jpg": "truncated",
        "huge.png": "megapixels",
        "notes.txt": "not an image",
    }


def test_bad_inputs_are_listed_and_the_others_evaluated(tmp_path, small_model):
    expected = bad_inputs(tmp_path / "images")
    found = run(small_model, tmp_path / "images", tmp_path / "out")
    failures = pd.read_csv(tmp_path / "out" / "failures.csv")
    assert sorted(failures["key"]) == sorted(expected)
    for key, reason in zip(failures["key"], failures["reason"], strict=True):
        assert expected[key] in reason and key in reason
    evaluated = sorted(found.tables["images.csv"]["key"])
    assert evaluated == ["grey.png", "img00.png", "img01.png", "img02.png"]
    assert (found.card.card["n"] == 4).all()


def test_the_command_exits_1_when_inputs_fail(tmp_path, capsys):
    from explainlab.cli import main

    bad_inputs(tmp_path / "images")
    for name in ("img01.png", "img02.png", "grey.png"):  # two left: a cheap run
        (tmp_path / "images" / name).unlink()
    status = main(
        [
            "evaluate",
            "--images", str(tmp_path / "images"),
            "--model", "timm:resnet10t:none",
            "--methods", "gradcam",
            "--measures", "sparseness",
            "--no-report",
            "--out", str(tmp_path / "out"),
        ]
    )  # fmt: skip
    assert status == 1
    assert "4 input(s) could not be processed" in capsys.readouterr().err
    assert len(pd.read_csv(tmp_path / "out" / "failures.csv")) == 4
    assert len(pd.read_csv(tmp_path / "out" / "images.csv")) == 1


# --- integration: EfficientNet-Lite0 on the ten ------------------------------------------------


def test_evaluate_on_lite0_with_the_mission_images(tmp_path, mirror, capsys):
    from explainlab.cli import main

    status = main(
        [
            "evaluate",
            "--images", "mission",
            "--model", "efficientnet_lite0",
            "--device", "cpu",
            "--methods", "gradcam", "layercam",
            "--measures", "confidence_drop", "confidence_increase", "sparseness", "complexity",
            "--batch-size", "5",
            "--out", str(tmp_path / "card"),
        ]
    )  # fmt: skip
    assert status == 0, capsys.readouterr().err
    out = tmp_path / "card"
    for name in (*CARD_FILES, "costs.csv", "failures.csv", "card.png", "report_card.pdf"):
        assert (out / name).is_file(), name
    card = pd.read_csv(out / "card.csv")
    assert len(card) == 8 and (card["n"] == 10).all()
    assert ((card["low"] <= card["mean"]) & (card["mean"] <= card["high"])).all()
    images = pd.read_csv(out / "images.csv")
    assert (images["label"] == images["predicted"]).sum() >= 7  # about 8 of the 10 right
    matrix = pd.read_csv(out / "agreement_matrix.csv", index_col="method")
    assert matrix.loc["gradcam", "layercam"] > 0.5  # two gradient CAMs of one layer agree
    with open(out / "significance.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 4  # one pair, four measures
