"""Settings of the dissection stage (the ``[dissect]`` table of a run config)."""

from __future__ import annotations

from dataclasses import dataclass, field

from explainlab.settings import setting

SIMILARITIES: tuple[str, ...] = (
    "soft_wpmi",
    "wpmi",
    "cos_similarity",
    "cos_similarity_cubed",
    "rank_reorder",
)
POOLINGS: tuple[str, ...] = ("avg", "max")
# CLIP-Dissect's concept sets, by the short names the command line accepts.
CONCEPT_SETS: dict[str, str] = {
    "20k": "20k.txt",
    "10k": "10k.txt",
    "3k": "3k.txt",
    "broden": "broden_labels_clean.txt",
    "imagenet": "imagenet_labels.txt",
    "places365": "categories_places365.txt",
}
# Each similarity function's parameters and the reference method's defaults.
SIMILARITY_PARAMS: dict[str, dict[str, float]] = {
    "soft_wpmi": {
        "top_k": 100,
        "a": 10.0,
        "lam": 1.0,
        "min_prob": 1e-7,
        "p_start": 0.998,
        "p_end": 0.97,
    },
    "wpmi": {"top_k": 28, "a": 2.0, "lam": 0.6, "min_prob": 1e-7},
    "cos_similarity": {},
    "cos_similarity_cubed": {"min_norm": 1e-3},
    "rank_reorder": {"p": 3.0, "top_fraction": 0.05, "scale_p": 0.5},
}
RANDOM_CLIP = "none"  # clip_pretrained value for randomly initialised CLIP weights
# fp16: as the reference (OpenAI's clip.load): fp16 on a GPU, fp32 on a CPU
CLIP_PRECISIONS: tuple[str, ...] = ("fp32", "fp16")


@dataclass(frozen=True, kw_only=True)
class DissectSettings:
    models: tuple[str, ...] = setting(
        ("resnet18", "resnet18_places365"), "models (default: both ResNet18s)"
    )
    layers: tuple[str, ...] = setting(
        ("layer2", "layer3", "layer4"), "layer names, e.g. layer4 or fc"
    )
    # "broden" (broden1_224 through the asset registry) and/or image folders (ImageNet val ...)
    probe: tuple[str, ...] = setting(
        ("broden",), "'broden' and/or image folders (an ImageNet val folder ...)", metavar="SET"
    )
    probe_limit: int = setting(
        0, "a fixed-seed subset of N probe images (default 0: all)", metavar="N"
    )
    seed: int = setting(
        0, "seed of the subset, of random CLIP weights and of rank_reorder's baseline"
    )
    concept_set: str = setting(
        "20k", f"{', '.join(CONCEPT_SETS)} or a text file (one concept a line)"
    )
    clip_model: str = setting(
        "ViT-B-16-quickgelu",
        "open_clip model (default %(default)s, OpenAI's ViT-B/16 as in the reference)",
    )
    clip_pretrained: str = setting(
        "openai", f"open_clip tag, checkpoint file, or '{RANDOM_CLIP}' for random weights"
    )
    clip_precision: str = setting(
        "fp32",
        "CLIP's precision (default %(default)s; fp16 runs CLIP as the reference does: fp16 on a GPU, "
        "fp32 on a CPU)",
        choices=CLIP_PRECISIONS,
    )
    similarity: str = setting("soft_wpmi", "similarity function", choices=SIMILARITIES)
    # overrides, e.g. top_k (the command line's --param NAME=VALUE)
    similarity_params: dict[str, float] = field(default_factory=dict)
    pooling: str = setting("avg", "spatial pooling of conv outputs", choices=POOLINGS)
    batch_size: int = setting(64, "images per batch")
    num_workers: int = setting(2, "DataLoader workers decoding probe images", aliases=("workers",))
    shard_size: int = setting(2048, "images per cached shard, the unit of resume")
    memory_mb: int = setting(
        512, "working memory of the similarity (images x concepts computations) in MB"
    )
    cache_dir: str = setting(
        "", "cache of features and activations (default <EXPLAINLAB_CACHE>/dissect)"
    )
    top_images: int = 10  # top-activating probe images kept per unit (montages)

    def validate(self) -> None:
        if not self.models:
            raise ValueError("models must name at least one model")
        if not self.layers or any(not name.strip() for name in self.layers):
            raise ValueError("layers must name at least one layer")
        if not self.probe:
            raise ValueError("probe must name at least one probe set ('broden' or a folder)")
        if self.probe_limit < 0:
            raise ValueError("probe_limit must be 0 (all images) or a positive number")
        if self.similarity not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {', '.join(SIMILARITIES)}")
        unknown = sorted(set(self.similarity_params) - set(SIMILARITY_PARAMS[self.similarity]))
        if unknown:
            known = ", ".join(SIMILARITY_PARAMS[self.similarity]) or "none"
            raise ValueError(
                f"similarity_params {', '.join(unknown)} unknown for {self.similarity} "
                f"(its parameters: {known})"
            )
        if self.clip_precision not in CLIP_PRECISIONS:
            raise ValueError(f"clip_precision must be one of {', '.join(CLIP_PRECISIONS)}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}")
        for name, value in (
            ("batch_size", self.batch_size),
            ("shard_size", self.shard_size),
            ("memory_mb", self.memory_mb),
            ("top_images", self.top_images),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.num_workers < 0:
            raise ValueError("num_workers must be 0 or more")
        if not self.concept_set.strip():
            raise ValueError("concept_set must name a concept set or a text file")
