"""CLIP features through open_clip: image features of the probe images (CLIP's own
preprocessing) and text features of the concept words, encoded bare (no prompt).

The pipeline talks to a :class:`ConceptEncoder`; :class:`OpenClipEncoder` is the real
one, and tests plug in synthetic encoders with known concept embeddings.

Text encoding trims every batch of token sequences to its longest sequence: CLIP's
text transformer is causal and pools the end-of-text token, so the padding after it
cannot change the result, and single words cost a tenth of the full 77-token context.
``trim_text=False`` runs open_clip's own ``encode_text`` (a test checks both agree)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import torch
from PIL import Image
from tqdm.auto import tqdm

from explainlab import assets
from explainlab.dissect.settings import RANDOM_CLIP
from explainlab.errors import MissingAssetsError, UnknownNameError


class ConceptEncoder(Protocol):
    """What CLIP-Dissect needs from CLIP."""

    identity: dict[str, Any]  # what changes the features: enters the cache keys
    note: str  # said in outputs, e.g. that the weights are random

    def preprocess(self, image: Image.Image) -> torch.Tensor: ...

    def encode_images(self, batch: torch.Tensor) -> torch.Tensor: ...

    def encode_texts(self, words: Sequence[str]) -> torch.Tensor: ...


def clip_identity(model_name: str, pretrained: str, seed: int) -> dict[str, Any]:
    """The cache identity of an open_clip model, known without loading it."""
    if pretrained.lower() in (RANDOM_CLIP, ""):
        return {"open_clip": model_name, "pretrained": None, "random_seed": seed}
    path = Path(pretrained).expanduser()
    if path.is_file():
        return {"open_clip": model_name, "pretrained_file_sha256": assets.file_digest(path)}
    return {"open_clip": model_name, "pretrained": pretrained}


def _check_names(model_name: str, pretrained: str) -> None:
    import open_clip

    if model_name not in open_clip.list_models():
        raise UnknownNameError(
            f"unknown open_clip model {model_name!r}",
            hint="see open_clip.list_models(); CLIP-Dissect uses ViT-B-16",
        )
    tags = open_clip.list_pretrained_tags_by_model(model_name)
    is_file = Path(pretrained).expanduser().is_file()
    if pretrained.lower() not in (RANDOM_CLIP, "") and not is_file and pretrained not in tags:
        raise UnknownNameError(
            f"open_clip has no pretrained weights {pretrained!r} for {model_name}",
            hint=f"known tags: {', '.join(tags)}; or a checkpoint file; or 'none' (random)",
        )


def _cached_weights(model_name: str, tag: str, cache_dir: str | None) -> bool:
    """Whether open_clip would find the weights without a download."""
    from open_clip.pretrained import get_pretrained_cfg

    cfg = get_pretrained_cfg(model_name, tag)
    if cfg.get("file"):
        return Path(cfg["file"]).is_file()
    if cfg.get("hf_hub"):
        from huggingface_hub import try_to_load_from_cache

        repo, filename = os.path.split(cfg["hf_hub"])
        candidates = [filename] if filename else ["open_clip_pytorch_model.bin"]
        candidates += [c.replace("pytorch_model.bin", "model.safetensors") for c in candidates]
        candidates += [c.replace(".bin", ".safetensors") for c in candidates]
        return any(
            isinstance(try_to_load_from_cache(repo, name, cache_dir=cache_dir), str)
            for name in dict.fromkeys(candidates)
        )
    if cfg.get("url"):
        root = Path(cache_dir) if cache_dir else Path.home() / ".cache" / "clip"
        return (root / os.path.basename(cfg["url"])).is_file()
    return False


def _weights_source(model_name: str, tag: str) -> str:
    from open_clip.pretrained import get_pretrained_cfg

    cfg = get_pretrained_cfg(model_name, tag)
    if cfg.get("hf_hub"):
        return f"https://huggingface.co/{cfg['hf_hub'].rstrip('/')}"
    return cfg.get("url", "open_clip")


class OpenClipEncoder:
    def __init__(
        self,
        model_name: str = "ViT-B-16",
        pretrained: str = "openai",
        *,
        device: str | torch.device = "cpu",
        seed: int = 0,
        cache_dir: str | None = None,
        trim_text: bool = True,
        text_batch_size: int = 256,
    ) -> None:
        import open_clip

        _check_names(model_name, pretrained)
        self.identity = clip_identity(model_name, pretrained, seed)
        self.device = torch.device(device)
        self.trim_text = trim_text
        self.text_batch_size = text_batch_size
        random = pretrained.lower() in (RANDOM_CLIP, "")
        weights: str | None = None if random else str(Path(pretrained).expanduser())
        if not random and not Path(pretrained).expanduser().is_file():
            weights = pretrained
            if assets.offline() and not _cached_weights(model_name, pretrained, cache_dir):
                raise self._missing(model_name, pretrained, cache_dir)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # random weights are reproducible (and cacheable)
            try:
                # require_pretrained: open_clip otherwise only logs a failed download and
                # returns RANDOM weights, which would label every unit with noise.
                model, _, preprocess = open_clip.create_model_and_transforms(
                    model_name,
                    pretrained=weights,
                    device=self.device,
                    cache_dir=cache_dir,
                    require_pretrained=not random,
                )
            except RuntimeError as exc:
                message = str(exc).lower()
                if any(w in message for w in ("download", "connection", "could not be loaded")):
                    raise self._missing(model_name, pretrained, cache_dir) from None
                raise
        self.model = model.eval()
        self._preprocess = preprocess
        self.tokenizer = open_clip.get_tokenizer(model_name)
        self.note = (
            f"open_clip {model_name} with RANDOM weights (seed {seed}): a stand-in, the "
            "labels mean nothing"
            if random
            else f"open_clip {model_name}, pretrained {pretrained}"
        )

    @staticmethod
    def _missing(model_name: str, tag: str, cache_dir: str | None) -> MissingAssetsError:
        where = cache_dir or "the Hugging Face cache (HF_HOME, ~/.cache/huggingface)"
        error = MissingAssetsError(
            [(f"open_clip {model_name} weights '{tag}'", _weights_source(model_name, tag), where)]
        )
        error.hint = (
            "run once with internet (open_clip downloads the weights into that cache), or "
            "give a local checkpoint file as clip_pretrained, or clip_pretrained 'none' for "
            "random weights (a stand-in whose labels mean nothing)"
        )
        return error

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        return self._preprocess(image)

    @torch.inference_mode()
    def encode_images(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(batch.to(self.device)).float().cpu()

    @torch.inference_mode()
    def encode_texts(self, words: Sequence[str]) -> torch.Tensor:
        tokens = self.tokenizer(list(words))
        lengths = tokens.argmax(dim=-1)  # end-of-text has the largest id
        order = torch.argsort(lengths, stable=True)  # similar lengths batch together
        out: torch.Tensor | None = None
        for start in tqdm(
            range(0, len(words), self.text_batch_size),
            desc="CLIP text features",
            unit="batch",
            leave=False,
        ):
            ids = order[start : start + self.text_batch_size]
            features = self._encode_tokens(tokens[ids])
            if out is None:
                out = torch.empty(len(words), features.shape[1])
            out[ids] = features
        if out is None:
            raise ValueError("no words to encode")
        return out

    def _trimmable(self) -> bool:
        m = self.model
        return (
            getattr(m, "text_pool_type", None) == "argmax"
            and getattr(m, "attn_mask", None) is not None
            and hasattr(m, "positional_embedding")
            and hasattr(m, "token_embedding")
        )

    def _encode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        tokens = tokens.to(self.device)
        if not (self.trim_text and self._trimmable()):
            return self.model.encode_text(tokens).float().cpu()
        return encode_text_trimmed(self.model, tokens).float().cpu()


def encode_text_trimmed(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """open_clip CLIP's ``encode_text`` on the tokens up to the batch's last end-of-text.

    The same computation as open_clip's (embedding, positions, causal transformer, final
    norm, pooling at end-of-text, projection) on a shorter context: with a causal mask
    the positions after end-of-text never reach it."""
    length = int(tokens.argmax(dim=-1).max()) + 1
    tokens = tokens[:, :length]
    cast = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast)
    x = x + model.positional_embedding[:length].to(cast)
    x = model.transformer(x, attn_mask=model.attn_mask[:length, :length])
    x = model.ln_final(x)
    x = x[torch.arange(x.shape[0], device=x.device), tokens.argmax(dim=-1)]
    if model.text_projection is not None:
        if isinstance(model.text_projection, torch.nn.Linear):
            x = model.text_projection(x)
        else:
            x = x @ model.text_projection
    return x
