"""Deletion curves: pytorch-grad-cam's PerturbationConfidenceMetric (one call per removal
fraction, as the library is used) against ours (every fraction in shared batches), on the
offline EfficientNet-Lite0 and a Grad-CAM map whose ties are broken so that both remove
exactly the same pixels."""

from __future__ import annotations

import time

import numpy as np

STEPS = 16


def main(images: int = 2) -> int:
    from pytorch_grad_cam.metrics.perturbation_confidence import (
        PerturbationConfidenceMetric,
        RemoveMostRelevantFirst,
    )
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    from explainlab import masks
    from explainlab.cam.methods import compute_cam
    from explainlab.compare import faithfulness
    from explainlab.images import MISSION_KEYS, load_samples, mission_sources
    from explainlab.models import load_model

    model = load_model("efficientnet_lite0", "auto")
    samples, _ = load_samples(mission_sources(list(MISSION_KEYS[:images])), model.geometry)
    percentiles = [100.0 * (1 - k / STEPS) for k in range(1, STEPS)]
    t_lib = t_ours = 0.0
    worst = 0.0
    for sample in samples:
        x = sample.tensor[None].to(model.device)
        target = int(model.probabilities(x).argmax())
        cam = compute_cam("gradcam", model.module, model.layer(), x, target, impl="library")
        rng = np.random.default_rng(0)
        # Break the ties (the zero floor) below the map's resolution: both sides then see the
        # same strict order.
        saliency = cam.astype(np.float64) + 1e-9 * rng.permutation(cam.size).reshape(cam.shape)
        fill = faithfulness.substrate(model, sample, "mean")  # on the CPU, as the library imputes

        def imputer(t, keep, fill=fill):
            return t * keep + fill * (1 - keep)

        start = time.perf_counter()
        library = [
            float(
                PerturbationConfidenceMetric(RemoveMostRelevantFirst(p, imputer))(
                    x,
                    saliency[None],
                    [ClassifierOutputSoftmaxTarget(target)],
                    model.module,
                    return_diff=False,
                )[0]
            )
            for p in percentiles
        ]
        t_lib += time.perf_counter() - start
        counts = np.array(
            [int((saliency >= np.percentile(saliency, p)).sum()) for p in percentiles]
        )
        start = time.perf_counter()
        ours = faithfulness.perturbed_probabilities(
            model,
            sample.tensor,
            fill,
            [masks.rank_order(saliency, rng)],
            counts,
            target,
            batch_size=32,
        )[0]
        t_ours += time.perf_counter() - start
        worst = max(worst, float(np.max(np.abs(ours - np.array(library)))))
    print(f"deletion curve, {len(samples)} image(s) x {len(percentiles)} fractions, {model.device}")
    print(f"  pytorch-grad-cam PerturbationConfidenceMetric: {t_lib:8.2f} s")
    print(f"  ours (batched):                                {t_ours:8.2f} s")
    print(
        f"  ratio library/ours: {t_lib / t_ours:.2f}   max abs diff of probabilities: {worst:.2e}"
    )
    return 0
