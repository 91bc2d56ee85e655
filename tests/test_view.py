"""The run viewer: what it collects from a run folder (known contents planted), the files
it writes, its command and server, and the pages themselves in headless Chromium."""

from __future__ import annotations

import base64
import json
import shutil
import threading
import urllib.request

import numpy as np
import pytest
from PIL import Image

from browser import chromium, missing, severe_logs
from explainlab.cli import main
from explainlab.view import dissection, explanations, measures, sections, thumbs
from explainlab.view.build import DATA, GLOBAL, build_view
from viewrun import (
    AGREEMENT,
    CATEGORIES,
    KEYS,
    LABELS,
    LIME_WEIGHTS,
    WORDNET,
    make_computed_dissection,
    make_run,
    quadrants,
    units,
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("viewrun"))


@pytest.fixture(scope="module")
def built(run):
    return build_view(run)


def _model(view_folder):
    text = (view_folder / DATA).read_text()
    prefix = f"window.{GLOBAL} = "
    assert text.startswith(prefix)
    return json.loads(text[len(prefix) :].rstrip().rstrip(";"))


# --- what is collected ----------------------------------------------------------------


def test_map_colours_are_the_reports_heat_map():
    """A map's colours on the page are the PDFs' (plotting's jet), over its own range."""
    image = np.asarray(thumbs.map_image(np.array([[2.0, 4.0, 6.0]])))
    assert image.tolist() == [[[0, 0, 128], [125, 255, 122], [128, 0, 0]]]
    assert (np.asarray(thumbs.map_image(np.full((2, 2), 3.0))) == [0, 0, 128]).all()


def test_lime_weights_image_colours_each_superpixel_by_its_weight():
    image = np.asarray(thumbs.weights_image(quadrants(8), LIME_WEIGHTS))
    assert image.shape == (8, 8, 4)
    assert image[0, 0].tolist() == [0, 170, 60, 230]  # the largest weight, for: opaque green
    assert image[0, 7].tolist() == [220, 40, 40, 115]  # half as large, against: red
    assert image[7, 7, 3] == 0  # weight 0: transparent


def test_images_methods_predictions_and_lime(run, tmp_path):
    found = explanations.collect(run, tmp_path)
    assert [m["name"] for m in found["methods"]] == ["gradcam", "lime"]
    assert found["methods"][0]["title"] == "Grad-CAM"
    images = {i["key"]: i for i in found["images"]}
    assert list(images) == list(KEYS)
    assert images["goldfish"]["correct"] is True and images["kite"]["correct"] is False
    assert images["kite"]["top5"] == [["hip", 0.48], ["spoonbill", 0.05]]
    assert images["kite"]["true"] == "kite"
    lime = images["goldfish"]["lime"]
    segments = np.frombuffer(base64.b64decode(lime["segments"]), dtype=np.uint8)
    assert lime["bytes"] == 1 and np.array_equal(segments.reshape(lime["size"]), quadrants())
    assert {int(k): v for k, v in lime["weights"].items()} == LIME_WEIGHTS
    assert images["kite"]["agreement"] == [
        {"method": "gradcam", "iou_threshold": 0.12, "pointing_game": 0.0}
    ]
    assert [r["method"] for r in images["kite"]["faithfulness"]] == ["gradcam", "lime"]
    # every image written where the model says, as WebP no larger than shown
    for entry in images.values():
        for path in [
            *entry["crop"].values(),
            *(p for m in entry["maps"].values() for p in m.values()),
        ]:
            with Image.open(tmp_path / path) as image:
                assert image.format == "WEBP" and max(image.size) <= thumbs.DETAIL_PX


