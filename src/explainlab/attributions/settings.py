"""The settings of the gradient and perturbation attributions, and the passes each costs.

A plain dataclass that imports nothing but the standard library, so the method registry
(and ``explainlab --help``) read it without loading torch or captum."""

from __future__ import annotations

from dataclasses import dataclass

ATTRIBUTION_KINDS: tuple[str, ...] = ("gradient", "perturbation")  # the kinds computed here
MAP_RULES: tuple[str, ...] = ("absolute", "positive")
ESTIMATE_SIZE = 224  # the crop the registry's cost per image is stated for


@dataclass(frozen=True, kw_only=True)
class AttributionSettings:
    """Each number is captum's default where captum has one; where it has none, a cheaper
    choice of ours, said on its line.

    The map on the crop is built by ``map_rule`` from the raw attribution (N, C, H, W):
    ``"absolute"``: the absolute value summed over channels (how much each pixel matters,
    whichever way); ``"positive"``: ReLU of the channel sum (only the evidence for the
    class). Either is then min-max normalised to [0, 1], as every map is.

    ``baseline``: the value every baselined method (IntegratedGradients, DeepLift,
    GradientSHAP, Occlusion, KernelSHAP, RISE's hidden pixels) puts where the input is
    taken away, in the model's normalised input space: 0 is captum's default (the
    dataset's mean colour under ImageNet normalisation). GradientSHAP has no default
    baseline in captum; it gets this one too.

    ``seed`` seeds SmoothGrad's noise, GradientSHAP's and KernelSHAP's sampling and
    RISE's masks: the same seed gives the same attribution."""

    map_rule: str = "absolute"
    seed: int = 0
    baseline: float = 0.0
    # IntegratedGradients.attribute
    ig_steps: int = 50
    ig_method: str = "gausslegendre"
    # NoiseTunnel(Saliency).attribute(nt_type="smoothgrad")
    smoothgrad_samples: int = 5
    smoothgrad_stdev: float = 1.0
    # GradientShap.attribute
    gradientshap_samples: int = 5
    gradientshap_stdev: float = 0.0
    # Occlusion.attribute: captum has no default window; its default stride of 1 would
    # run the network once per pixel position (about 44,000 times on a 224 crop), so
    # ours is half the window: (ESTIMATE_SIZE - 16) / 8 + 1 = 27 squared = 729 windows.
    occlusion_window: int = 16
    occlusion_stride: int = 8
    # KernelShap.attribute (its features: LIME's superpixels of the crop)
    kernelshap_samples: int = 25
    # perturbed inputs per forward pass (Occlusion, KernelSHAP: captum's
    # perturbations_per_eval, default 1; RISE): speed only, not the result
    batch_size: int = 32
    # RISE (Petsiuk et al., 2018), no library default: the paper's grid of 7 x 7 cells
    # kept with probability 0.5, and 1000 masks where the paper uses 4000 (a quarter of
    # the cost; the maps agree closely by then)
    rise_masks: int = 1000
    rise_cells: int = 7
    rise_probability: float = 0.5

    def validate(self) -> None:
        if self.map_rule not in MAP_RULES:
            raise ValueError(f"map_rule must be one of {', '.join(MAP_RULES)}")
        counts = {
            "ig_steps": self.ig_steps,
            "smoothgrad_samples": self.smoothgrad_samples,
            "gradientshap_samples": self.gradientshap_samples,
            "occlusion_window": self.occlusion_window,
            "occlusion_stride": self.occlusion_stride,
            "kernelshap_samples": self.kernelshap_samples,
            "batch_size": self.batch_size,
            "rise_masks": self.rise_masks,
            "rise_cells": self.rise_cells,
        }
        for name, value in counts.items():
            if value < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.smoothgrad_stdev < 0 or self.gradientshap_stdev < 0:
            raise ValueError("the noise's standard deviations must be >= 0")
        if not 0.0 < self.rise_probability <= 1.0:
            raise ValueError("rise_probability must be in (0, 1]")
        if self.seed < 0:
            raise ValueError("seed must be >= 0")


DEFAULTS = AttributionSettings()


def occlusion_windows(settings: AttributionSettings, size: int) -> int:
    """Window positions on a ``size`` x ``size`` crop (captum's: the last one flush with
    the edge, one more where the stride does not divide the rest)."""
    rest = max(size - settings.occlusion_window, 0)
    per_side = -(-rest // settings.occlusion_stride) + 1
    return per_side * per_side


def passes(name: str, settings: AttributionSettings, size: int = ESTIMATE_SIZE) -> tuple[int, int]:
    """(forward, backward) passes of one image of ``size`` pixels square for method ``name``."""
    s = settings
    table = {
        "saliency": (1, 1),
        "inputxgradient": (1, 1),
        "guidedbackprop": (1, 1),
        "guidedgradcam": (2, 2),  # guided backprop, then Grad-CAM at the layer
        "deeplift": (2, 1),  # the input and its baseline, one backward
        "integratedgradients": (s.ig_steps, s.ig_steps),
        "smoothgrad": (s.smoothgrad_samples, s.smoothgrad_samples),
        "gradientshap": (s.gradientshap_samples, s.gradientshap_samples),
        "occlusion": (occlusion_windows(s, size) + 1, 0),  # + the unoccluded input
        "kernelshap": (s.kernelshap_samples, 0),
        "rise": (s.rise_masks, 0),
    }
    return table[name]
