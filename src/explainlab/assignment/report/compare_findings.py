"""Report 4's findings, each chosen by a rule from the compare stage's summary.json.

Every rule reads only numbers the stage wrote (so every number it prints is the run's)
and returns a :class:`Finding` whose claim follows those numbers, or says that they do
not support one (too few images, a difference too small to rank)."""

from __future__ import annotations

from typing import Any

from explainlab.assignment.report.common import join_names, num
from explainlab.compare.complexity import LABELS, SIMPLER_WHEN, p_text
from explainlab.compare.figures import title
from explainlab.compare.findings import BARELY, HEADLINE, PARTLY, RANDOM, Sanity, wins_key
from explainlab.compare.settings import LIME
from explainlab.measures import get_measure, measures
from explainlab.report.findings import Finding, Missed, file_ref

ALIKE_WITHIN = 0.05  # CAM methods whose mean IoUs lie this close are not ranked
MOSTLY = 0.5  # "on most images": more than this share

Numbers = dict[str, Any]


def choose(numbers: Numbers, crop: int | None) -> list[Finding]:
    """The page-1 findings, in reading order: agreement, complexity, faithfulness, sanity
    (the last three where the stage measured them); a ranking of the CAM methods only
    where one of those is missing, so that page 1 stays one page."""
    main = [complexity(numbers), faithfulness(numbers), sanity(numbers)]
    extra = family(numbers) if None in main else None
    return [f for f in (agreement(numbers, crop), extra, *main) if f is not None]


def missed(numbers: Numbers) -> list[Missed]:
    """Targets the comparison did not meet: images it could not compare; a complexity
    question it could not even estimate."""
    out = []
    if numbers.get("failures"):
        out.append(
            Missed(
                "every image compared",
                f"{len(numbers['failures'])} image(s) had no usable CAM or LIME result and are "
                "left out (compare/summary.json).",
            )
        )
    if numbers["complexity"]["verdict"] == "undetermined":
        out.append(
            Missed(
                "a test of whether simple images agree more",
                f"with {numbers['images']} image(s) no rank correlation can be estimated, let "
                "alone a significant one; the question stays open until the comparison runs on "
                "more images.",
            )
        )
    return out


def agreement(numbers: Numbers, crop: int | None) -> Finding:
    """IoU against chance; the reason is the CAM grid's resolution (with its ceiling)."""
    method = numbers["primary_method"]
    means = numbers["agreement_mean"][method]
    iou, chance = means[HEADLINE], means[get_measure(HEADLINE).chance]
    above, n = numbers.get("above_chance", {}).get(method), numbers["images"]
    if above is not None and above <= MOSTLY * n:
        claim = f"{title(method)} and LIME agree no better than chance on most images."
    elif iou >= 0.5:
        claim = f"{title(method)} and LIME mark largely the same pixels."
    else:
        claim = f"{title(method)} and LIME agree more than chance, but far from fully."
    evidence = (
        f"Area-matched IoU {num(iou)} on average, against {num(chance)} for random masks of "
        "the same areas"
        + (f"; above chance on {above} of {n} images" if above is not None else "")
        + _family_range(numbers)
        + f" {file_ref('compare/agreement.csv')}."
    )
    return Finding(claim, evidence, _grid_reason(numbers, method, crop))


def _family_range(numbers: Numbers) -> str:
    """The CAM methods' range of mean IoU, where they agree alike (see :func:`family`)."""
    iou = [numbers["agreement_mean"][m][HEADLINE] for m in numbers["cam_methods"]]
    if len(iou) < 2 or max(iou) - min(iou) >= ALIKE_WITHIN:
        return ""
    return f"; every CAM method alike, {num(min(iou))}–{num(max(iou))}"


def _grid_reason(numbers: Numbers, method: str, crop: int | None) -> str:
    grid, ceiling = numbers.get("cam_grid"), numbers.get("iou_area_ceiling")
    if not grid:
        return (
            f"a {title(method)} map is made on the target layer's coarse grid and upsampled to "
            "the crop, so it cannot follow the superpixel boundaries of LIME's mask; its IoU "
            "with a superpixel mask is bounded below 1."
        )
    where = f"the {crop}×{crop} crop" if crop else "the crop"
    reason = (
        f"a {title(method)} map is a {grid[0]}×{grid[1]} grid upsampled to {where}, smooth "
        "blobs that cannot follow the superpixel edges of LIME's mask: LIME's own mask seen "
        f"through that grid reaches only IoU {num(ceiling)} {file_ref('compare/ceiling.csv')}"
    )
    iou = numbers["agreement_mean"][method][HEADLINE]
    if ceiling is not None and iou < 0.5 * ceiling:
        return reason + ("; the rest of the gap is disagreement about where the evidence lies.")
    return reason + ", so much of the shortfall is that resolution, not disagreement."


def family(numbers: Numbers) -> Finding | None:
    """Which CAM method agrees most with LIME, where their IoUs differ enough to rank (when
    they do not, :func:`agreement` gives their range)."""
    methods = numbers["cam_methods"]
    iou = {m: numbers["agreement_mean"][m][HEADLINE] for m in methods}
    if len(methods) < 2 or max(iou.values()) - min(iou.values()) < ALIKE_WITHIN:
        return None
    best, worst = max(iou, key=iou.get), min(iou, key=iou.get)
    return Finding(
        f"{title(best)} agrees most with LIME, {title(worst)} least.",
        f"Mean area-matched IoU {num(iou[best])} against {num(iou[worst])} "
        f"{file_ref('compare/summary.json')}.",
        "they share the layer's activations but weight its channels differently: Grad-CAM by "
        "the mean gradient, AblationCAM and ScoreCAM by how the class score changes when a "
        "channel or the input is masked, a perturbation closer to LIME's own.",
    )


