"""Where a model's CAMs look: its target layer, found automatically when not given, and
the reshape that turns a transformer's token sequence into a spatial map.

A convolutional network's target is the last module whose output is still a spatial map
(N, C, H, W) before global pooling, as torchcam's ``locate_candidate_layer`` chooses it:
one forward pass with a hook on every module, then the last module to finish with a
4-D output of spatial size above 1 — provided nothing after it is a token sequence (a
vision transformer's patch embedding is 4-D too, and is not its target).

Vision transformers keep tokens (N, 1 + h*w, C) or channels-last maps (N, h, w, C):
pytorch-grad-cam explains them through a ``reshape_transform`` to (N, C, h, w). The
families we know get their documented target layer and reshape; any other model without
a spatial layer is refused with the reason."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from explainlab.errors import UnknownNameError
from explainlab.models.layers import canonical_layer_name, resolve_layer

Reshape = Callable[[torch.Tensor], torch.Tensor]


def tokens_to_map(prefix: int, grid: tuple[int, int]) -> Reshape:
    """(N, prefix + h*w, C) tokens -> (N, C, h, w), dropping the class (and distillation)
    tokens, as pytorch-grad-cam documents for ViT and DeiT."""
    height, width = grid

    def reshape(tensor: torch.Tensor) -> torch.Tensor:
        patches = tensor[:, prefix:, :]
        return patches.reshape(tensor.size(0), height, width, tensor.size(2)).permute(0, 3, 1, 2)

    reshape.description = f"tokens (class tokens: {prefix}) to a {height}x{width} map"  # type: ignore[attr-defined]
    return reshape


def channels_last_to_map(tensor: torch.Tensor) -> torch.Tensor:
    """(N, h, w, C) -> (N, C, h, w): Swin's stages keep their maps channels-last."""
    return tensor.permute(0, 3, 1, 2)


channels_last_to_map.description = "channels-last map to (N, C, h, w)"  # type: ignore[attr-defined]


@dataclass(frozen=True)
class CamTarget:
    name: str  # the layer's named_modules name, as recorded
    layer: nn.Module = field(repr=False)
    reshape: Reshape | None = None  # tokens or channels-last maps -> (N, C, h, w)
    how: str = ""  # how it was chosen: given, the model's default, located, a known family

    @property
    def reshape_description(self) -> str:
        return getattr(self.reshape, "description", "") if self.reshape else ""


def _family(module: nn.Module) -> tuple[str, Reshape, str] | None:
    """(target layer, reshape, family) for the transformer families we know."""
    import torchvision

    if isinstance(module, torchvision.models.VisionTransformer):
        grid = module.image_size // module.patch_size
        return "encoder.layers[-1].ln_1", tokens_to_map(1, (grid, grid)), "torchvision ViT"
    if isinstance(module, torchvision.models.SwinTransformer):
        return "features[-1][-1].norm1", channels_last_to_map, "torchvision Swin"
    try:
        from timm.models.swin_transformer import SwinTransformer
        from timm.models.vision_transformer import VisionTransformer
    except ImportError:  # pragma: no cover - timm is a dependency
        return None
    if isinstance(module, VisionTransformer):
        grid = tuple(module.patch_embed.grid_size)
        prefix = int(module.num_prefix_tokens)
        return "blocks[-1].norm1", tokens_to_map(prefix, grid), "timm ViT/DeiT"  # type: ignore[arg-type]
    if isinstance(module, SwinTransformer):
        return "layers[-1].blocks[-1].norm1", channels_last_to_map, "timm Swin"
    return None


