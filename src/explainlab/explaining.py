"""``explain``: any classifier, any input, any registered method, computed in memory.

The model is an ``nn.Module`` (wrapped on the spot), a loaded model or a name; the
inputs are tensors already preprocessed (as pytorch-grad-cam and captum take them) or
images (paths, PIL images, uint8 arrays) that the model's geometry crops. Each input gets
one :class:`~explainlab.explanation.Explanation` with every method's map for one class."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from explainlab.attributions.settings import ATTRIBUTION_KINDS, AttributionSettings
from explainlab.errors import InputError
from explainlab.explanation import Explanation, LimeExplanation
from explainlab.images import IMAGENET_GEOMETRY, Geometry, Sample, sample_from
from explainlab.methods import MethodSpec, default_methods, get_method
from explainlab.models import LoadedModel, load_model, wrap

TOP_K = 5  # classes in an explanation's prediction

ImageLike = str | Path | Image.Image | np.ndarray
InputLike = ImageLike | torch.Tensor
Target = int | Sequence[int | None] | None


@dataclass(frozen=True, kw_only=True)
class LimeOptions:
    """LIME's settings in :func:`explain`: ``params`` are the ``explain_instance``
    arguments in readable form, the same for every input, or a parameter file."""

    params: Mapping[str, Any] | str | Path | None = None
    seed: int = 0
    explainer: str = "fast"  # ours ("fast") or lime's own ("lime")
    num_features: int = 5  # K of the mask, where the parameter file does not say


@dataclass(frozen=True, eq=False, kw_only=True)
class _Input:
    key: str
    source: str  # the file, or <image_i> / <tensor>
    tensor: torch.Tensor  # (3, H, W): what the model takes
    crop: np.ndarray  # (H, W, 3) uint8: what the maps lie on
    seen: bool  # whether ``crop`` is what the model sees (LIME perturbs it)


def explain(
    model: nn.Module | LoadedModel | str,
    inputs: InputLike | Iterable[InputLike] | Mapping[str, InputLike],
    methods: Sequence[str] | str | None = None,
    target: Target = None,
    layer: str | None = None,
    *,
    impl: str = "fast",
    batch_size: int = 32,
    lime: LimeOptions | Mapping[str, Any] | None = None,
    attributions: AttributionSettings | Mapping[str, Any] | None = None,
) -> list[Explanation]:
    """Each input explained by ``methods`` (names of the method registry; default: the
    cheap ones, :func:`~explainlab.methods.default_methods`) for ``target`` (an int, one per input, or None: each input's
    top-1 class) at ``layer`` (for the methods that need one; default: the model's, else
    located). Computes in memory and writes nothing.

    ``model``: an ``nn.Module`` (wrapped on the spot with :func:`~explainlab.models.wrap`'s
    defaults, left in the mode it was found in: tensors are taken as given, images are
    cropped as ImageNet's evaluation transform does; pass ``xl.wrap(module, geometry=...)``
    for another), a :class:`~explainlab.models.LoadedModel`, or a name for
    :func:`~explainlab.models.load_model`. ``inputs``: a tensor (N, 3, H, W) or (3, H, W),
    already preprocessed; a path, PIL image or uint8 array; a list of any of these, or a
    dict naming each (its keys become the explanations' keys).
    ``impl`` and ``batch_size`` go to the CAM methods, ``lime`` to LIME (a
    :class:`LimeOptions` or a dict of its fields: ``{"params": {"num_samples": 300}}``),
    ``attributions`` to the gradient and perturbation methods (an
    :class:`~explainlab.attributions.settings.AttributionSettings` or a dict of its
    fields: ``{"ig_steps": 20}``); their ``raw`` is captum's (RISE's) attribution of the
    input, (C, H, W) on the CPU, and KernelSHAP's features are the superpixels LIME
    segments the crop into with ``lime``'s parameters and seed."""
    from explainlab.cam.guards import model_kept

    specs = _methods(methods)
    items = _keyed(inputs)
    lime = lime if isinstance(lime, LimeOptions) else LimeOptions(**(lime or {}))
    if not isinstance(attributions, AttributionSettings):
        attributions = AttributionSettings(**(attributions or {}))
    attributions.validate()
    call = {
        "target": target,
        "layer": layer,
        "impl": impl,
        "batch_size": batch_size,
        "lime": lime,
        "attributions": attributions,
    }
    if isinstance(model, nn.Module):
        with model_kept(model):  # wrapping puts it in eval mode: leave it as it was found
            wrapped = wrap(model, geometry=_assumed_geometry(items), name=type(model).__name__)
            return _explain(wrapped, items, specs, known=False, **call)
    if isinstance(model, str):
        model = load_model(model)
    if not isinstance(model, LoadedModel):
        raise InputError(
            f"cannot explain a {type(model).__name__}",
            hint="give an nn.Module, a model from xl.load_model or xl.wrap, or a model name",
        )
    return _explain(model, items, specs, known=True, **call)


