"""The registry of explanation methods: every spec is complete, an unknown name is an
error everywhere (with the close match), the built-in methods' costs and sentences are
the ones the code had before, and a method registered by a test alone flows through the
CAM stage, the comparison and the reports."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from pypdf import PdfReader

from explainlab.cam.methods import NO_FAST_NOTE, cam_map, compute_cam
from explainlab.cam.settings import IMPLS, CamSettings
from explainlab.compare.settings import CompareSettings
from explainlab.config import load_config
from explainlab.errors import ConfigError
from explainlab.methods import (
    KINDS,
    OURS,
    MethodSpec,
    Passes,
    get_method,
    method_names,
    methods,
    register,
    title_of,
    unregister,
)
from test_cam_fast import TinyNet


def _image() -> torch.Tensor:
    return torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))


# --- every spec ---------------------------------------------------------------------------


@pytest.mark.parametrize("spec", methods(), ids=lambda s: s.name)
def test_each_spec_is_complete(spec):
    assert spec.title and spec.about and spec.kind in KINDS
    assert spec.cost_clause(512, "fast") and spec.cost_clause(None, "library")
    for channels in (1, 512):
        for impl in IMPLS:
            passes = spec.passes(channels, impl)
            assert isinstance(passes, Passes)
            assert isinstance(passes.forward, int) and passes.forward >= 1
            assert isinstance(passes.backward, int) and passes.backward >= 0
    if spec.kind == "cam":
        assert spec.layer and spec.reference.startswith("pytorch_grad_cam:")
        assert isinstance(spec.load("reference"), type)  # the library's class
        assert spec.fast is None or callable(spec.load("fast"))
    elif spec.reference == OURS:  # nothing else computes it: its own computation
        assert callable(spec.load("compute"))
    else:
        assert callable(spec.load("reference"))


def test_colours_are_unique_and_a_second_one_is_refused():
    colours = [m.colour.lower() for m in methods()]
    assert len(colours) == len(set(colours))
    with pytest.raises(ValueError, match="is gradcam's already"):
        register(_toy_spec("bluecam", colour=get_method("gradcam").colour))
    assert "bluecam" not in method_names()


def test_builtin_costs_are_the_stage_table_of_before():
    """Forward-pass equivalents per image the cam stage estimated with before."""
    cost = {m: get_method(m).passes for m in ("gradcam", "ablationcam", "scorecam")}
    assert cost["gradcam"](1280, "fast").forward_equivalents() == 3
    assert cost["gradcam"](1280, "library").forward_equivalents() == 3
    assert cost["ablationcam"](1280, "fast").forward_equivalents() == 1
    assert cost["ablationcam"](1280, "library").forward_equivalents() == 1280
    assert cost["scorecam"](1280, "fast").forward_equivalents() == 1280


def test_builtin_cost_sentences_are_the_report_text_of_before():
    from explainlab.cam.findings import cost as _cost

    for channels, c in ((2048, " (2048)"), (None, "")):
        for impl in ("fast", "library"):
            where = "the layers after the target" if impl == "fast" else "the network"
            assert _cost("gradcam", channels, impl) == (
                "Grad-CAM runs one forward and one backward pass"
            )
            assert _cost("ablationcam", channels, impl) == f"AblationCAM {where} once per channel"
            assert _cost("scorecam", channels, impl) == (
                f"ScoreCAM the whole network once per channel{c}"
            )


def test_listing_order_and_kinds():
    cams = method_names("cam")
    assert cams[0] == "gradcam" and cams[-1] == "randomcam"
    assert cams.index("ablationcam") < cams.index("scorecam")
    assert method_names()[: len(cams) + 1] == (*cams, "lime")
    assert method_names("gradient")[0] == "saliency" and method_names("perturbation")[-1] == "rise"
    assert title_of("scorecam") == "ScoreCAM" and title_of("random") == "random"


# --- an unknown name is an error everywhere --------------------------------------------


def test_cam_map_refuses_an_unknown_method_before_computing():
    with pytest.raises(ValueError, match=r"unknown CAM method 'gradcma' \(did you mean gradcam"):
        cam_map("gradcma", None, None, None, 0)
    with pytest.raises(ValueError, match="'lime' is a surrogate method, not a CAM method"):
        cam_map("lime", None, None, None, 0)


def test_a_config_with_a_typo_is_refused_with_the_close_match(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text("[cam]\nmethods = ['gradcam', 'scorcam']\n")
    with pytest.raises(
        ConfigError, match=r"methods: unknown method .scorcam. \(did you mean scorecam"
    ):
        load_config(path)
    path.write_text("[compare]\nprimary_method = 'ablatoncam'\n")
    with pytest.raises(ConfigError, match=r"primary_method: .* \(did you mean ablationcam"):
        load_config(path)


@pytest.mark.parametrize(
    ("field", "value", "close"),
    [
        ("cam_methods", ("gradcam", "grad_cam"), "gradcam"),
        ("primary_method", "scorecm", "scorecam"),
        ("sanity_methods", ("lme",), "lime"),
    ],
)
def test_compare_settings_refuse_unknown_methods(field, value, close):
    with pytest.raises(ValueError, match=f"^{field}: unknown .*did you mean {close}"):
        CompareSettings(**{field: value}).validate()


def test_empty_cam_methods_are_refused():
    with pytest.raises(ValueError, match="at least one CAM method"):
        CamSettings(methods=()).validate()


@pytest.mark.parametrize(
    "argv",
    [
        ["cam", "--methods", "gradcam", "abaltioncam"],
        ["compare", "--methods", "abaltioncam"],
        ["compare", "--primary", "abaltioncam"],
        ["compare", "--sanity-methods", "abaltioncam"],
    ],
)
def test_the_command_line_refuses_an_unknown_method(capsys, argv):
    from explainlab.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "unknown method 'abaltioncam' (did you mean ablationcam" in capsys.readouterr().err


def test_the_api_refuses_an_unknown_method_before_loading_anything():
    from explainlab.api import cam_maps

    with pytest.raises(ValueError, match="did you mean scorecam"):
        cam_maps(None, [], methods=["scorecm"])


# --- a library-only method, and the fast variant's fallback ------------------------------


@pytest.fixture
def registered():
    """Registers the specs a test gives and removes them when it ends."""
    names = []

    def add(spec: MethodSpec) -> MethodSpec:
        names.append(spec.name)
        return register(spec)

    yield add
    for name in names:
        unregister(name)
    assert not set(names) & set(method_names())


def _toy_spec(name: str, **fields) -> MethodSpec:
    return MethodSpec(
        **{
            "name": name,
            "title": name.capitalize(),
            "colour": "#E69F00",
            "kind": "cam",
            "layer": True,
            "passes": lambda channels, impl: Passes(forward=1),
            "reference": OURS,
            "about": "a test's method",
            "cost_text": "runs one forward pass",
            **fields,
        }
    )


def test_a_library_only_method_is_one_spec(registered):
    """Grad-CAM++ (under another name) with nothing but its declaration: the library's
    class computes it, for impl "fast" too (there is no fast variant to fall through to,
    nor another method)."""
    from pytorch_grad_cam import GradCAMPlusPlus
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    registered(
        _toy_spec(
            "plaingradcamplusplus",
            title="Plain Grad-CAM++",
            passes=lambda channels, impl: Passes(forward=1, backward=1),
            colour="#56B4E9",
            reference="pytorch_grad_cam:GradCAMPlusPlus",
        )
    )
    net, x = TinyNet(), _image()
    with torch.no_grad():
        target = int(net(x).argmax())
    result = cam_map("plaingradcamplusplus", net, net.features, x, target)
    assert result.impl == "library" and result.note == NO_FAST_NOTE
    cam = GradCAMPlusPlus(net, [net.features])
    try:
        expected = cam(input_tensor=x, targets=[ClassifierOutputTarget(target)])[0]
    finally:
        cam.activations_and_grads.release()
    np.testing.assert_array_equal(result.map, expected)
    assert not np.array_equal(result.map, compute_cam("scorecam", net, net.features, x, target))


def test_a_fast_variant_that_cannot_run_hands_over_to_the_library():
    net = TinyNet(untraceable=True)
    result = cam_map("gradcam", net, net.features, _image(), 1)
    assert result.impl == "library"
    assert result.note.startswith("Grad-CAM without a separate tail (torch.fx could not trace")


# --- a toy method through the stage, the comparison and the reports ------------------------


def _mean_activation_cam(model, layer, x, target, *, batch_size):
    """Channel weights: each channel's mean activation (the class is not used)."""
    from explainlab.cam.maps import weighted_map
    from explainlab.cam.split import capture

    assert batch_size >= 1  # the options a method names reach it
    a = capture(model, layer, x).after
    weights = a.mean(dim=(2, 3)).cpu().numpy()
    return weighted_map(weights, a, (int(x.shape[-2]), int(x.shape[-1])))