def complexity(numbers: Numbers) -> Finding | None:
    """Do simple images agree more? Against the significance n images allow (None where no
    rho could be estimated: :func:`missed` says so)."""
    c, n = numbers["complexity"], numbers["images"]
    corr = {m: v for m, v in c["correlations"].items() if v.get("rho") is not None}
    if not corr:
        return None
    critical, alpha = num(c.get("critical_rho")), c.get("alpha", 0.05)
    strongest = max(corr, key=lambda m: abs(corr[m]["rho"]))
    s = corr[strongest]
    evidence = (
        f"Strongest: {LABELS[strongest]}, rho = {s['rho']:+.2f} (p = {p_text(s['p'])}); with "
        f"{n} images only |rho| > {critical} is significant at p < {alpha:g} "
        f"{file_ref('compare/correlations.csv')}."
    )
    for_ = [m for m in c.get("significant", []) if m in c.get("supporting", [])]
    against = [m for m in c.get("significant", []) if m not in c.get("supporting", [])]
    if not for_:
        claim = f"'Simple images agree more' is not supported with {n} images."
        if against:
            claim += f" {_labels(against)} even point the other way."
        return Finding(
            claim,
            evidence,
            "a moderate relation cannot be told from chance over this few images, so this is "
            "no evidence against one either; one image can flip a rho's sign.",
        )
    reason = (
        f"{len(corr)} measures are tested at once, so one reaching p < {alpha:g} by chance "
        "alone is not unlikely"
    )
    if "object_area" in for_:
        reason += (
            "; and random masks overlap more when they are larger, so a larger object "
            "raises IoU without any real agreement"
        )
    return Finding(
        f"Simpler images agree more by {_labels(for_)}"
        + (f", less by {_labels(against)}" if against else "")
        + f": an observation on {n} images.",
        evidence,
        reason + ".",
    )


def _labels(measures: list[str]) -> str:
    return join_names([LABELS[m].split(" (")[0] for m in measures if m in SIMPLER_WHEN])


def faithfulness(numbers: Numbers) -> Finding | None:
    """Which map is more faithful by every faithfulness measure (deletion and insertion
    AUC), against the random order."""
    faith, paired = numbers.get("faithfulness_mean"), numbers.get("faithfulness_paired")
    if not faith or not paired:
        return None
    cam, _ = paired["methods"]
    n = paired["images"]
    specs = [s for s in measures("map") if wins_key(s) in paired]
    wins = {s.short: paired[wins_key(s)] for s in specs}
    rnd = faith.get(RANDOM, {})
    means = []
    for i, s in enumerate(specs):
        values = [num(faith[cam][s.name]), num(faith[LIME][s.name]), num(rnd.get(s.name))]
        if i == 0:  # the first names what it is, the others follow its pattern
            head = s.title[:1].upper() + s.title[1:] + (f" ({s.better})" if s.better else "")
            means.append(f"{head} {title(cam)} {values[0]}, LIME {values[1]}, random {values[2]}")
        else:
            means.append(f"{s.short} " + ", ".join(values))
    evidence = (
        "; ".join(means)
        + f"; {title(cam)} better on "
        + join_names([f"{w} ({short})" for short, w in wins.items()])
        + f" of {n} images {file_ref('compare/faithfulness_summary.csv')}."
    )
    if all(w > MOSTLY * n for w in wins.values()):
        return Finding(
            f"{title(cam)}'s map is the more faithful one.",
            evidence,
            f"{title(cam)} weights the activations by the gradient of the class score, so its "
            "top pixels are those the decision depends on; LIME's map is constant over each "
            "superpixel and comes from a surrogate fit to a few hundred noisy on/off samples.",
        )
    if all(w < (1 - MOSTLY) * n for w in wins.values()):
        return Finding(
            "LIME's map is the more faithful one.",
            evidence,
            "LIME is fit to the model's response to switching superpixels off, which is close "
            f"to what deletion measures; {title(cam)}'s coarse blobs spill over the object's "
            "edges onto pixels the model does not use.",
        )
    return Finding(
        "Neither map is more faithful on most images.",
        evidence,
        "the curves split image by image or by kind (deletion fills with the mean colour, "
        "insertion starts from a blur), and a map can rank its first pixels well, the rest "
        "poorly.",
    )


def sanity(numbers: Numbers) -> Finding | None:
    """The model-randomisation check's verdicts: a map must change with the weights."""
    s = Sanity.of(numbers)
    if s is None or not s.final:
        return None
    fails, partly = s.with_verdict(BARELY), s.with_verdict(PARTLY)
    evidence = (
        f"Top {len(s.blocks)} block(s) re-initialised, {s.images} image(s); rank "
        "correlation with the original map: "
        + ", ".join(f"{title(f.method)} {num(f.rho)} ({f.verdict})" for f in s.final)
        + f" {file_ref('compare/sanity.csv')}."
    )
    if fails:
        return Finding(
            f"{join_names([title(m) for m in fails])} fail(s) the randomisation check.",
            evidence,
            "a map that barely changes when the weights are destroyed shows the image "
            "(edges, colour), not what the model learned.",
        )
    reason = "a map that depends on what the model learned must change when its weights go"
    if partly:
        reason += (
            f"; {join_names([title(m) for m in partly])} change(s) only partly because only "
            "the top blocks are randomised: the lower layers' activations, and with them the "
            "map's layout, stay"
        )
    return Finding("Every map checked depends on the model's weights.", evidence, reason + ".")
