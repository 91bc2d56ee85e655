"""Report 3's findings record (:class:`LimeFindings`), each finding chosen by a rule from
the run's LIME numbers (:class:`LimeNumbers`): the pickle's parameters and their cost, the
tuner's targets (a :class:`Missed` when it missed them), the local scoreboard's hypothesis
about the grader's ground truth, superpixels and sampling noise, and images explained for
a wrong class. The record is written once beside the report's derived tables
(``findings.json``); ``summary.md`` there and report 3 are its two renderers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from explainlab.assignment.report.common import join_names, num, pretty_key
from explainlab.assignment.settings import TuneSettings
from explainlab.report.findings import Finding, Missed, file_ref, markdown_lines
from explainlab.report.pdf import text

TABLES = "reports/tables/3_lime"
GOOD_RANKING = 0.7  # Spearman's rho from which a hypothesis ranks the submissions well
FEW_SUBMISSIONS = 5  # fewer public submissions than this: a rho says little
TARGETS = ("iou_ratio", "time_ratio", "image_floor")  # the tuner's, from its settings
DEFAULT_TARGETS = {k: float(getattr(TuneSettings(), k)) for k in TARGETS}


@dataclass(kw_only=True)
class LimeNumbers:
    """What the findings read: the report's derived tables and the stages' files."""

    images: pd.DataFrame  # summary.image_table
    board: dict[str, Any] = field(default_factory=dict)  # summary.board_summary, {} if none
    noise: dict[str, Any] = field(default_factory=dict)  # summary.noise_summary
    choice: dict[str, Any] = field(default_factory=dict)  # lime_tune/choice.json
    tuned: pd.DataFrame | None = None  # lime_tune/summary.csv
    targets: dict[str, float] = field(default_factory=dict)  # iou_ratio, time_ratio, image_floor
    hypothesis: dict[str, Any] = field(default_factory=dict)  # lime_tune/hypothesis.json


def x(value: float) -> str:
    """A ratio as printed: ×0.53."""
    return f"×{num(value)}"


def samples_phrase(images: pd.DataFrame) -> str:
    """'num_samples 50 on 7 images, 1000 on 3' (most used first)."""
    counts = images["num_samples"].value_counts()
    return "num_samples " + ", ".join(
        f"{int(n)} on {int(c)} image{'s' if c > 1 else ''}" for n, c in counts.items()
    )


def _cost_reason(kept: bool) -> str:
    return "the cost is mostly one forward pass per sample; " + (
        "a few dozen samples already rank the few superpixels that carry the class."
        if kept
        else "with fewer samples near-tied superpixel weights are left to chance."
    )


def pickle_finding(n: LimeNumbers) -> Finding:
    """What the pickle holds, and its counted cost and IoU against lime's defaults: on the
    scoreboard where it measured both, else on the tuner's runs."""
    b, c = n.board, n.choice
    target = n.targets.get("iou_ratio", DEFAULT_TARGETS["iou_ratio"])
    claim = f"The pickle asks for {samples_phrase(n.images)}"
    if b.get("compared"):
        return Finding(
            claim + f": {x(b['cost_ratio'])} of lime's defaults' counted cost, "
            f"{x(b['iou_ratio'])} of their mean IoU.",
            f"Mean IoU {num(b['run_iou'])} against {num(b['defaults_iou'])}, counted cost "
            f"{num(b['run_cost'], '.1f')} s against {num(b['defaults_cost'], '.1f')} s per "
            f"image{_walls(b)}, over {b['compared']} images "
            f"{file_ref('lime_score/scoreboard_*.csv')}.",
            _cost_reason(b["iou_ratio"] >= target),
        )
    if c.get("cost_kept") is not None:
        unmeasured = b.get("unmeasured", 0)
        return Finding(
            claim + f": on the tuner's runs, {x(c['cost_kept'])} of lime's defaults' counted "
            f"cost, {x(c['iou_kept'])} of their mean IoU.",
            f"(lime_tune/choice.json; the scoreboard stopped {unmeasured} runs at its cutoff, "
            "lime_score/).",
            _cost_reason(c["iou_kept"] >= target),
        )
    return Finding(
        claim + "; its cost against lime's defaults was not measured.",
        f"{file_ref('lime/explanations.csv')}",
        "neither the tuner nor the scoreboard ran lime's defaults on these images.",
    )


def _walls(b: dict[str, Any]) -> str:
    """The wall times beside the counted costs, where both were timed (lime's defaults
    taken from the tuner's runs were not re-timed in plain lime)."""
    if b["defaults_wall"] != b["defaults_wall"]:
        return f" (wall {num(b['run_wall'], '.1f')} s; the defaults' from the tuner's runs)"
    return f" (wall {num(b['run_wall'], '.1f')} s against {num(b['defaults_wall'], '.1f')} s)"


def tuner_missed(n: LimeNumbers) -> Missed | None:
    """The tuner's targets, when its choice missed one (None when met or not run)."""
    c, t = n.choice, n.targets
    if not c or c.get("met") or n.tuned is None or not len(n.tuned):
        return None
    lowest = n.tuned["iou_ratio"].min()
    kept = int((n.tuned["chosen"] == "defaults").sum())
    target = (
        f"mean IoU ≥ {num(t['iou_ratio'], 'g')} × lime's defaults', no image under "
        f"{num(t['image_floor'], 'g')} × its defaults', counted cost ≤ "
        f"{num(t['time_ratio'], 'g')} × theirs"
    )
    instead = (
        "the time was relaxed, never the IoU (the cheapest choice keeping it)"
        if c.get("iou_met")
        else "no choice kept the IoU (the best mean IoU found)"
    )
    return Missed(
        target,
        f"Kept {x(c['iou_kept'])} of the defaults' mean IoU (lowest image {x(lowest)}) at "
        f"{x(c['cost_kept'])} of their cost {file_ref('lime_tune/')}: "
        f"{instead}; {kept} of {len(n.tuned)} images keep lime's defaults.",
    )


