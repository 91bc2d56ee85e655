"""Split a model at its CAM target layer: run the front once, re-run only the tail.

``split_at(model, layer, x)`` runs the whole model once on the image ``x`` (1, 3, H, W),
keeps the target layer's output (the *activation*) and the logits, and returns a
:class:`LayerSplit` whose ``tail(activations)`` maps a batch of (modified) activations to
logits exactly as the full model would if the target layer had produced them.

Two ways to build the tail, tried in this order:

``fx``
    ``torch.fx`` traces the model coarsely: every submodule is a leaf except the target
    layer's ancestors, which are traced through so the target layer is a node of its own.
    The tail is the sub-graph of every node that depends on the target node; any other
    value it needs (a residual input, say) is computed once on ``x`` and broadcast over
    the batch. For a ResNet at ``layer4[-1]`` the tail is avgpool + flatten + fc; for
    timm's EfficientNet at ``bn2`` it is the global pool + classifier. Before use, the
    tail is checked against the full model on ``x`` (batch 1 and batch 2) and must not
    modify its input in place; any failure falls back to ``hook``.

``hook``
    Generic and exact but not faster: the whole model runs on ``x`` repeated, and a
    forward hook on the target layer substitutes the given activations (what
    pytorch-grad-cam's AblationLayer does). Used when tracing fails, when the target
    layer runs more than once per forward, or when the check above fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import fx, nn

from explainlab.errors import ConfigError, UnknownNameError

Tail = Callable[[torch.Tensor], torch.Tensor]


@dataclass(kw_only=True)
class LayerSplit:
    activation: torch.Tensor  # (1, C, h, w): the target layer's output on x
    logits: torch.Tensor  # (1, K): the model's output on x
    tail: Tail  # (B, C, h, w) activations -> (B, K) logits
    path: str  # "fx" (only the layers after the target run) or "hook" (the whole model)
    reason: str = ""  # why the fx path was not taken

    @property
    def num_classes(self) -> int:
        return int(self.logits.shape[1])


class _NoSplit(Exception):
    """The fx path does not apply; the message says why."""


def check_image(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[0] != 1:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ConfigError(
            f"CAM input must be one image as a (1, C, H, W) tensor, got {shape}",
            hint="explain images one at a time: pass sample.tensor[None]",
        )


def check_target(target: int, num_classes: int) -> None:
    if not 0 <= int(target) < num_classes:
        raise UnknownNameError(
            f"target class {target} does not exist: the model has {num_classes} outputs",
            hint=f"use a class index from 0 to {num_classes - 1}",
        )


@dataclass
class _Capture:
    at_hook: torch.Tensor  # a copy of the layer's output when it was produced
    after: torch.Tensor  # the same tensor once the forward pass is over (in-place ops!)
    logits: torch.Tensor
    calls: int


def check_output(module: nn.Module, output: object) -> None:
    """A CAM's target layer must output one tensor (its map)."""
    if not isinstance(output, torch.Tensor):
        raise ConfigError(
            f"the CAM target layer {type(module).__name__} returns "
            f"{type(output).__name__}, not a tensor",
            hint="choose a convolutional layer or block (e.g. 'layer4[-1]')",
        )


def capture(model: nn.Module, layer: nn.Module, x: torch.Tensor) -> _Capture:
    """One full forward pass on ``x`` that records the target layer's output."""
    seen: list[torch.Tensor] = []

    def record(module: nn.Module, inputs: object, output: object) -> None:
        check_output(module, output)
        seen.append(output)
        if len(seen) == 1:
            first.append(output.detach().clone())

    first: list[torch.Tensor] = []
    handle = layer.register_forward_hook(record)
    try:
        with torch.no_grad():
            logits = model(x)
    finally:
        handle.remove()
    if not seen:
        raise ConfigError(
            f"the CAM target layer {type(layer).__name__} is not used by the model's forward pass",
            hint="choose a layer the model runs, e.g. its default target layer",
        )
    if first[0].ndim != 4:
        raise ConfigError(
            f"the CAM target layer's output has shape {tuple(first[0].shape)}, not (N, C, H, W)",
            hint="choose a convolutional layer or block (e.g. 'layer4[-1]')",
        )
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
        raise ConfigError(
            "the model's output is not a (N, classes) tensor of scores",
            hint="CAM explains classifiers that return one score per class",
        )
    return _Capture(first[0], seen[0].detach(), logits.detach(), len(seen))


def split_at(model: nn.Module, layer: nn.Module, x: torch.Tensor) -> LayerSplit:
    """The split of ``model`` (in eval mode) at ``layer`` for image ``x``.

    No hook outlives a call: the capture and each hook-path tail call remove theirs."""
    check_image(x)
    cap = capture(model, layer, x)
    try:
        return LayerSplit(
            activation=cap.at_hook,
            logits=cap.logits,
            tail=_fx_tail(model, layer, x, cap),
            path="fx",
        )
    except _NoSplit as why:
        # Like pytorch-grad-cam, the hook path sees the layer's output after the forward
        # pass, in-place changes included; the whole model runs for every batch.
        return LayerSplit(
            activation=cap.after,
            logits=cap.logits,
            tail=_hook_tail(model, layer, x),
            path="hook",
            reason=str(why),
        )


# --- the hook path ---------------------------------------------------------------------


def _hook_tail(model: nn.Module, layer: nn.Module, x: torch.Tensor) -> Tail:
    def tail(activations: torch.Tensor) -> torch.Tensor:
        def substitute(module: nn.Module, inputs: object, output: object) -> torch.Tensor:
            return activations

        handle = layer.register_forward_hook(substitute)
        try:
            return model(x.repeat(activations.shape[0], *([1] * (x.ndim - 1))))
        finally:
            handle.remove()

    return tail


