"""How complex is an image, and do simple images get explanations that agree more?

Per image: the fraction of the crop the object occupies (proxied by the union of
LIME's mask and the CAM's thresholded mask: there is no ground-truth segmentation),
the number of quickshift superpixels (LIME's default segmentation and parameters),
edge density (fraction of Canny edge pixels), colour entropy (bits of the joint RGB
histogram) and the model's top-1 probability. Each is correlated with IoU (Spearman's
rho), and :func:`answer` writes the paragraph from those numbers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from skimage.color import rgb2gray
from skimage.feature import canny

from explainlab import masks

# For each measure, the sign that means "simpler": +1 if a larger value is simpler.
SIMPLER_WHEN: dict[str, int] = {
    "object_area": +1,  # the object fills the frame
    "n_superpixels": -1,  # fewer regions
    "edge_density": -1,  # less texture and clutter
    "colour_entropy": -1,  # fewer colours
    "top1_prob": +1,  # the model is sure
}
MIN_IMAGES = 4  # fewest images for which a correlation is reported
LABELS: dict[str, str] = {
    "object_area": "object area (fraction of crop)",
    "n_superpixels": "quickshift superpixels",
    "edge_density": "edge density (Canny)",
    "colour_entropy": "colour entropy (bits)",
    "top1_prob": "top-1 probability",
}


@dataclass(frozen=True, kw_only=True)
class Complexity:
    key: str
    object_area: float
    n_superpixels: int
    edge_density: float
    colour_entropy: float
    top1_prob: float

    def row(self) -> dict:
        return asdict(self)


def quickshift_count(crop: np.ndarray, seed: int) -> int:
    """Superpixels of LIME's own default segmentation (quickshift 4 / 200 / 0.2)."""
    from lime.wrappers.scikit_image import SegmentationAlgorithm

    segment = SegmentationAlgorithm(
        "quickshift", kernel_size=4, max_dist=200, ratio=0.2, random_seed=seed
    )
    return int(np.unique(segment(crop)).size)


def edge_density(crop: np.ndarray, sigma: float) -> float:
    return float(canny(rgb2gray(crop), sigma=sigma).mean())


def colour_entropy(crop: np.ndarray, levels: int) -> float:
    """Shannon entropy (bits) of the RGB histogram with ``levels`` bins per channel."""
    q = (crop.astype(np.int64) * levels) // 256
    codes = (q[..., 0] * levels + q[..., 1]) * levels + q[..., 2]
    p = np.bincount(codes.ravel(), minlength=levels**3) / codes.size
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def measure(
    key: str,
    crop: np.ndarray,
    object_mask: np.ndarray,
    top1_prob: float,
    *,
    edge_sigma: float,
    colour_levels: int,
    seed: int,
) -> Complexity:
    return Complexity(
        key=key,
        object_area=float(np.mean(object_mask)),
        n_superpixels=quickshift_count(crop, seed),
        edge_density=edge_density(crop, edge_sigma),
        colour_entropy=colour_entropy(crop, colour_levels),
        top1_prob=float(top1_prob),
    )


def correlations(complexity: pd.DataFrame, iou: Mapping[str, pd.Series]) -> pd.DataFrame:
    """Spearman's rho and p of every complexity measure with each method's IoU.

    ``complexity`` has a ``key`` column and one column per measure; ``iou`` maps a
    method to a Series of IoU indexed by key."""
    rows = []
    frame = complexity.set_index("key")
    # Below MIN_IMAGES a rank correlation's p-value means nothing (n = 3 gives p = 0 for a
    # perfect order that chance makes one time in six), so none is reported.
    for method, values in iou.items():
        joined = frame.join(values.rename("iou"), how="inner")
        for name in SIMPLER_WHEN:
            rho, p = masks.spearman(joined[name].to_numpy(), joined["iou"].to_numpy())
            if len(joined) < MIN_IMAGES:
                rho, p = float("nan"), float("nan")
            rows.append({"method": method, "measure": name, "n": len(joined), "rho": rho, "p": p})
    return pd.DataFrame(rows, columns=["method", "measure", "n", "rho", "p"])


def critical_rho(n: int, alpha: float = 0.05) -> float:
    """The smallest |rho| reaching two-sided significance ``alpha`` with n points (t approximation)."""
    if n < 4:
        return float("nan")
    t = stats.t.ppf(1 - alpha / 2, n - 2)
    return float(t / np.sqrt(n - 2 + t * t))