def samples(model: LoadedModel, images: ImageLike | Iterable[ImageLike]) -> list[Sample]:
    """``images`` on ``model``'s geometry, keyed by file stem (``image_<i>`` otherwise,
    made unique)."""
    return [sample_from(image, model.geometry, key=key) for key, image in _keyed(images)]


def _methods(methods: Sequence[str] | str | None) -> list[MethodSpec]:
    names = (
        [methods] if isinstance(methods, str) else default_methods() if methods is None else methods
    )
    specs = [get_method(name) for name in dict.fromkeys(names)]
    for spec in specs:
        if spec.kind == "surrogate" and spec.name != "lime":
            raise ValueError(f"{spec.title} ({spec.kind}) cannot be computed by explain yet")
    return specs


def _keyed(
    inputs: InputLike | Iterable[InputLike] | Mapping[str, InputLike],
) -> list[tuple[str, InputLike]]:
    """Each input under its key: a mapping's own, else a file's stem, else ``image_<i>``
    (made unique)."""
    if isinstance(inputs, Mapping):
        return [(str(key), item) for key, item in inputs.items()]
    if isinstance(inputs, torch.Tensor):
        if inputs.ndim not in (3, 4):
            raise InputError(
                f"an input tensor must be (N, 3, H, W) or (3, H, W), got {tuple(inputs.shape)}",
                hint="add the batch dimension with tensor[None], or stack the images",
            )
        items = list(inputs) if inputs.ndim == 4 else [inputs]
    elif isinstance(inputs, str | Path | Image.Image | np.ndarray):
        items = [inputs]
    else:
        items = list(inputs)
    keyed: list[tuple[str, InputLike]] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        key = Path(item).stem if isinstance(item, str | Path) else f"image_{i}"
        while key in seen:
            key = f"{key}_{i}"
        seen.add(key)
        keyed.append((key, item))
    return keyed


def _assumed_geometry(items: list[tuple[str, InputLike]]) -> Geometry:
    """A plain module's: xl.wrap's default for images; for tensors alone (taken as
    given), only their size matters (to locate the target layer and check the outputs)."""
    tensors = [item for _, item in items if isinstance(item, torch.Tensor)]
    if not tensors or len(tensors) < len(items):
        return IMAGENET_GEOMETRY
    side = min(tensors[0].shape[-2:])
    return Geometry(resize=side, crop=side)


def _prepared(model: LoadedModel, known: bool, key: str, item: InputLike) -> _Input:
    if isinstance(item, torch.Tensor):
        if item.ndim != 3:
            raise InputError(
                f"{key}: a tensor in a list of inputs must be (3, H, W), got {tuple(item.shape)}",
                hint="give a batch as one (N, 3, H, W) tensor",
            )
        tensor = item.detach()
        crop = _picture(tensor, model.geometry if known else None)
        return _Input(key=key, source="<tensor>", tensor=tensor, crop=crop, seen=known)
    sample = sample_from(item, model.geometry, key=key)
    return _Input(
        key=key, source=str(sample.path), tensor=sample.tensor, crop=sample.crop, seen=True
    )


def _picture(tensor: torch.Tensor, geometry: Geometry | None) -> np.ndarray:
    """A (3, H, W) model input as an (H, W, 3) uint8 picture: un-normalised with the
    geometry's mean and std (the crop it came from, when it came from one), else
    min-max scaled."""
    x = tensor.detach().float().cpu()
    if geometry is not None:
        x = x * torch.tensor(geometry.std).view(3, 1, 1) + torch.tensor(geometry.mean).view(3, 1, 1)
    else:
        low, high = x.min(), x.max()
        x = (x - low) / (high - low) if high > low else torch.zeros_like(x)
    return x.clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def _targets(model: LoadedModel, target: Target, count: int) -> list[int | None]:
    from explainlab.image_stage import check_target_class

    if target is None or isinstance(target, int | np.integer):
        wanted = [None if target is None else int(target)] * count
    else:
        wanted = [None if t is None else int(t) for t in target]
        if len(wanted) != count:
            raise InputError(
                f"{len(wanted)} targets for {count} inputs",
                hint="give one target per input, one int for all, or None for each top-1 class",
            )
    for chosen in wanted:
        check_target_class(model, chosen)
    return wanted


