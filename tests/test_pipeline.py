"""The whole run on the offline model: every stage, every file, reports, resume, fallback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader

from explainlab.assignment.cost import CostModel
from explainlab.assignment.scoreboard import defaults_from_tuner
from explainlab.cli import main
from explainlab.config import load_config
from explainlab.errors import MissingAssetsError
from explainlab.models import load_model
from explainlab.pipeline import run_pipeline, summary
from helpers import explainlab_process
from pdfcheck import assert_pages_not_blank
from reportcheck import (
    FigureLog,
    broken_words,
    final_path,
    foreign_numbers,
    free_values,
    report_text,
)

KEYS = ("goldfish", "kite")


def small_config(
    root: Path,
    name: str,
    *,
    model: str = "efficientnet_lite0",
    stages: tuple[str, ...] | None = None,
    cam_methods=("gradcam", "ablationcam", "scorecam"),
    output_root: Path | None = None,
    lime_params: str = "tuned",
) -> Path:
    """A run config with the offline model, two images and tiny settings everywhere."""
    stage_line = f"stages = {json.dumps(list(stages))}\n" if stages else ""
    text = f"""
[run]
name = "{name}"
output_root = "{output_root or root / "results"}"
device = "cpu"
{stage_line}
[images]
sources = {json.dumps(list(KEYS))}
[cam]
model = "{model}"
methods = {json.dumps(list(cam_methods))}
[tune]
model = "{model}"
budget_minutes = 0.2
[tune.reference]
seeds = 2
num_samples = 60
[tune.space]
num_samples = [30, 40]
[lime]
model = "{model}"
params = "{lime_params}"
[scoreboard]
cutoff = 60.0
[compare]
steps = 6
random_repeats = 1
sanity_images = 1
sanity_max_steps = 2
sanity_methods = ["gradcam", "lime"]
lime_samples = 30
"""
    path = root / f"{name}.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def figure_log():
    """Every figure the module's runs draw, and where their reports print them."""
    with pytest.MonkeyPatch.context() as patch:
        yield FigureLog().install(patch)


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory, mirror, figure_log, wordnet):
    root = tmp_path_factory.mktemp("pipeline")
    config = load_config(small_config(root, "small"))
    outcome = run_pipeline(config)
    return config.run_dir, outcome


def test_lime_defaults_are_scored_once(offline_run):
    """The scoreboard takes lime's defaults from the tuner's baseline runs (same reference,
    same cost model), not running them again; another hypothesis would run them."""
    run_dir, _ = offline_run
    board = pd.read_csv(run_dir / "lime_score" / "scoreboard_defaults.csv").set_index("key")
    trials = pd.read_csv(run_dir / "lime_tune" / "trials.csv")
    base = trials[(trials["kind"] == "baseline") & (trials["mask_k"] == 5)].set_index("key")
    assert list(board.index) == list(KEYS) and board["seconds"].isna().all()
    assert np.allclose(board["iou"], base.loc[board.index, "iou"], atol=1e-6)
    assert np.allclose(board["cost_seconds"], base.loc[board.index, "cost_seconds"], atol=1e-4)
    assert (board["num_samples"] == 1000).all() and (board["label"] == base["label"]).all()
    model = load_model("efficientnet_lite0", "cpu")
    prices = CostModel.load(run_dir / "lime_tune" / "cost_model.json")
    tune = run_dir / "lime_tune"
    assert defaults_from_tuner(tune, model, KEYS, "crop", prices) is not None
    assert defaults_from_tuner(tune, model, KEYS, "full", prices) is None
    assert defaults_from_tuner(tune, model, [*KEYS, "orange"], "crop", prices) is None
    other = CostModel.load(run_dir / "lime_tune" / "cost_model.json")
    other.fit_seconds *= 2
    assert defaults_from_tuner(tune, model, KEYS, "crop", other) is None