def test_every_unit_with_category_and_stability(run, tmp_path):
    found = dissection.collect(run, tmp_path)
    columns = found["columns"]
    rows = [dict(zip(columns, u, strict=True)) for u in found["units"]]
    assert {f"{r['model']}/{r['layer']}/{r['unit']}" for r in rows} == units()
    assert [m["name"] for m in found["models"]] == list(LABELS)
    assert all(m["runs"] == ["a", "b"] for m in found["models"])
    by_id = {(r["model"], r["layer"], r["unit"]): r for r in rows}
    sky = by_id[("resnet18", "layer3", 1)]  # "grass" in run b
    assert (sky["label"], sky["category"], sky["similarity"]) == ("sky", "scene", 0.12)
    assert sky["wordnet"] == "natural object"
    assert (sky["same"], sky["runs"], sky["others"]) == (0, 1, ["grass"])
    dotted = by_id[("resnet18", "layer3", 0)]
    assert (dotted["same"], dotted["runs"], dotted["others"]) == (1, 1, [])
    assert {r["category"] for r in rows} <= set(CATEGORIES.values())
    assert "planted, not computed" in found["notes"]


def test_a_moved_labels_file_is_named_not_shown(run, tmp_path):
    moved = tmp_path / "run"
    shutil.copytree(run, moved)
    record = moved / "dissect" / "analysis" / "fingerprint.json"
    settings = json.loads(record.read_text())
    settings["settings"]["inputs"][0][1] = str(tmp_path / "gone" / "resnet18_run_x.csv")
    record.write_text(json.dumps(settings))
    found = dissection.collect(moved, tmp_path / "out")
    assert {u[0] for u in found["units"]} == {"resnet18_places365"}
    assert any("resnet18_run_x.csv is not at hand" in n for n in found["notes"])


def test_measures_tables_and_figures(run, tmp_path):
    groups = {g["name"]: g for g in measures.collect(run, tmp_path)["groups"]}
    assert list(groups) == ["dissect/analysis", "compare"]  # the folders with tables or figures
    tables = {t["id"]: t for t in groups["compare"]["tables"]}
    agreement = tables["compare/agreement.csv"]
    assert agreement["columns"] == ["key", "method", "measure", "value"]
    assert agreement["rows"] == [list(r) for r in AGREEMENT] and agreement["total"] == 4
    (figure,) = groups["compare"]["figures"]
    with Image.open(tmp_path / figure["src"]) as image:
        assert image.format == "WEBP" and image.size == (thumbs.FIGURE_PX, 480)


