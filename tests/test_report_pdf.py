"""The PDF builder: real pages with text, figures, tables and the stand-in banner."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from pypdf import PdfReader

from explainlab import runfolder
from explainlab.report.pdf import Report, merge_pdfs, text
from pdfcheck import assert_pages_not_blank, rendered_pages
from reportcheck import broken_words


def _figure(path):
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(np.arange(10), np.arange(10) ** 2)
    ax.set_title("quadratic")
    runfolder.save_figure(fig, path)
    plt.close(fig)
    return path


def test_report_with_figure_table_and_banner(tmp_path):
    report = Report(
        title="Test report",
        subtitle="run: test",
        banner="STAND-IN MODEL: EfficientNet-Lite0",
        footer="explainlab test",
    )
    report.heading("Numbers")
    report.paragraph(f"Spearman's ρ = 0.42 (p = 0.23); {text('<not markup> & co')} ✓")
    report.bullets(["first", "second"])
    report.figure(_figure(tmp_path / "f.png"), caption="A figure.")
    report.table([["goldfish", 0.95], ["kite", 0.48]], header=["image", "p"], caption="A table.")
    report.page_break()
    report.paragraph("Second page.")
    path = report.save(tmp_path / "r.pdf")
    pages = assert_pages_not_blank(path, min_pages=2)
    # the banner is drawn on every page: the top strip has its orange-ish fill
    for page in pages:
        top = page[: page.shape[0] // 12]
        assert ((top[..., 0] > 240) & (top[..., 2] < 220)).mean() > 0.01
    content = PdfReader(str(path)).pages[0].extract_text()
    assert "Spearman" in content and "STAND-IN MODEL" in content and "goldfish" in content


def test_merge_keeps_every_page(tmp_path):
    parts = []
    for i in range(2):
        r = Report(title=f"Part {i}")
        r.paragraph("text " * 50)
        parts.append(r.save(tmp_path / f"p{i}.pdf"))
    merged = merge_pdfs(parts, tmp_path / "all.pdf")
    assert len(rendered_pages(merged)) == 2
    assert [o.title for o in PdfReader(str(merged)).outline] == ["Part 0", "Part 1"]


def test_table_headers_are_never_broken_mid_word():
    from reportlab.pdfbase.pdfmetrics import stringWidth

    from explainlab.report.pdf import CELL_PADDING, fit_columns, word_widths

    header = ["image", "samples", "segmentation", "batch"]
    widths = [60.0, 30.0, 120.0, 20.0]
    fitted = fit_columns(widths, word_widths(header, [], 7.5))
    assert sum(fitted) == pytest.approx(sum(widths))  # the table keeps its width
    for word, width in zip(header, fitted, strict=True):
        assert width >= stringWidth(word, "DejaVu-Bold", 7.5) + CELL_PADDING - 1e-9
    assert fitted[2] < widths[2] and fitted[0] <= widths[0]  # taken from the roomy ones
    assert fit_columns([10.0, 10.0], word_widths(["samples", "batch"], [], 7.5)) is None


def test_a_word_too_wide_for_any_layout_shrinks_the_text_not_the_word():
    from explainlab.report.pdf import MIN_CELL_FONT_PT, table_layout, word_widths

    rows = [["Ridge(alpha=0.1)", "1"]]
    widths, size = table_layout([80.0, 80.0], ["regressor", "n"], rows, 7.5)
    assert size == 7.5 and widths[0] >= word_widths(["regressor", "n"], rows, 7.5)[0]
    widths, size = table_layout([40.0, 40.0], ["regressor", "n"], rows, 7.5)
    assert MIN_CELL_FONT_PT <= size < 7.5 and sum(widths) >= 80.0 - 1e-9


def test_the_pickle_table_prints_every_value_whole(tmp_path):
    """Report 3's pickle table, its regressor column as narrow as the report sets it:
    ``Ridge(alpha=0.1)`` prints on one line, as every other value of it does."""
    from explainlab.assignment.report.lime_report import pickle_section

    lime = tmp_path / "lime"
    default = {"num_samples": 1000, "segmentation_fn": None, "hide_color": None,
               "top_labels": 5, "model_regressor": None, "num_features": 100000,
               "batch_size": 10, "random_seed": 0}  # fmt: skip
    tuned = default | {
        "num_samples": 150,
        "top_labels": 1,
        "model_regressor": {"class": "Ridge", "alpha": 0.1},
        "segmentation_fn": {"algo_type": "slic", "n_segments": 100, "compactness": 10.0},
    }
    params = {"West_Highland_white_terrier": default, "kite": tuned, "goldfish": tuned}
    runfolder.write_json(lime / "params.json", params)
    report = Report(title="pickle")
    pickle_section(report, lime)
    path = report.save(tmp_path / "r.pdf")
    assert "Ridge(alpha=0.1)" in report.cells and "n_segments=100," in " ".join(report.cells)
    assert broken_words(path, report.cells) == []


def test_dissection_report_of_the_reference_runs(tmp_path, mirror, wordnet):
    """The offline fallback's report 1: both ResNet18s of the reference runs, said on
    every page, with the label stability measured between the runs."""
    from explainlab.assignment.report import dissect_report
    from explainlab.assignment.report.common import RunFacts
    from explainlab.dissect.analysis import analyze_reference_runs

    run = tmp_path / "run"
    analyze_reference_runs(run, "the dissection needs files that are not available here (x)")
    path = dissect_report.build(RunFacts.read(run), tmp_path / "1_dissection.pdf")
    assert_pages_not_blank(path, min_pages=3)
    pages = [page.extract_text() for page in PdfReader(str(path)).pages]
    assert all("REFERENCE CLIP-Dissect RUNS ANALYSED" in page for page in pages)
    content = " ".join(" ".join(pages).split())
    assert "resnet18 (run a) (ImageNet)" in content
    assert "resnet18_places365 (run a) (Places365)" in content
    assert "not computed here" in content and "PUBLISHED" not in content
    # page 1: the question, the findings, then the appendix on the next pages
    from explainlab.report.pdf import main_pages

    assert main_pages(PdfReader(str(path))) == 1
    first = " ".join(pages[0].split())
    assert "The question." in first and "Findings" in first and "Appendix" not in first
    assert "in both models and in both runs" in first  # the progression holds in both
    # the concepts learned by most neurons (the numbers of run a), with their range
    # over the runs, and the share of every layer's units with a WordNet category
    assert "ImageNet 'dotted' 60 (57–60), 'textile' 23 (23–24), 'checker' 20 (19–20)" in first
    assert "Places365 'dotted' 49 (47–49), 'checker' 26 (25–26), 'textile' 23" in first
    assert "WordNet 3.0 gives a category to 95%–98% of the units of every layer" in first
    # the stability of the labels (appendix), and counts with their range over the runs
    assert "ImageNet 89%, 83%, 90%; Places365 92%, 92%, 91%" in content
    assert "resnet18: layer2 89%, layer3 83%, layer4 90%" in content
    assert "resnet18_places365: layer2 92%, layer3 92%, layer4 91%" in content
    assert "278 (276–278)" in content  # resnet18's distinct concepts in layer4


def test_the_combined_pdf_puts_every_main_part_first(tmp_path):
    parts = []
    for i in range(2):
        r = Report(title=f"Part {i}")
        r.paragraph(f"main text of part {i}")
        r.appendix()
        r.paragraph(f"appendix text of part {i}")
        parts.append(r.save(tmp_path / f"p{i}.pdf"))
        assert r.main_pages == 1
    merged = PdfReader(str(merge_pdfs(parts, tmp_path / "all.pdf")))
    texts = [page.extract_text() for page in merged.pages]
    assert [("main" in t, "appendix text" in t) for t in texts] == [
        (True, False),
        (True, False),
        (False, True),
        (False, True),
    ]
    assert "part 0" in texts[0] and "part 1" in texts[1] and "part 0" in texts[2]
    assert [o.title for o in merged.outline] == [
        "Part 0",
        "Part 1",
        "Part 0 (appendix)",
        "Part 1 (appendix)",
    ]


def test_figures_are_embedded_at_print_resolution(tmp_path):
    """A photograph of 3000 px printed 8 cm wide goes in as a ~630 px JPEG."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    photo = tmp_path / "photo.png"
    Image.fromarray(rng.integers(0, 256, (2000, 3000, 3), dtype=np.uint8)).save(photo)
    plot = tmp_path / "plot.png"
    flat = np.full((2000, 3000, 3), 255, np.uint8)
    flat[500:1500, 1000:2000] = (200, 30, 30)
    Image.fromarray(flat).save(plot)
    sizes = {}
    for name, path in (("photo", photo), ("plot", plot)):
        r = Report(title=name)
        r.figure(path, width=8 * 28.3465)
        out = r.save(tmp_path / f"{name}.pdf")
        sizes[name] = out.stat().st_size
        page = PdfReader(str(out)).pages[0]
        (image,) = page.images
        assert image.image.width == round(8 / 2.54 * 200)  # 200 dpi at 8 cm
        assert image.name.endswith(".jpg" if name == "photo" else ".png"), image.name
    assert sizes["photo"] < 1_000_000 and photo.stat().st_size > 10_000_000


def test_legibility_check_finds_collisions_and_small_text():
    from explainlab.plotting import legibility_problems, plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1])
    ax.text(0.5, 0.5, "one")
    ax.text(0.5, 0.5, "two")
    ax.set_xlabel("tiny", fontsize=5)
    problems = legibility_problems(fig)
    assert any("'one' overlaps 'two'" in p for p in problems)
    assert any("'tiny' prints at 5.0 pt" in p for p in problems)
    wide, ax = plt.subplots(figsize=(20, 3))  # printed at text width: fonts shrink 3x
    ax.set_title("title", fontsize=12)
    assert any("'title' prints at" in p for p in legibility_problems(wide))
    fine, ax = plt.subplots(figsize=(6, 3))
    ax.plot([0, 1])
    ax.set_title("a title")
    ax.set_xlabel("x label")
    assert legibility_problems(fine) == []
    for f in (fig, wide, fine):
        plt.close(f)