# --- the fx path -----------------------------------------------------------------------


class _CoarseTracer(fx.Tracer):
    """Traces only the target layer's ancestors; every other submodule stays a leaf, so
    what timm or torchvision do inside their blocks never has to be traceable."""

    def __init__(self, layer: nn.Module, ancestors: list[nn.Module]) -> None:
        super().__init__()
        self.layer = layer
        self.ancestor_ids = {id(m) for m in ancestors}

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        if m is self.layer:
            return True
        return id(m) not in self.ancestor_ids


def _ancestors(model: nn.Module, layer: nn.Module) -> list[nn.Module]:
    for name, module in model.named_modules():
        if module is layer:
            parts = name.split(".") if name else []
            chain, current = [model], model
            for part in parts[:-1]:
                current = current.get_submodule(part)
                chain.append(current)
            return chain
    raise ConfigError("the CAM target layer is not a submodule of the model")


def _graphs(model: nn.Module, layer: nn.Module) -> tuple[fx.GraphModule, fx.GraphModule, list]:
    """(prefix, tail, per extra: depends on the input?) from a coarse trace of ``model``."""
    if layer is model:
        raise _NoSplit("the target layer is the whole model")
    tracer = _CoarseTracer(layer, _ancestors(model, layer))
    try:
        graph = tracer.trace(model)
    except Exception as exc:  # any tracing failure just means: use the hook path
        raise _NoSplit(f"torch.fx could not trace the model ({type(exc).__name__}: {exc})") from exc
    traced = fx.GraphModule(tracer.root, graph)
    nodes = list(graph.nodes)
    targets = [
        n for n in nodes if n.op == "call_module" and traced.get_submodule(n.target) is layer
    ]
    if len(targets) != 1:
        raise _NoSplit(f"the target layer appears {len(targets)} times in the traced graph")
    target = targets[0]

    # Nodes downstream of the target form the tail; nodes downstream of the inputs carry
    # the batch dimension.
    tail_nodes: set[fx.Node] = {target}
    per_sample: set[fx.Node] = set()
    for n in nodes:
        if n.op == "placeholder" or any(a in per_sample for a in n.all_input_nodes):
            per_sample.add(n)
        if n is not target and any(a in tail_nodes for a in n.all_input_nodes):
            tail_nodes.add(n)
    output = next(n for n in nodes if n.op == "output")
    if output not in tail_nodes:
        raise _NoSplit("the model's output does not depend on the target layer")
    extras: list[fx.Node] = []
    for n in nodes:
        if n in tail_nodes and n is not target:
            extras += [a for a in n.all_input_nodes if a not in tail_nodes and a not in extras]

    prefix_graph = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    for n in nodes:
        if n not in tail_nodes:
            env[n] = prefix_graph.node_copy(n, lambda a: env[a])
    prefix_graph.output(tuple(env[e] for e in extras))

    tail_graph = fx.Graph()
    env = {target: tail_graph.placeholder("activation")}
    for i, e in enumerate(extras):
        env[e] = tail_graph.placeholder(f"extra_{i}")
    for n in nodes:
        if n in tail_nodes and n is not target:
            env[n] = tail_graph.node_copy(n, lambda a: env[a])
    return (
        fx.GraphModule(traced, prefix_graph),
        fx.GraphModule(traced, tail_graph),
        [e in per_sample for e in extras],
    )


def _fx_tail(model: nn.Module, layer: nn.Module, x: torch.Tensor, cap: _Capture) -> Tail:
    if cap.calls != 1:
        raise _NoSplit(f"the target layer runs {cap.calls} times per forward pass")
    if not torch.equal(cap.at_hook, cap.after):
        raise _NoSplit("a later layer changes the target layer's output in place")
    prefix, tail_module, batched = _graphs(model, layer)
    extras: tuple = ()
    if batched:
        with torch.no_grad():
            extras = tuple(prefix(x))

    def tail(activations: torch.Tensor) -> torch.Tensor:
        b = activations.shape[0]
        args = [
            e.expand(b, *e.shape[1:])
            if per_sample and isinstance(e, torch.Tensor) and e.ndim and e.shape[0] == 1
            else e
            for e, per_sample in zip(extras, batched, strict=True)
        ]
        return tail_module(activations, *args)

    _check(tail, cap)
    return tail


def _check(tail: Tail, cap: _Capture) -> None:
    """The tail must give the full model's logits on x, row by row for a batch, and leave
    its input untouched."""
    a = cap.at_hook
    ref = cap.logits
    tol = 1e-4 * max(1.0, float(ref.abs().max()))
    try:
        with torch.no_grad():
            batch = a.expand(2, *a.shape[1:]).clone()
            out = tail(batch)
    except Exception as exc:  # a tail that cannot run batched: use the hook path
        raise _NoSplit(f"the traced tail fails on a batch ({type(exc).__name__}: {exc})") from exc
    if not isinstance(out, torch.Tensor) or out.shape != (2, ref.shape[1]):
        raise _NoSplit("the traced tail does not return (batch, classes) scores")
    if not torch.equal(batch, a.expand(2, *a.shape[1:])):
        raise _NoSplit("the traced tail changes its input in place")
    if not torch.allclose(out, ref.expand(2, -1), rtol=0.0, atol=tol):
        raise _NoSplit("the traced tail does not reproduce the model's output")