def test_every_stage_writes_its_files(offline_run):
    run_dir, outcome = offline_run
    assert list(outcome.results) == [
        "dissect",
        "cam",
        "tune",
        "lime",
        "scoreboard",
        "compare",
        "report",
        "view",
    ]
    expected = [
        "manifest.json",
        "predictions.csv",
        "dissect/analysis/summary.md",
        "dissect/analysis/concept_counts.csv",
        "cam/predictions.csv",
        "cam/timings.csv",
        "lime_tune/params.json",
        "lime_tune/pareto.png",
        "lime/params.pkl",
        "lime/params.json",
        "lime/timings.csv",
        "lime_score/scoreboard_run.csv",
        "lime_score/scoreboard_defaults.csv",
        "compare/agreement.csv",
        "compare/faithfulness.csv",
        "compare/sanity.csv",
        "compare/summary.json",
        "view/index.html",
        "view/data.js",
    ]
    for key in KEYS:
        expected += [f"cam/{key}/{m}.npy" for m in ("gradcam", "ablationcam", "scorecam")]
        expected += [
            f"cam/{key}/panel.png",
            f"lime/{key}/mask.npy",
            f"lime/{key}/segments.npy",
            f"compare/{key}/panel.png",
        ]
    missing = [name for name in expected if not (run_dir / name).is_file()]
    assert not missing
    assert not list(run_dir.glob(".*.partial"))


def test_manifest_records_the_run(offline_run):
    run_dir, _ = offline_run
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["config"]["cam"]["model"] == "efficientnet_lite0"
    assert set(manifest["stages"]) == {
        "dissect",
        "cam",
        "tune",
        "lime",
        "scoreboard",
        "compare",
        "report",
        "view",
    }
    assert manifest["stages"]["tune"]["folder"] == "lime_tune"
    assert all(s["seconds"] >= 0 for s in manifest["stages"].values())
    assert manifest["seeds"]["lime"] == 0 and manifest["packages"]["lime"] == "0.2.0.1"
    assert len(manifest["images"]["goldfish"]["sha256"]) == 64
    assert len(manifest["models"]["efficientnet_lite0"]["weights_sha256"]) == 64
    assert manifest["stand_in"] is None


def test_reports_have_real_pages(offline_run):
    run_dir, _ = offline_run
    reports = run_dir / "reports"
    names = [
        "1_dissection.pdf",
        "2_cam.pdf",
        "3_lime.pdf",
        "4_comparison.pdf",
        "explainlab_report.pdf",
    ]
    counts = {}
    for name in names:
        counts[name] = len(assert_pages_not_blank(reports / name))
    assert counts["explainlab_report.pdf"] == sum(counts[n] for n in names[:4])
    cam_text = " ".join(p.extract_text() for p in PdfReader(str(reports / "2_cam.pdf")).pages)
    predictions = pd.read_csv(run_dir / "cam" / "predictions.csv")
    # the text is built from the run's numbers: the prediction and its probability appear
    kite = predictions.set_index("key").loc["kite"]
    assert kite["top1_name"] in cam_text and f"{100 * kite['top1_prob']:.0f}%" in cam_text
    assert "STAND-IN MODEL" in cam_text  # the offline model is not the assignment's


# the files each report's numbers come from (its tables under reports/tables/ too)
REPORT_SOURCES = {
    "1_dissection.pdf": ("dissect",),
    "2_cam.pdf": ("cam", "predictions.csv"),
    # the tables report 3 reads (the tuner's trials hold nearly every two-decimal IoU)
    "3_lime.pdf": (
        "lime",
        "lime_tune/summary.csv",
        "lime_tune/choice.json",
        "lime_tune/hypothesis.json",
        "lime_tune/fingerprint.json",
        "lime_score/scoreboard_run.csv",
        "lime_score/scoreboard_defaults.csv",
        "lime_score/fingerprint.json",
    ),
    # the tables report 4 reads: the dense curve and sweep files (every probability of
    # every deletion step) would hold nearly every two-decimal value, and the check could
    # not fail
    "4_comparison.pdf": (
        "compare/summary.json",
        "compare/agreement.csv",
        "compare/ceiling.csv",
        "compare/correlations.csv",
        "compare/faithfulness_summary.csv",
        "compare/sanity.csv",
        "compare/fingerprint.json",
        "cam/fingerprint.json",
    ),
}
MAIN_PAGES = {"1_dissection.pdf": 1, "2_cam.pdf": 2, "3_lime.pdf": 2, "4_comparison.pdf": 1}


def _sources(run_dir: Path, name: str) -> list[Path]:
    tables = run_dir / "reports" / "tables" / Path(name).stem
    return [run_dir / "manifest.json", tables, *(run_dir / s for s in REPORT_SOURCES[name])]


@pytest.mark.parametrize("name", list(REPORT_SOURCES))
def test_every_number_in_a_report_is_the_runs(offline_run, name):
    run_dir, _ = offline_run
    sources = _sources(run_dir, name)
    assert foreign_numbers(run_dir / "reports" / name, sources) == []
    # the check can fail: two-decimal values exist that none of these files holds
    assert len(free_values(sources, decimals=2)) > 10