def _outputs(module: nn.Module, size: int, device: torch.device) -> list[tuple[str, tuple]]:
    """(name, output shape) of every module, in the order they finish, for one input."""
    finished: list[tuple[str, tuple]] = []
    handles = []
    for name, sub in module.named_modules():
        if not name:
            continue

        def hook(_m, _i, out, name=name):
            if isinstance(out, torch.Tensor):
                finished.append((name, tuple(out.shape)))

        handles.append(sub.register_forward_hook(hook))
    try:
        with torch.inference_mode():
            module(torch.zeros(1, 3, size, size, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return finished


def spatial_candidates(module: nn.Module, size: int, device: torch.device) -> list[str]:
    """Every module whose output is a spatial map (N, C, H, W), H*W > 1, last first."""
    seen: dict[str, None] = {}
    for name, shape in reversed(_outputs(module, size, device)):
        if len(shape) == 4 and shape[2] * shape[3] > 1:
            seen.setdefault(name)
    return list(seen)


def locate_target_layer(module: nn.Module, size: int, device: torch.device) -> str:
    """The last spatial layer before global pooling (see the module docstring)."""
    finished = _outputs(module, size, device)
    for i in range(len(finished) - 1, -1, -1):
        name, shape = finished[i]
        if len(shape) == 4 and shape[2] * shape[3] > 1:
            later = [s for _, s in finished[i + 1 :]]
            if any(len(s) == 3 and s[1] > 1 for s in later):
                break  # tokens after it: a transformer, not a CNN's last map
            return name
    raise UnknownNameError(
        f"{type(module).__name__}: no layer gives a spatial map (N, C, H, W) before the "
        "head, and it is not a transformer family explainlab knows how to reshape "
        "(torchvision or timm ViT, DeiT, Swin)",
        hint="name a layer with --layer (and use a model whose layer outputs a map), "
        "or explain it with LIME only",
    )


def cam_target(
    module: nn.Module, name: str | None, size: int, device: torch.device, *, default: str = ""
) -> CamTarget:
    """The CAM target of ``module``: the layer ``name`` (or ``default``, or the known
    family's, or the located one) and the reshape its output needs."""
    if isinstance(module, torch.jit.ScriptModule):
        raise UnknownNameError(
            "a TorchScript model cannot be hooked, and every CAM needs a hook on its layer",
            hint="give its architecture (--arch torchvision:NAME or timm:NAME): its weights "
            "are then loaded into the eager model; or explain it with LIME only",
        )
    family = _family(module)
    if name:
        how = "given"
    elif default:
        name, how = default, "the model's default"
    elif family:
        name, how = family[0], f"the {family[2]} target (pytorch-grad-cam's documented one)"
    else:
        name, how = locate_target_layer(module, size, device), "located (last spatial map)"
    try:
        layer = resolve_layer(module, name)
    except UnknownNameError as exc:
        candidates = spatial_candidates(module, size, device) if family is None else []
        hint = (
            f"layers with a spatial output, last first: {', '.join(candidates[:12])}"
            if candidates
            else exc.hint
        )
        raise UnknownNameError(exc.message, hint=hint) from None
    reshape = _reshape_for(module, layer, name, family, size, device)
    return CamTarget(canonical_layer_name(module, name), layer, reshape, how)


def _reshape_for(
    module: nn.Module,
    layer: nn.Module,
    name: str,
    family: tuple[str, Reshape, str] | None,
    size: int,
    device: torch.device,
) -> Reshape | None:
    """The reshape the layer's actual output needs: none for an (N, C, H, W) map, the
    family's for tokens or a channels-last map; anything else is refused."""
    shapes: list[tuple] = []

    def hook(_m, _i, out):
        if isinstance(out, torch.Tensor):
            shapes.append(tuple(out.shape))

    handle = layer.register_forward_hook(hook)
    try:
        with torch.inference_mode():
            module(torch.zeros(1, 3, size, size, device=device))
    finally:
        handle.remove()
    if not shapes:
        raise UnknownNameError(
            f"layer {name!r} gives no tensor output in a forward pass",
            hint="choose a module that runs and returns one tensor",
        )
    shape = shapes[-1]
    channels_last = family is not None and family[1] is channels_last_to_map
    if len(shape) == 4 and not channels_last:
        return None
    if family is not None and (len(shape) == 3 or (len(shape) == 4 and channels_last)):
        return family[1]
    raise UnknownNameError(
        f"layer {name!r} outputs shape {shape}: neither a spatial map (N, C, H, W) nor "
        "tokens of a transformer family explainlab knows",
        hint="choose a layer whose output is a spatial map",
    )
