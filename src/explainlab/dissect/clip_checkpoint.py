"""A CLIP checkpoint file given as ``clip_pretrained``: what the reference's
``clip.load(path)`` accepts, read without running pickled code.

- OpenAI's format, a TorchScript archive (``ViT-B-16.pt``): read by TorchScript's loader
  (``torch.jit.load``, not ``pickle``), its keys checked to be OpenAI's CLIP, then built as
  the registered ``openai`` weights are (``clip_features``): the architecture from the file,
  QuickGELU.
- A state dict (``torch.save(model.state_dict())``) in OpenAI's layout or open_clip's, bare
  or under ``state_dict``, a ``module.`` prefix removed, OpenAI's three size entries
  dropped; or a ``.safetensors`` file. Read with ``weights_only=True`` into the
  architecture ``clip_model`` names, strictly.

Anything else (a corrupt file, another model's checkpoint, a pickle with more than
tensors in it, a folder, a missing file) is an :class:`InputError` that names the file,
says what was expected and what to do."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from explainlab.errors import InputError
from explainlab.models import checkpoints
from explainlab.models.sources import is_torchscript

EXPECTED = (
    "expected a CLIP checkpoint: OpenAI's TorchScript archive (such as ViT-B-16.pt) or a "
    "CLIP state dict (torch.save(model.state_dict()), OpenAI's or open_clip's keys)"
)
WHAT_TO_DO = (
    "give OpenAI's .pt file as published, or the state dict of the CLIP that clip_model "
    "names; an open_clip tag such as 'openai'; or 'none' for random weights"
)
# Extensions that say a path was meant where no such file exists (open_clip tags have none).
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".tar", ".safetensors")
# Entries of OpenAI's files that are sizes, not weights (open_clip drops them the same way).
OPENAI_SIZE_ENTRIES = ("input_resolution", "context_length", "vocab_size")
# What open_clip's build_model_from_openai_state_dict reads, ViT or ResNet image tower.
OPENAI_TEXT_KEYS = ("positional_embedding", "token_embedding.weight", "ln_final.weight")
OPENAI_IMAGE_KEYS = (
    ("visual.proj", "visual.conv1.weight", "visual.positional_embedding"),
    ("visual.layer1.0.conv1.weight", "visual.attnpool.positional_embedding"),
)


def checkpoint_path(pretrained: str) -> Path | None:
    """The file ``pretrained`` names, or None where it is an open_clip tag. A path that
    names no file (a folder, a missing file) is an :class:`InputError`."""
    path = Path(pretrained).expanduser()
    if path.is_file():
        return path
    if not ("/" in pretrained or "\\" in pretrained or path.suffix.lower() in CHECKPOINT_SUFFIXES):
        return None  # a tag, even where a folder of that name lies in the working directory
    if path.is_dir():
        raise InputError(
            f"{path}: a folder, not a CLIP checkpoint file; {EXPECTED}", hint=WHAT_TO_DO
        )
    raise InputError(f"{path}: no such CLIP checkpoint file", hint=f"check the path; {WHAT_TO_DO}")


def is_openai_archive(path: Path) -> bool:
    """OpenAI's format: a TorchScript archive (told by its compiled code, without loading)."""
    return is_torchscript(path)


def check_openai_archive(path: Path) -> None:
    """That TorchScript's loader reads ``path`` and finds OpenAI's CLIP keys in it."""
    try:
        state = torch.jit.load(str(path), map_location="cpu").state_dict()
    except (RuntimeError, ValueError, OSError) as exc:
        raise _unreadable(path, "a TorchScript archive that TorchScript cannot load", exc) from None
    image_keys = next(
        (keys for keys in OPENAI_IMAGE_KEYS if keys[0] in state), OPENAI_IMAGE_KEYS[0]
    )
    missing = [k for k in ("text_projection", *OPENAI_TEXT_KEYS, *image_keys) if k not in state]
    if not any(k.startswith("transformer.resblocks.") for k in state):
        missing.append("transformer.resblocks.*")
    if missing:
        raise InputError(
            f"{path}: a TorchScript archive, but not a CLIP in OpenAI's layout (no "
            f"{', '.join(missing[:5])}; its first keys: {', '.join(list(state)[:5])}); {EXPECTED}",
            hint=WHAT_TO_DO,
        )


def wrap_build_error(path: Path, exc: Exception) -> InputError:
    """A failure of open_clip's builder on a file whose keys looked right (other shapes)."""
    return _unreadable(path, "OpenAI's keys, but open_clip cannot build a CLIP of them", exc)


def load_state_dict_file(model: nn.Module, path: Path) -> None:
    """``model`` (the architecture ``clip_model`` names) with the weights of ``path``."""
    from open_clip.model import convert_to_custom_text_state_dict

    state = {k: v for k, v in read_state_dict(path).items() if k not in OPENAI_SIZE_ENTRIES}
    if "positional_embedding" in state and not hasattr(model, "positional_embedding"):
        # OpenAI's text keys into open_clip's CustomTextCLIP (text.*), as open_clip does
        state = convert_to_custom_text_state_dict(state)
    checkpoints.load_strict(
        model,
        state,
        path,
        hint="give clip_model the open_clip architecture the file was saved from "
        f"(the name that builds it); {EXPECTED}",
    )


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of ``path``: safetensors, or ``torch.load`` with ``weights_only=True``."""
    if path.suffix.lower() == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise _unreadable(path, "not a readable safetensors file", exc) from None
    try:
        checkpoint = checkpoints.load_state_dict_file(path)
    except InputError as exc:
        # a pickle with code in it lands here too: weights_only refuses it, unexecuted
        raise InputError(
            f"{exc.message}; {EXPECTED}",
            hint=f"{WHAT_TO_DO} (explainlab never unpickles a checkpoint with code in it)",
        ) from None
    return checkpoints.unwrap_state_dict(checkpoint, path)


def _unreadable(path: Path, what: str, exc: Exception) -> InputError:
    reason = f"{type(exc).__name__}: {str(exc).strip()[:200]}"
    return InputError(f"{path}: {what} ({reason}); {EXPECTED}", hint=WHAT_TO_DO)
