"""Report 4: how far Grad-CAM (and the CAM family) and LIME agree, and which is faithful."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from reportlab.lib.units import cm

from explainlab.compare.figures import title
from explainlab.report.common import RunFacts, image_panels, join_names, num, pretty_key, read_csv
from explainlab.report.pdf import TEXT_WIDTH, text
from explainlab.stages import stage_dir

MEASURE_NAMES = {
    "object_area": "object area (fraction of crop)",
    "n_superpixels": "quickshift superpixels",
    "edge_density": "edge density (Canny)",
    "colour_entropy": "colour entropy (bits)",
    "top1_prob": "top-1 probability",
}


def build(facts: RunFacts, out: Path) -> Path:
    folder = stage_dir(facts.run_dir, "compare")
    numbers = json.loads((folder / "summary.json").read_text())
    model, primary = numbers["model"], numbers["primary_method"]
    methods = numbers["cam_methods"]
    agreement = pd.read_csv(folder / "agreement.csv")
    report = facts.new_report("Grad-CAM and LIME compared", "report 4", facts.banner(model))
    facts.stand_in_paragraph(report, model)

    means = numbers["agreement_mean"]
    p = means[primary]
    report.paragraph(
        f"On {numbers['images']} images ({text(facts.model_description(model))}), each CAM map is "
        f"compared with LIME's positive mask on the same 224×224 crop. IoU is taken two ways: with the "
        f"CAM binarised at half its maximum, and <i>area-matched</i> (the CAM's top pixels covering "
        f"the LIME mask's area), which removes the threshold's arbitrariness. For {title(primary)}: "
        f"IoU {num(p['iou_threshold'])} at the threshold and {num(p['iou_area'])} area-matched, against "
        f"{num(p['iou_area_chance'])} expected by chance for masks of these areas; Dice "
        f"{num(p['dice_area'])}; the CAM's peak falls inside the LIME mask on "
        f"{num(100 * p['pointing_game'], '.0f')}% of the images; the rank correlation between the CAM "
        f"averaged per superpixel and LIME's weights is ρ = {num(p['superpixel_rho'])}."
    )
    report.table(
        [
            [
                title(m),
                num(means[m]["iou_threshold"]),
                num(means[m]["iou_area"]),
                num(means[m]["iou_area_chance"]),
                num(means[m]["dice_area"]),
                num(means[m]["pointing_game"]),
                num(means[m]["superpixel_rho"]),
            ]
            for m in methods
        ],
        header=[
            "CAM method",
            "IoU (≥ 0.5)",
            "IoU (area)",
            "chance IoU",
            "Dice (area)",
            "pointing",
            "ρ superpixels",
        ],
        caption="Agreement with LIME, mean over the images.",
    )
    per_image = agreement[(agreement["method"] == primary)].pivot_table(
        index="key", columns="measure", values="value"
    )
    per_image = per_image.reindex(numbers["keys"])
    report.table(
        [
            [
                pretty_key(k),
                num(r.get("iou_threshold")),
                num(r.get("iou_area")),
                num(r.get("iou_area_chance")),
                num(r.get("pointing_game"), ".0f"),
                num(r.get("superpixel_rho")),
            ]
            for k, r in per_image.iterrows()
        ],
        header=["image", "IoU (≥ 0.5)", "IoU (area)", "chance IoU", "pointing", "ρ superpixels"],
        col_widths=[w * cm for w in (4.2, 2.4, 2.4, 2.4, 2.0, 2.6)],
        caption=f"{title(primary)} vs LIME per image.",
    )

    report.heading("Do simple images agree more?")
    complexity = numbers["complexity"]
    report.paragraph(text(complexity["paragraph"]))
    rows = [
        [MEASURE_NAMES.get(m, m), num(c["rho"]), num(c["p"], ".3f"), str(c["n"])]
        for m, c in complexity["correlations"].items()
    ]
    report.table(
        rows,
        header=["complexity measure", "Spearman ρ with IoU", "p", "images"],
        caption=f"Complexity against {text(complexity['iou'])}.",
    )
    for name, caption, height in (
        (
            "complexity_scatter.png",
            "Each complexity measure against IoU, with the image names.",
            17,
        ),
        ("iou_bars.png", "IoU per image, sorted, with the chance level.", 9.5),
        ("iou_sweep.png", "IoU as a function of the CAM threshold, one curve per image.", 9.5),
    ):
        if (folder / name).is_file():
            report.figure(folder / name, caption=caption, max_height=height * cm)

    if "faithfulness_mean" in numbers:
        report.heading("Faithfulness: deletion and insertion")
        faith = numbers["faithfulness_mean"]
        explained = [m for m in faith if m != "random"]
        best_del = min(explained, key=lambda m: faith[m]["deletion_auc"])
        best_ins = max(explained, key=lambda m: faith[m]["insertion_auc"])
        rnd = faith.get("random", {})
        report.paragraph(
            "Pixels are removed (deletion) or revealed (insertion) in the order of each map's saliency "
            "and the probability of the explained class is recorded; a faithful map makes it fall fast "
            "(low deletion AUC) and rise fast (high insertion AUC). LIME ranks pixels by their "
            f"superpixel's weight; a random order of patches is the baseline (deletion "
            f"{num(rnd.get('deletion_auc'))}, insertion {num(rnd.get('insertion_auc'))}). Lowest deletion "
            f"AUC: {title(best_del)} ({num(faith[best_del]['deletion_auc'])}); highest insertion AUC: "
            f"{title(best_ins)} ({num(faith[best_ins]['insertion_auc'])})."
        )
        table = read_csv(folder / "faithfulness_summary.csv")
        if table is not None:
            report.table(
                [
                    [
                        title(r["method"]),
                        num(r["deletion_auc"], ".3f"),
                        num(r["insertion_auc"], ".3f"),
                        ""
                        if pd.isna(r["deletion_beats_random"])
                        else f"{int(r['deletion_beats_random'])}/{int(r['images'])}",
                        ""
                        if pd.isna(r["insertion_beats_random"])
                        else f"{int(r['insertion_beats_random'])}/{int(r['images'])}",
                    ]
                    for _, r in table.iterrows()
                ],
                header=[
                    "method",
                    "deletion AUC ↓",
                    "insertion AUC ↑",
                    "deletion beats random",
                    "insertion beats random",
                ],
                caption="Mean AUC over the images.",
            )
        if (folder / "faithfulness_curves.png").is_file():
            report.figure(
                folder / "faithfulness_curves.png",
                caption="Deletion and insertion curves, mean over the images.",
                max_height=9 * cm,
            )

    if "sanity" in numbers:
        report.heading("Sanity check: model parameter randomisation")
        sanity = numbers["sanity"]
        final = sanity["final"]
        report.paragraph(
            f"The model's layers are re-initialised from the top down ({len(sanity['blocks'])} blocks, on "
            f"{sanity['images']} images) and each method's map is compared with its map for the trained "
            "model (Spearman ρ and SSIM). A map that barely changes explains the image, not the model. "
            "After the whole cascade: "
            + "; ".join(
                f"{title(m)} ρ {num(v['spearman'])}, SSIM {num(v['ssim'])} ({text(v['verdict'])})"
                for m, v in final.items()
            )
            + "."
        )
        if (folder / "sanity.png").is_file():
            report.figure(
                folder / "sanity.png",
                caption="Similarity to the original map as more layers are randomised.",
                max_height=8 * cm,
            )

    report.heading("Appendix: per-image comparisons")
    report.paragraph(
        f"For each image: the CAM, its ≥ 0.5 region, LIME's mask, and their intersection and "
        f"differences, for {join_names([title(m) for m in methods])}."
    )
    image_panels(report, folder, numbers["keys"], width=0.8 * TEXT_WIDTH, max_height=12 * cm)
    return report.save(out)