TOY = _toy_spec(
    "meancam",
    title="MeanCAM",
    colour="#E69F00",
    compute=_mean_activation_cam,
    about="weights each channel by its mean activation",
    cost_text="runs one forward pass",
    order=40,
)
KEYS = ("goldfish", "flamingo")


@pytest.fixture(scope="module")
def toy():
    register(TOY)
    yield TOY
    unregister(TOY.name)
    assert TOY.name not in method_names()


@pytest.fixture(scope="module")
def toy_run(toy, lite0, mirror, tmp_path_factory):
    from explainlab.cam.run import run_cam
    from explainlab.compare.run import run_compare
    from explainlab.images import center_crop, mission_sources, open_rgb
    from explainlab.settings import from_table
    from test_compare_support import classifier_fn, write_lime_result

    run = tmp_path_factory.mktemp("toy-run")
    settings = from_table(
        CamSettings,
        {"model": "efficientnet_lite0", "methods": ["gradcam", "meancam"]},
        "[cam]",
    )
    cam = run_cam(settings, mission_sources(list(KEYS)), run, model=lite0)
    assert not cam.failures
    classify = classifier_fn(lite0.module, lite0.geometry)
    for key in KEYS:
        item = json.loads((run / "cam" / key / "item.json").read_text())
        crop = center_crop(open_rgb(item["path"]))
        write_lime_result(
            run, key, crop, classify, item["target_id"], num_samples=40, num_features=5
        )
    compare = from_table(
        CompareSettings,
        {
            "steps": 4,
            "random_repeats": 1,
            "batch_size": 16,
            "sanity_methods": ["meancam"],
            "sanity_max_steps": 1,
            "sanity_images": 1,
        },
        "[compare]",
    )
    outcome = run_compare(compare, run, model=lite0)
    return run, settings, outcome