@dataclass(frozen=True, kw_only=True)
class Answer:
    verdict: str  # "yes", "partly", "no", "mixed" or "undetermined"
    paragraph: str
    supporting: list[str]  # measures pointing to "simpler agrees more"
    significant: list[str]  # measures with p < alpha (either direction)
    against: list[str] = field(default_factory=list)  # measures pointing the other way


def answer(
    corr: pd.DataFrame,
    iou: pd.Series,
    method_title: str,
    *,
    alpha: float = 0.05,
) -> Answer:
    """The paragraph "do simple images agree more?", built only from ``corr`` and ``iou``.

    ``corr``: rows of :func:`correlations` for one method; ``iou``: that method's
    area-matched IoU per image."""
    n = int(iou.notna().sum())
    head = (
        f"Do simple images agree more? Agreement here is the area-matched IoU between "
        f"{method_title} and LIME"
    )
    usable = corr.dropna(subset=["rho"])
    if n < MIN_IMAGES or usable.empty:
        return Answer(
            verdict="undetermined",
            paragraph=f"{head}. With {n} image(s) no rank correlation can be estimated, "
            "so the question stays open; run the comparison on more images.",
            supporting=[],
            significant=[],
        )
    lines, supporting, against, significant = [], [], [], []
    for _, row in usable.iterrows():
        name = str(row["measure"])
        simpler_more = np.sign(row["rho"]) * SIMPLER_WHEN[name] > 0
        (supporting if simpler_more else against).append(name)
        if row["p"] < alpha:
            significant.append(name)
        lines.append(f"{LABELS[name]} rho = {row['rho']:+.2f} (p = {p_text(row['p'])})")
    sig_for = [m for m in significant if m in supporting]
    sig_against = [m for m in significant if m in against]
    if sig_for and sig_against:
        verdict = "mixed"
    elif sig_for:
        verdict = "yes" if len(sig_for) > len(usable) / 2 else "partly"
    else:
        verdict = "no"

    def go(measures: list[str]) -> str:
        return "goes" if len(measures) == 1 else "go"

    verdict_text = {
        "yes": f"yes: most measures of simplicity go with higher agreement at p < {alpha:g}",
        "partly": f"partly: {_names(sig_for)} {go(sig_for)} with higher agreement at "
        f"p < {alpha:g}, the other measures do not",
        "no": f"not supported with {n} images: no measure of simplicity goes with higher "
        f"agreement at p < {alpha:g}"
        + (f" ({_names(sig_against)} even {go(sig_against)} the other way)" if sig_against else ""),
        "mixed": f"mixed: {_names(sig_for)} {go(sig_for)} with higher agreement, "
        f"{_names(sig_against)} with lower (each at p < {alpha:g})",
    }[verdict]
    rc = critical_rho(n, alpha)
    strongest = usable.loc[usable["rho"].abs().idxmax()]
    text = (
        f"{head} (mean {iou.mean():.2f}, range {iou.min():.2f}–{iou.max():.2f} over {n} images). "
        f"On these images the answer is {verdict_text}. "
        f'{len(supporting)} of {len(usable)} measures point towards "simpler images agree more" '
        f"and {len(against)} away from it: {'; '.join(lines)}. "
        f"The strongest relation is {LABELS[str(strongest['measure'])]} "
        f"(rho = {strongest['rho']:+.2f}). "
        f"{n} images are few: a Spearman rho must reach about {rc:.2f} in size "
        f"to be significant at p < {alpha:g}, one image can change a sign, and {len(usable)} "
        "tests at once make one chance finding in the set not unlikely, so this is an "
        "observation about these images rather than a general law."
    )
    if "object_area" in supporting:
        text += (
            " Part of a positive relation with object area is expected without any real "
            "agreement: two random masks overlap more the larger they are (the chance IoU "
            "is in agreement.csv as iou_area_chance)."
        )
    return Answer(
        verdict=verdict,
        paragraph=text,
        supporting=supporting,
        significant=significant,
        against=against,
    )


def p_text(p: float) -> str:
    """A p-value as the reports print it: two decimals, four below 0.01 (no exponents)."""
    return f"{p:.4f}" if p < 0.01 else f"{p:.2f}"


def _names(measures: Sequence[str]) -> str:
    return ", ".join(LABELS[m] for m in measures)
