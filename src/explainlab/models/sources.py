"""Models by name or from a file, as :class:`~explainlab.models.registry.ModelSpec`:

- ``torchvision:NAME[:WEIGHTS]``: any torchvision classification model; weights by enum
  name (``DEFAULT`` when left out), through torchvision's weights API and cache; the
  geometry from ``weights.transforms()``, class names from ``weights.meta``;
- ``timm:NAME``: any timm model, pretrained through timm's own mechanism (the Hugging
  Face hub and its cache; offline, a cached file or a mirror copy named
  ``timm-<NAME>.safetensors``); the geometry from timm's data config;
- ``...:none`` for either: the architecture with seeded random weights, a stand-in whose
  explanations mean nothing (tests, benchmarks);
- a local file: TorchScript (``torch.jit.load``), or a state dict loaded with
  ``weights_only=True`` into ``arch`` (``torchvision:NAME`` or ``timm:NAME``) strictly,
  key prefixes handled as for the Places365 checkpoint, the number of classes taken
  from the checkpoint; class names from ``classes`` (a file, one name per line).

Nothing here is downloaded or built until the spec's functions are called."""

from __future__ import annotations

import difflib
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from explainlab import assets
from explainlab.errors import InputError, MissingAssetsError, UnknownNameError
from explainlab.images import IMAGENET_GEOMETRY, Geometry
from explainlab.models import checkpoints, labels

RANDOM = "none"  # the weights name of seeded random weights
RANDOM_SEED = 0
RANDOM_NOTE = "RANDOM weights (seed 0): a stand-in, its explanations mean nothing"


def _close(name: str, known: list[str], what: str) -> str:
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
    return f"close matches: {', '.join(close)}" if close else f"see the list of {what}"


def _seeded(build: Callable[[], nn.Module]) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_SEED)
        return build()


def generic_names(count: int) -> list[str]:
    return [f"class {i}" for i in range(count)]


def names_for(count: int) -> list[str]:
    """Class names for a classifier of ``count`` outputs known only by its size."""
    if count == 1000:
        return labels.imagenet_labels()
    if count == 365:
        try:
            return labels.places365_labels()
        except MissingAssetsError:
            pass
    return generic_names(count)


def read_class_names(path: str | Path) -> list[str]:
    """One class name a line (blank lines ignored)."""
    path = Path(path).expanduser()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{path}: cannot read the class names ({exc})", hint="one name a line"
        ) from None
    names = [line.strip() for line in lines if line.strip()]
    if not names:
        raise InputError(f"{path}: no class names in the file", hint="one name a line")
    return names


# --- torchvision --------------------------------------------------------------------------


def torchvision_weights(arch: str, weights: str | None):
    """The weights enum member (None for random weights), with the close matches of a
    wrong model or weights name in the error."""
    import torchvision

    models = torchvision.models.list_models(module=torchvision.models)
    if arch not in models:
        raise UnknownNameError(
            f"torchvision has no classification model {arch!r}",
            hint=_close(arch, models, "torchvision.models.list_models()"),
        )
    if weights == RANDOM:
        return None
    enum = torchvision.models.get_model_weights(arch)
    choice = weights or "DEFAULT"
    try:
        return enum[choice]
    except KeyError:
        valid = ", ".join(["DEFAULT", *enum.__members__])
        raise UnknownNameError(
            f"torchvision {arch} has no weights {choice!r}", hint=f"valid weights: {valid}"
        ) from None


def torchvision_spec(name: str, arch: str, weights_name: str | None):
    from explainlab.models.registry import ModelSpec

    weights = torchvision_weights(arch, weights_name)
    reference = weights or torchvision_weights(arch, None)  # geometry and names of DEFAULT

    def build() -> nn.Module:
        import torchvision

        if weights is None:
            return _seeded(lambda: torchvision.models.get_model(arch, weights=None))
        assets.ensure_torchvision_weights(weights.url)  # torchvision then reads its cache
        return torchvision.models.get_model(arch, weights=weights)

    categories = list(reference.meta["categories"])
    described = (
        f"{arch}, torchvision {weights}" if weights else f"{arch} (torchvision), {RANDOM_NOTE}"
    )
    return ModelSpec(
        name=name,
        description=described,
        dataset="imagenet" if len(categories) == 1000 else "other",
        num_classes=len(categories),
        geometry=lambda: Geometry.from_torchvision(reference.transforms()),
        target_layer="",
        build=build,
        class_names=lambda: categories,
        weights_source="torchvision weights API (TORCH_HOME cache)" if weights else RANDOM_NOTE,
        geometry_source=f"torchvision {reference}.transforms()",
        fetch_weights=(lambda: assets.ensure_torchvision_weights(weights.url))
        if weights
        else (lambda: None),
        random_weights=weights is None,
    )