def test_page_one_is_the_deliverable(offline_run):
    from explainlab.report.pdf import main_pages

    run_dir, _ = offline_run
    reports = run_dir / "reports"
    firsts = []
    for name, most in MAIN_PAGES.items():
        reader = PdfReader(str(reports / name))
        main = main_pages(reader)
        assert 1 <= main <= most < len(reader.pages), (name, main, len(reader.pages))
        page_one = " ".join(reader.pages[0].extract_text().split())
        assert "The question." in page_one and "Findings" in page_one, name
        assert "In the appendix" in page_one, name
        firsts.append(" ".join(reader.pages[main - 1].extract_text().split()))
    combined = PdfReader(str(reports / "explainlab_report.pdf"))
    total = sum(main_pages(PdfReader(str(reports / n))) for n in MAIN_PAGES)
    texts = [" ".join(p.extract_text().split()) for p in combined.pages[:total]]
    assert [t for t in texts if t in firsts] == firsts  # every main part first, in order
    assert not any("Appendix" in t.split("In the appendix")[0] for t in texts)


def test_the_stand_in_is_stated_once_beside_the_banner(offline_run):
    run_dir, _ = offline_run
    for name in ("2_cam.pdf", "3_lime.pdf", "4_comparison.pdf"):
        content = " ".join(report_text(run_dir / "reports" / name).split())
        assert content.count("STAND-IN MODEL") == len(
            PdfReader(str(run_dir / "reports" / name)).pages
        )
        assert content.count("Stand-in:") == 1, name
        assert content.count("whose weights this run did not have") == 1, name


def test_figures_print_legibly(offline_run, figure_log):
    from explainlab.plotting import MIN_FONT_PT

    assert set(figure_log.placed) >= set(MAIN_PAGES)
    assert figure_log.problems(MIN_FONT_PT) == []


def test_no_table_cell_of_a_report_breaks_a_word(offline_run, figure_log):
    run_dir, _ = offline_run
    for name in MAIN_PAGES:
        cells = figure_log.cells[final_path(run_dir / "reports" / name)]
        assert cells, name
        assert broken_words(run_dir / "reports" / name, cells) == [], name


