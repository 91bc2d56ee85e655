"""Report 3's figures print legibly at the size they are drawn (fonts >= MIN_FONT_PT, no
text over other text): the per-image panel, the masks overview and the tuner's plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explainlab import runfolder
from explainlab.assignment.tune.figures import save_pareto_plot
from explainlab.lime import figures
from explainlab.plotting import PRINT_WIDTH_IN, legibility_problems


@pytest.fixture
def drawn(monkeypatch):
    """Each figure saved: its width in inches and its legibility problems."""
    found: dict[str, tuple[float, list[str]]] = {}
    save = runfolder.save_figure

    def record(figure, path, **kwargs):
        found[path.name] = (figure.get_figwidth(), legibility_problems(figure))
        return save(figure, path, **kwargs)

    monkeypatch.setattr(runfolder, "save_figure", record)
    return found


def _crop(seed=0):
    return np.random.default_rng(seed).integers(0, 255, (224, 224, 3), dtype=np.uint8)


def test_the_panel_prints_legibly(tmp_path, drawn):
    segments = np.arange(224 * 224).reshape(224, 224) // (224 * 16)  # 14 stripes
    weights = [(s, (-1) ** s * (14 - s) / 10) for s in range(14)]
    figures.save_figures(
        tmp_path, _crop(), segments, weights, segments < 5, num_features=5,
        title="West_Highland_white_terrier: LIME for West Highland white terrier (p=0.83) ✓  "
        "[efficientnet_lite0, 12.3 s]",
    )  # fmt: skip
    width, problems = drawn["panel.png"]
    assert width <= PRINT_WIDTH_IN + 1e-9 and problems == []


@pytest.mark.parametrize("count", [2, 10])
def test_the_mask_overview_prints_legibly(tmp_path, drawn, count):
    items = [
        (
            figures.overview_title(
                "West Highland white terrier", "mountain bike, all-terrain bike", " ✗"
            ),
            _crop(i),
            np.eye(224, dtype=bool),
        )
        for i in range(count)
    ]
    figures.save_mask_overview(items, tmp_path / "masks.png")
    width, problems = drawn["masks.png"]
    assert width <= PRINT_WIDTH_IN + 1e-9 and problems == []


@pytest.mark.parametrize("count", [2, 10])
def test_the_pareto_plot_prints_legibly(tmp_path, drawn, count):
    keys = [f"West_Highland_white_terrier_{i}" for i in range(count)]
    rng = np.random.default_rng(0)
    trials = pd.DataFrame(
        [
            {"key": k, "cost_seconds": c, "iou": i}
            for k in keys
            for c, i in zip(rng.uniform(1, 50, 8), rng.uniform(0, 1, 8), strict=True)
        ]
    )
    chosen = [
        {"key": k, "baseline_cost": 46.0, "baseline_iou": 0.75, "chosen_cost": 2.5,
         "chosen_iou": 0.7} for k in keys
    ]  # fmt: skip
    save_pareto_plot(trials, trials, chosen, tmp_path / "pareto.png", "efficientnet_lite0")
    width, problems = drawn["pareto.png"]
    assert width <= PRINT_WIDTH_IN + 1e-9 and problems == []