# --- timm ---------------------------------------------------------------------------------


def _timm_config(arch: str):
    import timm

    if not timm.is_model(arch):
        raise UnknownNameError(
            f"timm has no model {arch!r}",
            hint=_close(arch, timm.list_models(), "timm.list_models()"),
        )
    config = timm.get_pretrained_cfg(arch)
    if config is None:
        raise UnknownNameError(f"timm {arch!r} has no pretrained config")
    return config


def timm_weights_file(arch: str) -> Path | None:
    """A local copy of ``arch``'s pretrained weights: a mirror file
    ``timm-<arch>.safetensors`` (or ``.pth``), or the Hugging Face hub's cache."""
    for suffix in (".safetensors", ".pth"):
        found = assets.find_in_mirror(f"timm-{arch}{suffix}", None)
        if found is not None:
            return found
    config = _timm_config(arch)
    hub = getattr(config, "hf_hub_id", None)
    if hub:
        from huggingface_hub import try_to_load_from_cache

        for filename in ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin"):
            cached = try_to_load_from_cache(hub, filename)
            if isinstance(cached, str):
                return Path(cached)
    return None


def _timm_missing(arch: str) -> MissingAssetsError:
    config = _timm_config(arch)
    hub = getattr(config, "hf_hub_id", None) or arch
    where = os.environ.get("HF_HOME", "~/.cache/huggingface")
    return MissingAssetsError(
        [
            (
                f"timm {arch} weights",
                f"https://huggingface.co/{hub}",
                f"the Hugging Face cache ({where}), or a mirror file timm-{arch}.safetensors",
            )
        ]
    )


def _timm_fetch(arch: str) -> None:
    """Offline, the weights must be cached or mirrored; online timm downloads them."""
    if assets.offline() and timm_weights_file(arch) is None:
        raise _timm_missing(arch)


def timm_geometry(arch: str) -> Geometry:
    config = _timm_config(arch).to_dict()
    return Geometry.from_timm(config)


def timm_spec(name: str, arch: str, weights_name: str | None):
    from explainlab.models.registry import ModelSpec

    config = _timm_config(arch)
    if weights_name not in (None, RANDOM):
        raise UnknownNameError(
            f"timm:{arch}:{weights_name}: a timm model takes its pretrained weights or 'none'",
            hint="a pretrained tag goes into the name: timm:convnext_tiny.fb_in1k",
        )
    random = weights_name == RANDOM
    count = int(config.num_classes or 1000)

    def build() -> nn.Module:
        import timm

        if random:
            return _seeded(lambda: timm.create_model(arch, pretrained=False))
        local = timm_weights_file(arch)
        if local is not None:
            return timm.create_model(
                arch, pretrained=True, pretrained_cfg_overlay={"file": str(local)}
            )
        if assets.offline():
            raise _timm_missing(arch)
        try:
            with assets.socket_timeout(assets.download_timeout()):
                return timm.create_model(arch, pretrained=True)
        except (OSError, RuntimeError) as exc:  # the hub unreachable, a download cut off
            error = _timm_missing(arch)
            error.hint = f"{error.hint} ({type(exc).__name__}: {str(exc)[:160]})"
            raise error from None

    return ModelSpec(
        name=name,
        description=f"{arch} (timm), {RANDOM_NOTE}" if random else f"{arch} (timm), pretrained",
        dataset="imagenet" if count == 1000 else "other",
        num_classes=count,
        geometry=lambda: timm_geometry(arch),
        target_layer="",
        build=build,
        class_names=lambda: names_for(count),
        weights_source=RANDOM_NOTE
        if random
        else "timm pretrained (Hugging Face hub cache, or the mirror)",
        geometry_source=f"timm's data config of {arch}",
        fetch_weights=(lambda: None) if random else (lambda: _timm_fetch(arch)),
        random_weights=random,
    )


# --- files --------------------------------------------------------------------------------