TRUTHS = {  # each reference hypothesis's ground truth, in a phrase
    "crop": "LIME's consensus on the model's crop",
    "full": "LIME's consensus on the image file at its own size",
    "gradcam": "the model's Grad-CAM region, as many pixels as the LIME mask",
}


def hypothesis_finding(n: LimeNumbers) -> Finding:
    """Which ground truth the local scoreboard assumes, and how well it was checked."""
    h = n.hypothesis
    name = h.get("name", "crop")
    claim = (
        f"The scoreboard assumes the grader's ground truth is <i>{text(name)}</i> "
        f"({TRUTHS.get(name, 'LIME on the model crop')})"
    )
    used = [r for r in (h.get("calibration") or {}).get("agreement", []) if r["hypothesis"] == name]
    if not used:
        return Finding(
            claim + ": unchecked.",
            f"No calibration against the public scoreboard {file_ref('lime_tune/hypothesis.json')}.",
            "the grader's masks are hidden; one who perturbs another image or uses other "
            "masks scores otherwise.",
        )
    rho, count = used[0]["rho_iou"], int(used[0]["submissions"])
    if count < FEW_SUBMISSIONS or rho is None or rho != rho:
        verdict = f"{count} public submissions are too few to tell how well it ranks them"
    elif rho >= GOOD_RANKING:
        verdict = f"it ranks {count} public submissions' IoU well (Spearman ρ {num(rho)})"
    else:
        verdict = f"it ranks {count} public submissions' IoU poorly (Spearman ρ {num(rho)})"
    return Finding(
        claim + ".",
        f"Checked against the public scoreboard: {verdict} {file_ref('lime_tune/hypothesis.json')}.",
        "a rank correlation over few submissions is itself noisy.",
    )


def noise_finding(n: LimeNumbers) -> Finding:
    """Superpixels per image and the seed-to-seed spread of one IoU; a difference between
    the pickle and the defaults inside that spread is not claimed."""
    sp = n.images["superpixels"]
    spread = f"{int(sp.min())}–{int(sp.max())} superpixels per image"
    if int(sp.min()) == int(sp.max()):
        spread = f"{int(sp.min())} superpixels per image"
    reason = (
        "the mask is the top 5 superpixels; a seed that swaps one near-tied superpixel "
        "moves the IoU by its share of the mask."
    )
    noise = n.noise.get("mean_difference", math.nan)
    if noise != noise:
        return Finding(
            f"Sampling noise was not measured in this run; {spread}.",
            f"{file_ref('lime/explanations.csv')}",
            reason,
        )
    evidence = (
        f"lime's defaults at the tuner's sampling seeds differ by {num(noise)} IoU on average "
        "(at most "
        f"{num(n.noise['max_difference'])}); {spread} {file_ref(TABLES + '/')}."
    )
    gap = abs(n.board.get("iou_difference", math.nan))
    if gap == gap and gap <= noise:
        claim = (
            f"The pickle's and the defaults' mean IoU differ by {num(gap)}, inside the seed "
            "spread: no difference in IoU is supported."
        )
    elif gap == gap:
        claim = (
            f"The pickle's and the defaults' mean IoU differ by {num(gap)}, beyond the seed "
            "spread of one image's IoU."
        )
    else:
        claim = "One IoU moves with the sampling seed."
    return Finding(claim, evidence[0].upper() + evidence[1:], reason)


def misclassified_finding(n: LimeNumbers) -> Finding | None:
    """Images explained for a class that is not theirs, or that every one is explained for
    its own (None when no image's true class is known)."""
    known = n.images[n.images["correct"].notna()]
    wrong = known[known["correct"] == "False"]
    evidence = f"{file_ref('lime/explanations.csv')}"
    if not len(known):
        return None
    if not len(wrong):
        return Finding(
            f"Every image is explained for its true class ({len(known)} of {len(known)}).",
            evidence,
            "explain_instance explains the model's top class, which is right on each image.",
        )
    names = join_names(
        [f"{pretty_key(r['key'])} as {r['label_name']}" for _, r in wrong.iterrows()]
    )
    return Finding(
        f"{len(wrong)} of {len(known)} images are explained for a wrong class: {text(names)}.",
        evidence,
        "LIME explains the top class, so these masks show evidence for the mistake.",
    )


def findings(n: LimeNumbers) -> list[Finding]:
    chosen = [pickle_finding(n), hypothesis_finding(n), noise_finding(n)]
    wrong = misclassified_finding(n)
    return chosen + ([wrong] if wrong else [])


@dataclass(frozen=True, kw_only=True)
class LimeFindings:
    """What the run's LIME numbers show: the findings, and the tuner's missed target."""

    findings: tuple[Finding, ...]
    missed: tuple[Missed, ...]

    @classmethod
    def of(cls, n: LimeNumbers) -> LimeFindings:
        missed = tuner_missed(n)
        return cls(findings=tuple(findings(n)), missed=(missed,) if missed else ())

    def to_json(self) -> dict[str, Any]:
        return {
            "findings": [f.to_dict() for f in self.findings],
            "missed": [m.to_dict() for m in self.missed],
        }

    def markdown(self) -> str:
        """summary.md: the findings as report 3 states them."""
        return (
            "\n".join(["# LIME: findings", "", *markdown_lines(self.findings, self.missed)]) + "\n"
        )
