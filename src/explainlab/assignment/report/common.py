"""What every report shares: the run's facts, the stand-in banner, number formatting."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from explainlab.images import Geometry
from explainlab.models import MODELS
from explainlab.report.markup import is_true as is_true  # the reports' formatting
from explainlab.report.markup import join_names as join_names
from explainlab.report.markup import num as num
from explainlab.report.markup import pct as pct
from explainlab.report.markup import pretty_key as pretty_key
from explainlab.report.pdf import TEXT_WIDTH, Report, text

ASSIGNMENT_MODEL = "resnet50"


@dataclass(frozen=True)
class RunFacts:
    run_dir: Path
    name: str
    stand_in: str  # empty when the asked configuration ran
    manifest: dict[str, Any]

    @classmethod
    def read(cls, run_dir: Path, stand_in: str = "") -> RunFacts:
        path = Path(run_dir) / "manifest.json"
        data = read_json(path)
        return cls(Path(run_dir), Path(run_dir).name, stand_in or data.get("stand_in") or "", data)

    def model_description(self, name: str) -> str:
        spec = MODELS.get(name)
        return spec.description if spec else name

    def banner(self, model: str) -> str:
        """The banner every page carries when a stand-in model replaced the assignment's."""
        if model == ASSIGNMENT_MODEL and not self.stand_in:
            return ""
        return f"STAND-IN MODEL: {model} (offline) — not the assignment's ResNet50 IMAGENET1K_V2"

    def new_report(self, title: str, what: str, banner: str = "") -> Report:
        return Report(
            title=title,
            subtitle=f"{what} · run '{self.name}' · {self.manifest.get('finished', '')[:10]}",
            banner=banner,
            footer=f"explainlab · {self.run_dir}",
        )

    def stand_in_sentence(self, model: str) -> str:
        """The one sentence (beside the banner) that says whose numbers these are."""
        if not self.banner(model):
            return ""
        return (
            f"<b>Stand-in:</b> the numbers describe {text(self.model_description(model))}, not "
            "the assignment's ResNet50 (IMAGENET1K_V2), whose weights this run did not have; "
            "the code is the same, so a rerun with those weights gives the assignment's results."
        )


def geometry_text(recorded: dict[str, Any]) -> str:
    """The crop a stage's maps lie on, from its recorded settings (older runs: 256/224)."""
    geometry = recorded.get("geometry")
    return Geometry.from_dict(geometry).describe() if geometry else "Resize(256) → CenterCrop(224)"


def read_csv(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path) if Path(path).is_file() else None


def read_json(path: Path) -> dict[str, Any]:
    """A run's JSON file, empty when the file is absent (an older or partial run)."""
    return json.loads(Path(path).read_text()) if Path(path).is_file() else {}


def verdict(correct: Any) -> str:
    """✓ / ✗ for a top-1 correctness value (:func:`is_true`), '-' if unknown."""
    if correct is None or (isinstance(correct, float) and correct != correct):
        return "-"
    return "✓" if is_true(correct) else "✗"


def image_panels(
    report: Report, folder: Path, keys: list[str], what: str = "", **figure: Any
) -> None:
    """Each image's ``<folder>/<key>/panel.png`` that exists, captioned with the image's
    name (and ``what`` the panel shows), full text width unless ``figure`` says otherwise."""
    for key in keys:
        panel = folder / key / "panel.png"
        if panel.is_file():
            caption = text(pretty_key(key)) + (f": {what}" if what else "")
            report.figure(panel, caption=caption, **({"width": TEXT_WIDTH} | figure))