def _explain(
    model: LoadedModel,
    items: list[tuple[str, InputLike]],
    specs: list[MethodSpec],
    *,
    known: bool,
    target: Target,
    layer: str | None,
    impl: str,
    batch_size: int,
    lime: LimeOptions,
    attributions: AttributionSettings,
) -> list[Explanation]:
    """``known``: whether the model's preprocessing is known (not a plain module's)."""
    from explainlab.attributions.compute import implementation as attribution_impl
    from explainlab.estimate import method_cost_lines

    inputs = [_prepared(model, known, key, item) for key, item in items]
    costs = method_cost_lines(
        model, specs, len(inputs), layer=layer, impl=impl, attributions=attributions
    )
    for line in costs:  # the costly methods say what they will take before they start
        print(line, file=sys.stderr, flush=True)
    wanted = _targets(model, target, len(inputs))
    where = model.cam_target(layer) if any(spec.layer for spec in specs) else None
    lime_run = _LimeRun.start(model, inputs, lime) if _has_lime(specs) else None
    xs = [item.tensor[None].to(model.device) for item in inputs]
    predictions = [_prediction(model, x) for x in xs]
    chosen_all = [
        p["top_ids"][0] if chosen is None else chosen
        for p, chosen in zip(predictions, wanted, strict=True)
    ]
    # the CAMs of all inputs: those one pass serves share it, over the whole batch
    cam_results = _cams(
        [spec.name for spec in specs if spec.kind == "cam"],
        model,
        where,
        xs,
        chosen_all,
        impl=impl,
        batch_size=batch_size,
    )
    out = []
    for item, x, prediction, chosen, cams in zip(
        inputs, xs, predictions, chosen_all, cam_results, strict=True
    ):
        provenance = _provenance(model, known, item)
        maps, raw, seconds, used = {}, {}, {}, {}
        for spec in specs:
            start = time.perf_counter()
            if spec.kind == "cam":
                result, seconds[spec.name] = cams[spec.name]
                maps[spec.name] = result.map
                used[spec.name] = {"impl": result.impl, "note": result.note}
                continue
            if spec.kind in ATTRIBUTION_KINDS:
                raw[spec.name], maps[spec.name] = _attribution(
                    spec, model, x, chosen, attributions, where=where, item=item, lime=lime
                )
                used[spec.name] = {"impl": attribution_impl(spec), "note": ""}
            else:  # LIME, the one surrogate method explain computes (see _methods)
                raw[spec.name] = lime_run.explain(item, chosen, provenance)
                maps[spec.name] = _lime_map(raw[spec.name])
                used[spec.name] = {"impl": lime.explainer, "note": _lime_note(item)}
            seconds[spec.name] = time.perf_counter() - start
        out.append(
            Explanation(
                key=item.key,
                crop=item.crop,
                tensor=item.tensor.cpu(),
                target=chosen,
                target_name=model.class_names[chosen],
                maps=maps,
                raw=raw,
                prediction=prediction,
                layer=where.name if where is not None else "",
                seconds=seconds,
                impl=used,
                provenance=provenance,
            )
        )
    return out


def _cams(
    names: list[str],
    model: LoadedModel,
    where: Any,
    xs: list[torch.Tensor],
    targets: list[int],
    *,
    impl: str,
    batch_size: int,
) -> list[dict[str, Any]]:
    """Each input's ``{method: (CamMap, seconds)}``; inputs of one size run as one batch
    (the shared pass of the gradient CAMs serves them all at once)."""
    from explainlab.cam.methods import cam_maps_batch

    if not names:
        return [{} for _ in xs]
    options = {"impl": impl, "batch_size": batch_size, "reshape": where.reshape}
    if len({tuple(x.shape) for x in xs}) == 1:
        return cam_maps_batch(names, model.module, where.layer, torch.cat(xs), targets, **options)
    return [
        cam_maps_batch(names, model.module, where.layer, x, [t], **options)[0]
        for x, t in zip(xs, targets, strict=True)
    ]


def _prediction(model: LoadedModel, x: torch.Tensor) -> dict[str, Any]:
    return model.top_classes(x, min(TOP_K, len(model.class_names)))


