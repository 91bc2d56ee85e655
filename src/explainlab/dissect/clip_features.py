"""CLIP features through open_clip: image features of the probe images (CLIP's own
preprocessing) and text features of the concept words, encoded bare (no prompt).

The pipeline talks to a :class:`ConceptEncoder`; :class:`OpenClipEncoder` is the real
one, and tests plug in synthetic encoders with known concept embeddings.

The same CLIP as the reference: CLIP-Dissect loads OpenAI's checkpoint with OpenAI's
``clip.load``, which checks the file's sha256 and builds the model with QuickGELU. For
``pretrained = "openai"`` we fetch that very file through the asset registry (same URL,
same sha256, plus cache, mirror, timeout and retries) and build it with open_clip's
``load_openai_model`` (QuickGELU, as OpenAI's); a file in OpenAI's format given as
``pretrained`` is built the same way, a state dict into ``model_name``
(``clip_checkpoint``). Any other open_clip tag goes through
open_clip's own download (the Hugging Face hub); its file is not checked against a
checksum of ours. A model name whose activation disagrees with the weights' (open_clip's
plain ``ViT-B-16`` is GELU, OpenAI's weights need QuickGELU) is refused, never warned.
The reference runs CLIP in fp16 on a GPU and fp32 on a CPU; ``precision = "fp16"`` does
the same, the default ``"fp32"`` is fp32 everywhere.

Text encoding trims every batch of token sequences to its longest sequence: CLIP's
text transformer is causal and pools the end-of-text token, so the padding after it
cannot change the result, and single words cost a tenth of the full 77-token context.
``trim_text=False`` runs open_clip's own ``encode_text`` (a test checks both agree)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import torch
from PIL import Image
from tqdm.auto import tqdm

from explainlab import assets
from explainlab.dissect import clip_checkpoint
from explainlab.dissect.settings import CLIP_PRECISIONS, RANDOM_CLIP
from explainlab.errors import ConfigError, MissingAssetsError, UnknownNameError

QUICK_GELU, GELU = "quick_gelu", "gelu"
OPENAI = "openai"


class ConceptEncoder(Protocol):
    """What CLIP-Dissect needs from CLIP."""

    identity: dict[str, Any]  # what changes the features: enters the cache keys
    note: str  # said in outputs, e.g. that the weights are random

    def preprocess(self, image: Image.Image) -> torch.Tensor: ...

    def encode_images(self, batch: torch.Tensor) -> torch.Tensor: ...

    def encode_texts(self, words: Sequence[str]) -> torch.Tensor: ...


def _is_random(pretrained: str) -> bool:
    return pretrained.lower() in (RANDOM_CLIP, "")


def _file(pretrained: str) -> Path | None:
    """The checkpoint file ``pretrained`` names (None: random weights or an open_clip tag)."""
    return None if _is_random(pretrained) else clip_checkpoint.checkpoint_path(pretrained)


def openai_file(model_name: str, pretrained: str) -> str | None:
    """The registered OpenAI checkpoint for ``model_name`` with the ``openai`` weights."""
    if pretrained != OPENAI:
        return None
    return assets.OPENAI_CLIP_FILES.get(model_name.removesuffix("-quickgelu"))


def activation(model_name: str, pretrained: str) -> str:
    """The MLP activation the model will be built with (known without building it)."""
    import open_clip

    file = _file(pretrained)
    if openai_file(model_name, pretrained) or (file and clip_checkpoint.is_openai_archive(file)):
        return QUICK_GELU  # OpenAI's own architecture, as load_openai_model builds it
    config = open_clip.get_model_config(model_name) or {}
    return QUICK_GELU if config.get("quick_gelu", False) else GELU


def effective_precision(precision: str, device: torch.device) -> str:
    """fp16 runs on a GPU only; on a CPU it is fp32, as in the reference's ``clip.load``."""
    return "fp16" if precision == "fp16" and device.type == "cuda" else "fp32"