def test_the_toy_runs_in_the_cam_stage(toy_run, lite0):
    run, _, _ = toy_run
    for key in KEYS:
        saliency = np.load(run / "cam" / key / "meancam.npy")
        assert saliency.shape == (224, 224) and saliency.dtype == np.float32
        assert 0.0 <= saliency.min() < saliency.max() <= 1.0
        item = json.loads((run / "cam" / key / "item.json").read_text())
        assert item["impl"]["meancam"] == {"impl": "ours", "note": ""}
        assert (run / "cam" / key / "meancam.png").is_file()
    timings = pd.read_csv(run / "cam" / "timings.csv")
    assert set(timings["method"]) == {"gradcam", "meancam"}
    summary = pd.read_csv(run / "cam" / "method_summary.csv")
    assert list(summary["method"]) == ["gradcam", "meancam"]


def test_the_toy_counts_in_the_cam_estimate(toy_run, lite0):
    from explainlab.cam.stage import estimate

    _, settings, _ = toy_run
    ctx = SimpleNamespace(
        config=SimpleNamespace(cam=settings), model=lambda name: lite0, sources=KEYS
    )
    # per image: Grad-CAM 1 forward + 1 backward (3), the toy 1 forward
    assert "(8 image forward passes of efficientnet_lite0" in estimate(ctx)


def test_the_toy_is_compared_with_lime(toy_run):
    run, _, outcome = toy_run
    assert not outcome.failures
    assert set(outcome.agreement["method"]) == {"gradcam", "meancam"}
    assert set(outcome.faithfulness["method"]) == {"gradcam", "meancam", "lime", "random"}
    assert set(outcome.sanity["method"]) == {"meancam"}
    assert "MeanCAM" in (run / "compare" / "summary.txt").read_text()
    numbers = json.loads((run / "compare" / "summary.json").read_text())
    assert numbers["cam_methods"] == ["gradcam", "meancam"]


def test_the_toy_is_in_the_reports(toy_run):
    from explainlab.assignment.report import cam_report, compare_report
    from explainlab.assignment.report.common import RunFacts

    run, _, _ = toy_run
    facts = RunFacts.read(run)
    out = run / "reports"
    cam_text = _text(cam_report.build(facts, out / "2_cam.pdf"))
    assert "CAMs: Grad-CAM, MeanCAM" in cam_text
    assert "MeanCAM runs one forward pass" in cam_text  # its cost, in its own words
    compare_text = _text(compare_report.build(facts, out / "4_comparison.pdf"))
    assert "MeanCAM" in compare_text


def _text(pdf) -> str:
    return " ".join(" ".join(p.extract_text().split()) for p in PdfReader(str(pdf)).pages)
