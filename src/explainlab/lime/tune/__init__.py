"""``explainlab lime tune``: parameters per image that keep the IoU at a fraction of the time.

The package: the candidates of the search space (``space``), their trials on one image
(``search``), the joint choice (``choice``), the figure (``figures``) and the stage that
runs them over a run's images (``run``; ``stage`` for the pipeline).

For each image: the consensus reference (cached, computed before the budget clock starts),
lime's default parameters as the baseline, then candidates from the search space until the
image's share of the time budget is spent. Every candidate runs as the grader runs it
(plain lime, timed) at ``repeats`` sampling seeds (1, 2, ...; the scoreboard uses 0, so a
later ``score`` is an independent check). The target is about the ten images together
(mean IoU >= ``iou_ratio`` x the defaults', mean time <= ``time_ratio`` x theirs), so the
choice is joint (:func:`choose_jointly`): one candidate per image, lime's defaults
included, with the highest mean IoU whose mean time stays within ``time_ratio`` x the
defaults' mean time. An image that explains cheaply can then pay for one that needs more
samples.

Outputs under ``<run>/lime_tune/``: trials.csv (every run), pareto.csv (each image's Pareto
front of time vs IoU), pareto.png, summary.csv (baseline vs chosen per image), and
params.json: the chosen parameter file, ready for ``explainlab lime export --params``.
"""

from explainlab.lime.tune.choice import choose_jointly, pareto_front
from explainlab.lime.tune.run import TuneOutcome, summary_lines, tune
from explainlab.lime.tune.space import candidates, describe

__all__ = [
    "TuneOutcome",
    "candidates",
    "choose_jointly",
    "describe",
    "pareto_front",
    "summary_lines",
    "tune",
]