def _provenance(model: LoadedModel, known: bool, item: _Input) -> dict[str, Any]:
    tensor = item.source == "<tensor>"
    geometry = model.geometry.describe()
    if tensor:
        preprocessing = (
            f"the tensor as given (pictured with the model's {geometry})"
            if known
            else "the tensor as given (none known: pictured min-max scaled)"
        )
    else:
        preprocessing = geometry if known else f"assumed (xl.wrap's default): {geometry}"
    return {
        "model": model.name,
        "model_description": model.spec.description,
        "weights": model.spec.weights_source,
        "geometry": model.geometry.to_dict() if known or not tensor else None,
        "preprocessing": preprocessing,
        "source": item.source,
    }


# --- gradient and perturbation attributions ---------------------------------------------


def _attribution(
    spec: MethodSpec,
    model: LoadedModel,
    x: torch.Tensor,
    target: int,
    settings: AttributionSettings,
    *,
    where: Any,
    item: _Input,
    lime: LimeOptions,
) -> tuple[torch.Tensor, np.ndarray]:
    """The method's raw attribution of the one input ``x`` (C, H, W) and its map."""
    from explainlab.attributions.compute import attribute

    segments = _lime_segments(item, lime)[None] if spec.name == "kernelshap" else None
    result = attribute(
        spec.name,
        model.module,
        x,
        target,
        settings,
        layer=where.layer if spec.layer else None,
        reshape=where.reshape if spec.layer else None,
        segments=segments,
    )
    return result.raw[0], result.maps[0]


def _lime_segments(item: _Input, lime: LimeOptions) -> np.ndarray:
    """The superpixels LIME segments this input's crop into with ``lime``'s parameters."""
    from explainlab.lime.segments import lime_segments

    params, _ = _param_file(lime.params).params_for(item.key, seed=lime.seed)
    return lime_segments(item.crop, params)


# --- LIME ---------------------------------------------------------------------------------


def _has_lime(specs: list[MethodSpec]) -> bool:
    return any(spec.name == "lime" for spec in specs)


def _lime_map(record: LimeExplanation) -> np.ndarray:
    """The superpixels' weights, min-max normalised as every map is before a threshold."""
    from explainlab.masks import normalise

    return normalise(record.weight_map()).astype(np.float32)


def _lime_note(item: _Input) -> str:
    if item.source == "<tensor>":
        return (
            "on the picture of the tensor (rounded to 8 bits), preprocessed by the model's geometry"
        )
    return ""


@dataclass(eq=False, kw_only=True)
class _LimeRun:
    """LIME over the inputs of one call: the parameters and the classifier function."""

    model: LoadedModel
    options: LimeOptions
    param_file: Any  # explainlab.lime.params.ParamFile
    classifier: Any  # explainlab.lime.classifier.ModelClassifier

    @classmethod
    def start(cls, model: LoadedModel, inputs: list[_Input], options: LimeOptions) -> _LimeRun:
        from explainlab.lime.classifier import ModelClassifier

        unseen = [item.key for item in inputs if not item.seen]
        if unseen:
            raise InputError(
                f"{', '.join(unseen)}: LIME perturbs the image the model sees, and a tensor "
                "given with a plain module comes with no known preprocessing to make one",
                hint="pass xl.wrap(module, geometry=...) as the model, or the images themselves",
            )
        return cls(
            model=model,
            options=options,
            param_file=_param_file(options.params),
            classifier=ModelClassifier.for_model(model),
        )

    def explain(self, item: _Input, label: int, provenance: dict[str, Any]) -> LimeExplanation:
        from explainlab.lime.explain import explain as lime_explain
        from explainlab.lime.params import to_readable

        options = self.options
        params, file_k = self.param_file.params_for(item.key, seed=options.seed)
        k = file_k or options.num_features
        result = lime_explain(
            item.crop,
            self.classifier,
            params,
            seed=options.seed,
            explainer=options.explainer,
            label=label,
        )
        return LimeExplanation(
            key=item.key,
            crop=item.crop,
            label=result.label,
            label_name=self.model.class_names[result.label],
            probability=result.probability,
            segments=result.segments,
            weights=result.weights,
            mask=result.mask(k),
            num_features=k,
            params=to_readable(result.params),
            seconds=result.seconds,
            provenance=provenance,
        )


def _param_file(params: Mapping[str, Any] | str | Path | None) -> Any:
    """The same readable parameters for every input, checked, or a parameter file."""
    from explainlab.lime.params import ParamFile, errors, load_param_file

    if params is not None and not isinstance(params, Mapping):
        return load_param_file(params)
    param_file = ParamFile(dict(params or {}), {}, "the params argument")
    problems = errors(param_file.problems())
    if problems:
        from explainlab.errors import ConfigError

        raise ConfigError("\n".join(map(str, problems)))
    return param_file
