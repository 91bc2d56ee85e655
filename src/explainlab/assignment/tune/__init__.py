"""``explainlab lime tune``: parameters per image that keep the IoU at a fraction of the cost.

The package: the candidates of the search space in groups that share model outputs
(``space``), the trials of one image (``search``), the safe joint choice (``choice``),
the figure (``figures``) and the stage that runs them over a run's images (``run``;
``stage`` for the pipeline).

For each image, under the reference hypothesis of the run (``[tune] hypothesis``: the one
that best predicted the public scoreboard in the latest ``explainlab lime calibrate`` of
the model, or the one named): the consensus reference (cached, computed before the
search), lime's defaults as the baseline and their ladder of num_samples (whatever the
budget), then groups of candidates while the image's share of the budget lasts. Costs and
the budget are counted work priced by the machine's cost model (measured once, stored
with the run), so load cannot change what is tried or chosen; wall time is reported beside.
Candidates of a group share one set of model outputs (same numbers as plain lime), at
``repeats`` sampling seeds (1, 2, ...; the scoreboard uses 0, so a later ``score`` is an
independent check). The choice (:func:`choose`) is joint and safe: the mean IoU kept at
``iou_ratio`` x the defaults', no image below ``image_floor`` x its defaults' IoU, the best
mean IoU within ``time_ratio`` x the defaults' cost, and the time relaxed, never the IoU,
when that cannot be met.
"""

from explainlab.assignment.tune.choice import Choice, choose, pareto_front
from explainlab.assignment.tune.run import TuneOutcome, summary_lines, tune
from explainlab.assignment.tune.space import baseline, groups, members

__all__ = [
    "Choice",
    "TuneOutcome",
    "baseline",
    "choose",
    "groups",
    "members",
    "pareto_front",
    "summary_lines",
    "tune",
]