def is_torchscript(path: Path) -> bool:
    """A TorchScript archive: a zip holding compiled code (``<name>/code/``)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any("/code/" in n for n in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _classifier_key(module: nn.Module) -> str:
    """The state dict key of the classifier's weight: timm's ``get_classifier()``, else
    the last linear layer (the last convolution for a fully convolutional head)."""
    get = getattr(module, "get_classifier", None)
    if callable(get):
        head = get()
        for name, sub in module.named_modules():
            if sub is head and isinstance(getattr(sub, "weight", None), torch.Tensor):
                return f"{name}.weight"
    for kind in (nn.Linear, nn.Conv2d):
        found = [n for n, s in module.named_modules() if isinstance(s, kind)]
        if found:
            return f"{found[-1]}.weight"
    raise InputError(f"{type(module).__name__}: no classifier layer found")


def _build_arch(arch: str, num_classes: int | None) -> nn.Module:
    kind, _, arch_name = arch.partition(":")
    extra = {} if num_classes is None else {"num_classes": num_classes}
    if kind == "torchvision":
        import torchvision

        torchvision_weights(arch_name, RANDOM)  # checks the name
        return torchvision.models.get_model(arch_name, weights=None, **extra)
    if kind == "timm":
        import timm

        _timm_config(arch_name)
        return timm.create_model(arch_name, pretrained=False, **extra)
    raise UnknownNameError(
        f"--arch {arch!r}: expected torchvision:NAME or timm:NAME",
        hint="the architecture the state dict was saved from",
    )


def _arch_geometry(arch: str) -> Geometry:
    kind, _, arch_name = arch.partition(":")
    if kind == "torchvision":
        return Geometry.from_torchvision(torchvision_weights(arch_name, None).transforms())
    return timm_geometry(arch_name)


def load_state_dict_into(path: Path, arch: str, state: dict | None = None) -> nn.Module:
    """``arch`` with the state dict of ``path`` (weights-only load, key prefixes
    ``module.``/``model.`` removed, the class count from the checkpoint), strictly;
    ``state`` given: that state dict (a TorchScript file's)."""
    if state is None:
        state = checkpoints.load_state_dict_file(path)
    state = checkpoints.unwrap_state_dict(state, path)
    probe = _build_arch(arch, None)
    key = _classifier_key(probe)
    if key not in state:
        raise InputError(
            f"{path}: no {key!r} in the checkpoint, so it does not fit {arch}",
            hint=f"check --arch; the checkpoint's first keys: {', '.join(list(state)[:6])}",
        )
    count = int(state[key].shape[0])
    module = probe if _classifier_rows(probe, key) == count else _build_arch(arch, count)
    return checkpoints.load_strict(module, state, path)


def _classifier_rows(module: nn.Module, key: str) -> int:
    return int(module.state_dict()[key].shape[0])


def file_spec(name: str, path: Path, arch: str | None, classes: str | Path | None):
    from explainlab.models.registry import ModelSpec

    path = Path(path).expanduser()
    scripted = is_torchscript(path)
    if not scripted and not arch:
        raise UnknownNameError(
            f"{path}: a state dict needs its architecture",
            hint="give --arch torchvision:NAME or --arch timm:NAME (or save it with torch.jit)",
        )

    def build() -> nn.Module:
        if not scripted:
            return load_state_dict_into(path, str(arch))
        try:
            module = torch.jit.load(str(path), map_location="cpu")
        except RuntimeError as exc:
            raise InputError(f"{path}: not a loadable TorchScript file ({exc})") from None
        if arch:
            # hooks (every CAM) need the eager module: the script's weights in ``arch``
            return load_state_dict_into(path, str(arch), dict(module.state_dict()))
        return module

    source = "TorchScript file" if scripted else f"state dict for {arch}"
    names = (lambda: read_class_names(classes)) if classes else None
    return ModelSpec(
        name=name,
        description=f"{path.name} ({source})",
        dataset="other",
        num_classes=0,  # known once built: the classifier's outputs
        geometry=(lambda: _arch_geometry(str(arch))) if arch else (lambda: IMAGENET_GEOMETRY),
        target_layer="",
        build=build,
        class_names=names,  # type: ignore[arg-type]
        weights_source=f"{path} ({source})",
        geometry_source=f"the defaults of {arch}"
        if arch
        else "ImageNet's evaluation transform (Resize 256, crop 224)",
        fetch_weights=lambda: _exists(path),
    )


def _exists(path: Path) -> None:
    if not path.is_file():
        raise InputError(f"{path}: no such model file", hint="check the path")