def clip_identity(
    model_name: str,
    pretrained: str,
    seed: int,
    *,
    precision: str = "fp32",
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """The cache identity of a CLIP model, known without loading it: everything that
    changes its features (architecture, activation, weights, precision)."""
    base = {
        "open_clip": model_name,
        "activation": activation(model_name, pretrained),
        "precision": effective_precision(precision, torch.device(device)),
    }
    if _is_random(pretrained):
        return base | {"pretrained": None, "random_seed": seed}
    path = _file(pretrained)
    if path:
        return base | {"pretrained_file_sha256": assets.file_digest(path)}
    name = openai_file(model_name, pretrained)
    if name:
        return base | {"pretrained": pretrained, "weights": name, **_checksum(name)}
    return base | {"pretrained": pretrained}


def _checksum(filename: str) -> dict[str, str]:
    return {"weights_checksum": assets.get_asset(filename).checksum}


def _check_names(model_name: str, pretrained: str) -> None:
    import open_clip
    from open_clip.pretrained import get_pretrained_cfg

    if model_name not in open_clip.list_models():
        raise UnknownNameError(
            f"unknown open_clip model {model_name!r}",
            hint="see open_clip.list_models(); CLIP-Dissect uses ViT-B-16-quickgelu "
            "(OpenAI's ViT-B/16)",
        )
    if _is_random(pretrained) or _file(pretrained):
        return
    tags = open_clip.list_pretrained_tags_by_model(model_name)
    if pretrained not in tags:
        raise UnknownNameError(
            f"open_clip has no pretrained weights {pretrained!r} for {model_name}",
            hint=f"known tags: {', '.join(tags)}; or a checkpoint file; or 'none' (random)",
        )
    trained_with = (
        QUICK_GELU if get_pretrained_cfg(model_name, pretrained).get("quick_gelu") else GELU
    )
    built_with = activation(model_name, pretrained)
    if trained_with != built_with:
        hint = (
            f"use {model_name}-quickgelu, the architecture these weights were trained with"
            if trained_with == QUICK_GELU
            else f"use {model_name.removesuffix('-quickgelu')}"
        )
        raise ConfigError(
            f"open_clip {model_name} is built with {built_with} but its '{pretrained}' weights "
            f"were trained with {trained_with}: every CLIP feature would be off",
            hint=hint,
        )


def require_weights(model_name: str, pretrained: str, cache_dir: str | None = None) -> None:
    """Obtain CLIP's weights now where explainlab fetches them (OpenAI's checkpoint through
    the asset registry); for other open_clip tags offline, check open_clip's cache.
    :class:`MissingAssetsError` names what cannot be had."""
    if _is_random(pretrained) or _file(pretrained):
        return
    name = openai_file(model_name, pretrained)
    if name:
        assets.fetch(name)
    elif assets.offline() and not _cached_weights(model_name, pretrained, cache_dir):
        raise OpenClipEncoder._missing(model_name, pretrained, cache_dir)


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
        model_name: str = "ViT-B-16-quickgelu",
        pretrained: str = OPENAI,
        *,
        device: str | torch.device = "cpu",
        seed: int = 0,
        precision: str = "fp32",
        cache_dir: str | None = None,
        trim_text: bool = True,
        text_batch_size: int = 256,
    ) -> None:
        import open_clip

        if precision not in CLIP_PRECISIONS:
            raise ConfigError(f"CLIP precision must be one of {', '.join(CLIP_PRECISIONS)}")
        _check_names(model_name, pretrained)
        self.device = torch.device(device)
        self.identity = clip_identity(
            model_name, pretrained, seed, precision=precision, device=self.device
        )
        self.precision = self.identity["precision"]
        self.trim_text = trim_text
        self.text_batch_size = text_batch_size
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # random weights are reproducible (and cacheable)
            self.model, self._preprocess = self._build(model_name, pretrained, cache_dir)
        self.model.eval()
        self._input_dtype = next(self.model.visual.parameters()).dtype
        self.tokenizer = open_clip.get_tokenizer(model_name)
        weights = (
            f"RANDOM weights (seed {seed}): a stand-in, the labels mean nothing"
            if _is_random(pretrained)
            else f"pretrained {pretrained}"
        )
        self.note = (
            f"open_clip {model_name}, {weights}, {self.identity['activation']}, {self.precision}"
        )

    def _build(self, model_name: str, pretrained: str, cache_dir: str | None):
        import open_clip

        name = openai_file(model_name, pretrained)
        if name:
            # OpenAI's own file, checked against its sha256 before it is loaded
            return self._openai_model(assets.fetch(name))
        file = _file(pretrained)
        if file and clip_checkpoint.is_openai_archive(file):
            clip_checkpoint.check_openai_archive(file)  # TorchScript's loader, CLIP's keys
            try:
                return self._openai_model(file)
            except (RuntimeError, KeyError, TypeError, ValueError, AssertionError) as exc:
                raise clip_checkpoint.wrap_build_error(file, exc) from None
        # a state dict file is loaded below, into the model built without weights
        tag = None if _is_random(pretrained) or file else pretrained
        if tag and assets.offline() and not _cached_weights(model_name, tag, cache_dir):
            raise self._missing(model_name, pretrained, cache_dir)
        with warnings.catch_warnings():
            # a QuickGELU mismatch means wrong features: an error, never a warning
            warnings.filterwarnings("error", message=".*QuickGELU mismatch.*")
            try:
                # require_pretrained: open_clip otherwise only logs a failed download and
                # returns RANDOM weights, which would label every unit with noise.
                with assets.socket_timeout(assets.download_timeout()):
                    model, _, preprocess = open_clip.create_model_and_transforms(
                        model_name,
                        pretrained=tag,
                        precision=self.precision,
                        device=self.device,
                        cache_dir=cache_dir,
                        require_pretrained=tag is not None,
                    )
            except UserWarning as exc:
                raise ConfigError(f"open_clip {model_name}: {exc}") from None
            except RuntimeError as exc:
                message = str(exc).lower()
                if any(w in message for w in ("download", "connection", "could not be loaded")):
                    raise self._missing(model_name, pretrained, cache_dir) from None
                raise
        if file:
            clip_checkpoint.load_state_dict_file(model, file)
        return model, preprocess

    def _openai_model(self, path: Path):
        """A checkpoint in OpenAI's format as open_clip builds OpenAI's CLIP (QuickGELU)."""
        import open_clip

        model = open_clip.load_openai_model(str(path), precision=self.precision, device=self.device)
        return model, open_clip.image_transform(model.visual.image_size, is_train=False)

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
        x = batch.to(self.device, dtype=self._input_dtype)
        return self.model.encode_image(x).float().cpu()

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