def _picture_rows(path: Path) -> int:
    """Lines of pictures in a saved map grid: the runs of ink (a pixel not near white)
    taller than 0.3 in down a vertical line through its last column."""
    from PIL import Image

    with Image.open(path) as image:
        darkest = np.asarray(image.convert("RGB")).min(axis=2)
        tall = 0.3 * image.info["dpi"][1]
    ink = darkest[:, darkest.shape[1] - darkest.shape[1] // 12] < 235
    edges = np.flatnonzero(np.diff(np.concatenate([[0], ink.astype(int), [0]])))
    return int(sum(end - start > tall for start, end in zip(edges[::2], edges[1::2], strict=True)))


def test_report_2_maps_every_image_one_row_each_in_its_two_pages(offline_run, tmp_path):
    from explainlab.assignment.report import cam_report
    from explainlab.assignment.report.common import RunFacts
    from explainlab.report.pdf import main_pages

    run_dir, _ = offline_run
    reader = PdfReader(str(run_dir / "reports" / "2_cam.pdf"))
    assert main_pages(reader) == 2
    assert "Every image's maps" in reader.pages[1].extract_text()
    keys = list(pd.read_csv(run_dir / "cam" / "predictions.csv")["key"])
    grid = run_dir / "reports" / "figures" / "2_cam" / cam_report.GRID_FILE
    assert _picture_rows(grid) == len(keys)
    facts = RunFacts.read(run_dir)
    _, tables, _ = cam_report.read_tables(facts, tmp_path)
    labels = [row.label.splitlines() for row in cam_report.grid_rows(facts, tables)]
    assert [label[0] for label in labels] == [k.replace("_", " ") for k in keys]
    assert all(label[1].startswith("top-1: ") for label in labels)


def test_report_4_and_the_summary_state_the_sheets_example(offline_run):
    from explainlab.compare.findings import CompareFindings
    from explainlab.report.markup import markdown

    run_dir, _ = offline_run
    record = CompareFindings.read(run_dir / "compare")
    (example,) = [f for f in record.findings if "(simple)" in f.claim]
    reader = PdfReader(str(run_dir / "reports" / "4_comparison.pdf"))
    page_one = " ".join(reader.pages[0].extract_text().split())
    summary_txt = " ".join((run_dir / "compare" / "summary.txt").read_text().split())
    for part in (example.claim, example.evidence, example.reason):
        words = " ".join(markdown(part).split())
        assert words in summary_txt
        assert words.replace("**", "").replace("*", "") in page_one
    assert "rank 1 of 2" in example.evidence and "rank 2 of 2" in example.evidence


def test_reports_are_sized_for_sharing(offline_run, tmp_path):
    from explainlab.assignment.bundle import make_bundle
    from explainlab.assignment.report.build import MAX_COMBINED_BYTES, MAX_REPORT_BYTES

    run_dir, _ = offline_run
    for name in MAIN_PAGES:
        assert (run_dir / "reports" / name).stat().st_size <= MAX_REPORT_BYTES, name
    assert (run_dir / "reports" / "explainlab_report.pdf").stat().st_size <= MAX_COMBINED_BYTES
    bundle = make_bundle(7, run_dir, tmp_path)
    assert not bundle.oversized and any("reports/tables/" in n for n, _ in bundle.entries)


def test_rerun_skips_every_stage_and_prints_no_estimate(offline_run, capsys):
    run_dir, first = offline_run
    assert not any(r.skipped for r in first.results.values())
    capsys.readouterr()
    again = run_pipeline(load_config(run_dir.parent.parent / "small.toml"))
    assert list(again.results) == list(first.results)
    assert all(result.skipped for result in again.results.values()), {
        name: result.skipped for name, result in again.results.items()
    }
    assert "estimate (" not in capsys.readouterr().out


def test_force_recomputes_one_stage_from_nothing(offline_run, capsys):
    run_dir, _ = offline_run
    again = run_pipeline(load_config(run_dir.parent.parent / "small.toml"), force=["cam"])
    skipped = {name: result.skipped for name, result in again.results.items()}
    assert not skipped["cam"] and skipped["tune"] and skipped["lime"]
    assert "estimate (cpu): cam" in capsys.readouterr().out  # it has work to do: announced


def _outputs(run_dir: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    for path in sorted((run_dir / "cam").rglob("*.npy")):
        out[str(path.relative_to(run_dir))] = np.load(path)
    out["predictions"] = pd.read_csv(run_dir / "cam" / "predictions.csv")
    return out


def _cli(config: Path) -> subprocess.Popen:
    return explainlab_process(["run", "--config", str(config)])


def test_killed_run_resumes_to_the_same_outputs(tmp_path, mirror):
    config = small_config(tmp_path, "killed", stages=("cam",))
    process = _cli(config)
    partial = tmp_path / "results" / "killed" / ".cam.partial"
    deadline = time.time() + 300
    while (
        time.time() < deadline
        and not (partial / KEYS[0] / ".done").exists()
        and process.poll() is None
    ):
        time.sleep(0.2)
    assert process.poll() is None, "the run ended before it could be interrupted"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    run_dir = tmp_path / "results" / "killed"
    assert not (run_dir / "cam").exists()  # nothing half-written is presented as a result
    assert _cli(config).wait() == 0
    reference = small_config(tmp_path, "uninterrupted", stages=("cam",))
    assert _cli(reference).wait() == 0
    resumed, clean = _outputs(run_dir), _outputs(tmp_path / "results" / "uninterrupted")
    assert resumed.keys() == clean.keys()
    for key, value in clean.items():
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(resumed[key], value)
        else:
            np.testing.assert_array_equal(resumed[key], value, err_msg=key)


def test_missing_weights_get_a_stand_in_and_keep_the_users_config(
    tmp_path, torch_home, mirror, capsys
):
    asked = small_config(
        tmp_path, "asked", model="resnet50", stages=("cam", "report"), cam_methods=("gradcam",)
    )
    offline = small_config(tmp_path, "standin", stages=("cam", "report"), cam_methods=("gradcam",))
    outcome = run_pipeline(load_config(asked), offline_config=offline)
    config = outcome.config
    # the user's run (stages, images), under its own name; only the missing model's table
    # is the stand-in's
    assert config.run.name == "asked-stand-in" and config.run.stages == ("cam", "report")
    assert config.images.sources == KEYS and config.cam.model == "efficientnet_lite0"
    assert config.lime.model == "resnet50"  # lime was not asked for: left as it was
    assert list(outcome.results) == ["cam", "report"]
    err = capsys.readouterr().err
    assert "resnet50-11ad3fa6.pth" in err and "efficientnet_lite0 stands in for resnet50" in err
    manifest = json.loads((config.run_dir / "manifest.json").read_text())
    assert "resnet50-11ad3fa6.pth" in manifest["stand_in"]
    assert manifest["dissect_fallback"] is None
    pages = PdfReader(str(config.run_dir / "reports" / "2_cam.pdf")).pages
    assert all("STAND-IN MODEL" in page.extract_text() for page in pages)
    with pytest.raises(MissingAssetsError):
        run_pipeline(load_config(asked), strict=True, offline_config=offline)
    assert main(["run", "--config", str(asked), "--strict"]) == 2


# what the dissection of the assignment needs and this machine lacks
DISSECT_INPUTS = (
    "resnet18-f37072fd.pth",
    "resnet18_places365.pth.tar",
    "ViT-B-16.pt",
    "broden1_224.zip",
)


def test_only_the_asked_stages_inputs_count(tmp_path, torch_home, mirror, capsys, wordnet):
    """A dissection-only config offline: the dissection falls back to the reference
    runs, announced everywhere; no other stage runs although [cam]'s model is missing."""
    asked = small_config(tmp_path, "dissect_only", model="resnet50", stages=("dissect", "report"))
    outcome = run_pipeline(load_config(asked))
    assert outcome.config.run.name == "dissect_only" and not outcome.stand_in
    assert list(outcome.results) == ["dissect", "report"]
    err = capsys.readouterr()
    for name in DISSECT_INPUTS:  # named up front, all of them
        assert name in err.err
    assert "resnet50-11ad3fa6.pth" not in err.err  # cam was not asked for
    assert "DISSECTION FALLBACK" in summary(outcome)
    manifest = json.loads((outcome.config.run_dir / "manifest.json").read_text())
    assert "broden1_224.zip" in manifest["dissect_fallback"] and manifest["stand_in"] is None
    assert manifest["stages"]["dissect"]["published_fallback"]
    report = PdfReader(str(outcome.config.run_dir / "reports" / "1_dissection.pdf"))
    assert all("REFERENCE CLIP-Dissect RUNS" in page.extract_text() for page in report.pages)


def test_strict_makes_a_missing_dissection_input_an_error(tmp_path, torch_home, mirror, capsys):
    asked = small_config(tmp_path, "strict_dissect", stages=("dissect", "cam"))
    with pytest.raises(MissingAssetsError) as err:
        run_pipeline(load_config(asked), strict=True)
    assert set(DISSECT_INPUTS) <= set(err.value.names)
    assert not (tmp_path / "results" / "strict_dissect").exists()  # refused before any work
    assert main(["run", "--config", str(asked), "--strict"]) == 2
    printed = capsys.readouterr().err
    assert all(name in printed for name in DISSECT_INPUTS)


def test_a_moved_mirror_and_a_copied_run_are_still_up_to_date(tmp_path, monkeypatch, mirror):
    """Inputs are identified by content: the same images through another mirror folder,
    and a run folder copied elsewhere, hit the cache."""
    import shutil

    from explainlab import assets
    from explainlab.images import MISSION_IMAGES

    first = tmp_path / "mirror-a"
    first.mkdir()
    for image in MISSION_IMAGES:
        if image.key in KEYS:
            shutil.copy(mirror / "imagenet-samples" / image.filename, first / image.filename)
    monkeypatch.setenv("EXPLAINLAB_MIRROR", str(first))
    assets._mirror_index.cache_clear()
    stages = ("cam", "lime")
    config = small_config(
        tmp_path, "moved", stages=stages, cam_methods=("gradcam",), lime_params=""
    )
    assert not any(r.skipped for r in run_pipeline(load_config(config)).results.values())

    moved = first.rename(tmp_path / "mirror-b")
    monkeypatch.setenv("EXPLAINLAB_MIRROR", str(moved))
    assets._mirror_index.cache_clear()
    again = run_pipeline(load_config(config))
    assert all(r.skipped for r in again.results.values())

    copied_root = tmp_path / "elsewhere"
    shutil.copytree(tmp_path / "results", copied_root)
    copy = small_config(
        tmp_path,
        "moved",
        stages=stages,
        cam_methods=("gradcam",),
        lime_params="",
        output_root=copied_root,
    )
    from_copy = run_pipeline(load_config(copy))
    assert all(r.skipped for r in from_copy.results.values())