def test_the_report_card_of_evaluate_is_shown_when_present(run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    card = copy / measures.EVALUATE
    card.mkdir()
    (card / "card.csv").write_text("method,measure,mean\ngradcam,deletion_auc,0.3\n")
    (card / "ranks.csv").write_text("method,rank\ngradcam,1\n")
    groups = {g["name"]: g for g in measures.collect(copy, tmp_path / "out")["groups"]}
    assert [t["file"] for t in groups["evaluate"]["tables"]] == ["card.csv", "ranks.csv"]


def test_a_computed_dissection_shows_each_units_top_probe_images(tmp_path):
    run = tmp_path / "run"
    model = run / "dissect" / "resnet18"
    model.mkdir(parents=True)
    (model / "descriptions.csv").write_text(
        "layer,unit,description,similarity\nlayer4,0,sky,0.3\nlayer4,1,dog,0.2\n"
    )
    probes = tmp_path / "probes"
    probes.mkdir()
    for i in range(3):
        Image.new("RGB", (100, 80), (80 * i, 0, 0)).save(probes / f"{i}.jpg")
    (model / "probe_images.csv").write_text(
        "probe_index,path\n" + "".join(f"{i},{probes / f'{i}.jpg'}\n" for i in range(3))
    )
    # unit 0: probes 2 then 0; unit 1: probe 0 again (written once), a missing probe skipped
    (model / "top_images.csv").write_text(
        "layer,unit,rank,probe_index,activation\nlayer4,0,1,2,5.0\nlayer4,0,2,0,4.0\n"
        "layer4,1,1,0,3.0\nlayer4,1,2,7,2.0\n"
    )
    found = dissection.collect(run, tmp_path / "out")
    tops = {u[2]: u[-1] for u in found["units"]}
    assert tops == {0: ["probe/0.webp", "probe/1.webp"], 1: ["probe/1.webp"]}
    assert found["probes"] is True
    region = found["columns"].index("region")
    assert [u[region] for u in found["units"]] == [False, False]  # no maps: the images as they are
    with Image.open(tmp_path / "out" / "probe" / "0.webp") as image:
        assert image.size == (thumbs.PROBE_PX, 51)  # 100 x 80 shrunk to 64 wide
        assert image.getpixel((10, 10))[0] > 150  # probe 2: the reddest


def test_a_region_is_the_map_above_its_threshold_dimmed_outside_and_outlined():
    crop = Image.new("RGB", (8, 8), (200, 100, 50))
    unit_map = np.array([[4.0, 0.0], [0.0, 0.0]])  # bilinear to 8 px: above 2 in the 4x4 corner
    shown = np.asarray(thumbs.region_image(crop, unit_map, threshold=2.0))
    assert shown[1, 1].tolist() == [200, 100, 50]  # inside: as it was
    assert shown[6, 6].tolist() == [60, 30, 15]  # outside: dimmed
    assert shown[3, 1].tolist() == list(thumbs.OUTLINE)  # the region's edge
    assert shown[0, 0].tolist() == [200, 100, 50]  # the image's edge is not the region's


def test_a_computed_dissection_with_maps_shows_each_units_region(tmp_path):
    run = make_computed_dissection(tmp_path)
    found = dissection.collect(run, tmp_path / "out")
    region = found["columns"].index("region")
    units = {u[2]: u for u in found["units"]}
    assert units[0][region] is True and units[1][region] is True
    # one image per unit and rank: the same probe shows each unit's own region
    assert len({p for u in units.values() for p in u[-1]}) == 4
    with Image.open(tmp_path / "out" / units[0][-1][0]) as image:
        assert image.size == (48, 48)  # the model's crop (under the page's 64 px)
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    # the red square fills the crop's top-left quarter, where unit 0 fires
    assert pixels[10, 10, 0] > 200 and pixels[10, 10, 1] < 60  # inside: red as it is
    for y, x in ((36, 36), (10, 36), (36, 10)):
        assert abs(pixels[y, x] - 0.3 * 128).max() < 12  # outside: grey, dimmed
    with Image.open(tmp_path / "out" / units[0][-1][1]) as image:
        # probe 1 under unit 0: below half the unit's highest activation, all dimmed
        assert np.asarray(image.convert("RGB")).max() < 0.3 * 128 + 12
    with Image.open(tmp_path / "out" / units[1][-1][0]) as image:
        # unit 1 fires everywhere: nothing dimmed
        assert abs(np.asarray(image.convert("RGB"), dtype=np.float32) - 128).max() < 12


def test_the_run_page_shows_the_lime_pickle_and_the_manifest(run):
    found = {s["title"]: s for s in sections.collect(run)}
    assert list(found) == ["LIME parameter pickle", "Manifest"]
    (table,) = found["LIME parameter pickle"]["tables"]
    assert [r[0] for r in table["rows"]] == list(KEYS)
    assert table["columns"][:3] == ["image", "num_samples", "batch_size"]
    assert table["rows"][0][1:3] == [100, 10]
    assert found["Manifest"]["json"]["written"].startswith("2026")


def test_a_refused_pickle_is_said_not_loaded(tmp_path):
    import pickle

    from explainlab.assignment.view import lime_pickle_section

    (tmp_path / "lime").mkdir()
    (tmp_path / "lime" / "params.pkl").write_bytes(pickle.dumps({"k": shutil.rmtree}))
    section = lime_pickle_section(tmp_path)
    assert "refused" in section["note"] and "tables" not in section


# --- the files written ------------------------------------------------------------------


def test_build_writes_the_page_and_is_then_up_to_date(run, built):
    assert not built.skipped and built.images == 2 and built.units == len(units())
    folder = run / "view"
    for name in ("index.html", "viewer.js", "viewer.css", DATA):
        assert (folder / name).is_file()
    html = (folder / "index.html").read_text()
    assert "http" not in html.replace('name="viewport"', "")  # nothing fetched from a network
    model = _model(folder)
    assert [i["key"] for i in model["images"]] == list(KEYS)
    assert build_view(run).skipped
    assert not build_view(run, force=True).skipped


def test_not_a_number_anywhere_is_written_as_null(run, tmp_path):
    from explainlab.view.build import write

    copy = tmp_path / "run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("view"))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["stages"]["cam"]["seconds"] = float("nan")
    (copy / "manifest.json").write_text(json.dumps(manifest))  # Python writes NaN
    write({"x": [float("inf"), 1.5, {"y": float("nan")}]}, tmp_path)
    assert _model(tmp_path) == {"x": [None, 1.5, {"y": None}]}
    built = build_view(copy)
    (section,) = [s for s in _model(built.folder)["sections"] if s["title"] == "Manifest"]
    assert section["json"]["stages"]["cam"]["seconds"] is None


def test_view_stage_is_last_and_registered():
    from explainlab.stages import get_stage, stage_names

    assert stage_names()[-1] == "view" and stage_names()[-2] == "report"
    assert get_stage("view").reads_required is False


def test_the_command_writes_the_viewer(run, tmp_path, capsys):
    copy = tmp_path / "run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("view"))
    assert main(["view", "--run", str(copy)]) == 0
    assert f"{copy / 'view' / 'index.html'} (written" in capsys.readouterr().out
    assert main(["view", "--run", str(tmp_path / "nope")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    assert not (tmp_path / "nope").exists()


def test_serve_answers_on_localhost_only(built):
    from explainlab.view.serve import HOST, make_server

    with make_server(built.folder, 0) as server:
        assert server.server_address[0] == HOST == "127.0.0.1"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://{HOST}:{server.server_address[1]}/index.html"
            with urllib.request.urlopen(url, timeout=10) as response:
                assert b'src="viewer.js"' in response.read()
        finally:
            server.shutdown()


# --- in a real browser --------------------------------------------------------------------

browser = pytest.mark.skipif(bool(missing()), reason=f"headless Chromium: {missing()}")


@pytest.fixture(scope="module")
def page(built):
    driver = chromium()
    driver.get(built.index.as_uri())
    yield driver
    driver.quit()


def _show(driver, view: str, shots=None):
    driver.execute_script(f"location.hash = '#{view}'")
    assert driver.execute_script("return document.body.dataset.view") == view.split("/")[0]
    if shots is not None:
        driver.save_screenshot(str(shots / f"{view.replace('/', '_')}.png"))


def _visible(driver, selector: str):
    return [e for e in driver.find_elements("css selector", selector) if e.is_displayed()]


@pytest.mark.browser
@browser
def test_every_view_draws_without_console_errors(page, tmp_path):
    for view in ("explanations", "image/kite", "measures", "dissection", "models", "run"):
        _show(page, view, tmp_path)
        assert (tmp_path / f"{view.replace('/', '_')}.png").stat().st_size > 1000
    assert severe_logs(page) == []


@pytest.mark.browser
@browser
def test_the_grid_has_one_card_per_image_and_opens_one(page):
    _show(page, "explanations")
    cards = _visible(page, "#view-explanations [data-image]")
    assert [c.get_attribute("data-image") for c in cards] == list(KEYS)
    assert "misclassified" in cards[1].get_attribute("class")
    cells = cards[0].find_elements("css selector", "figure img.overlay")
    assert len(cells) == 2  # Grad-CAM and LIME
    cards[1].click()
    assert page.execute_script("return location.hash") == "#image/kite"
    heading = page.find_element("css selector", "#view-image [data-detail]")
    assert heading.get_attribute("data-detail") == "kite" and "hip" in heading.text
    assert severe_logs(page) == []


@pytest.mark.browser
@browser
def test_hovering_a_superpixel_shows_its_weight(page):
    from selenium.webdriver import ActionChains

    _show(page, "image/goldfish")
    canvas = page.find_element("css selector", "#view-image .lime-figure canvas")
    size = canvas.size["width"]
    # top-left quadrant: superpixel 0, weight +0.2 (offsets from the canvas' centre)
    ActionChains(page).move_to_element_with_offset(canvas, -size // 4, -size // 4).perform()
    assert page.find_element("id", "tip").text == "superpixel 0: weight +0.2000"
    ActionChains(page).move_to_element_with_offset(canvas, size // 4, -size // 4).perform()
    assert page.find_element("id", "tip").text == "superpixel 1: weight -0.1000"


@pytest.mark.browser
@browser
def test_every_unit_is_listed_and_the_concept_filter_narrows_them(page):
    _show(page, "dissection")
    listed = {e.get_attribute("data-unit") for e in _visible(page, "[data-unit]")}
    assert listed == units()
    box = page.find_element("id", "concept-filter")
    box.send_keys("dotted")
    shown = _visible(page, "[data-unit]")
    expected = {
        f"{m}/{layer}/{unit}"
        for m, runs in LABELS.items()
        for layer, unit, label, _ in runs["a"]
        if label == "dotted"
    }
    assert {e.get_attribute("data-unit") for e in shown} == expected
    assert {e.get_attribute("data-label") for e in shown} == {"dotted"}
    box.clear()
    box.send_keys("x")  # clear() fires no input event: type, then erase
    box.send_keys("\b")
    from selenium.webdriver.support.ui import Select

    Select(page.find_element("id", "category-filter")).select_by_value("scene")
    shown = _visible(page, "[data-unit]")
    assert {e.get_attribute("data-category") for e in shown} == {"scene"}
    assert len(shown) == sum(
        CATEGORIES[label] == "scene" for runs in LABELS.values() for _, _, label, _ in runs["a"]
    )
    Select(page.find_element("id", "category-filter")).select_by_value("*")
    Select(page.find_element("id", "wordnet-filter")).select_by_value("pattern or quality")
    shown = _visible(page, "[data-unit]")
    assert {e.get_attribute("data-label") for e in shown} == {"dotted", "striped"}
    assert len(shown) == sum(
        WORDNET[label][1] == "pattern or quality"
        for runs in LABELS.values()
        for _, _, label, _ in runs["a"]
    )
    Select(page.find_element("id", "wordnet-filter")).select_by_value("*")
    Select(page.find_element("id", "unit-sort")).select_by_value("unit")
    group = page.find_element("css selector", '[data-group="resnet18/layer3"]')
    order = [e.get_attribute("data-unit") for e in group.find_elements("css selector", ".unit")]
    assert order == ["resnet18/layer3/0", "resnet18/layer3/1"]


@pytest.mark.browser
@browser
def test_a_computed_units_images_show_its_region(tmp_path):
    built = build_view(make_computed_dissection(tmp_path))
    driver = chromium()
    try:
        driver.get(built.index.as_uri())
        _show(driver, "dissection")
        card = driver.find_element("css selector", '[data-unit="resnet18/layer4/0"]')
        images = card.find_elements("css selector", ".probes img")
        assert len(images) == 2
        assert all(i.get_attribute("data-region") == "1" for i in images)
        assert severe_logs(driver) == []
    finally:
        driver.quit()


@pytest.mark.browser
@browser
def test_sorting_a_table_by_a_column_orders_its_rows(page):
    _show(page, "measures")
    table = page.find_element("css selector", 'table[data-table="compare/agreement.csv"]')
    header = table.find_elements("css selector", "th")[3]  # value
    for direction, reverse in (("ascending", False), ("descending", True)):
        header.click()
        assert header.get_attribute("aria-sort") == direction
        values = [
            float(r.find_elements("css selector", "td")[3].text)
            for r in table.find_elements("css selector", "tbody tr")
        ]
        assert values == sorted((r[3] for r in AGREEMENT), reverse=reverse)


@pytest.mark.browser
@browser
def test_models_compared_shared_and_exclusive_concepts(page):
    _show(page, "models")
    shared = page.find_element("css selector", 'table[data-table="models/shared"]')
    concepts = [
        r.find_element("css selector", "td").text
        for r in shared.find_elements("css selector", "tbody tr")
    ]
    assert concepts == ["sky"]
    only_a = page.find_element("css selector", 'table[data-table="models/only-a"]')
    assert {
        r.find_element("css selector", "td").text
        for r in only_a.find_elements("css selector", "tbody tr")
    } == {"dotted", "dog"}
