"""DeepLift on a model that calls one activation module more than once per forward pass.

captum's DeepLift stores each non-linear module's input and output on the module and
uses them in its backward hook: a module called twice (torchvision's ResNet blocks call
``self.relu`` twice) keeps only its last call's, and captum raises "A Module ... was
detected that does not contain some of the input/output attributes". We run it instead
on a copy of the model in which each such module is replaced by one fresh copy per call,
taken in the order of the calls: the same function, and the rescale rule applied at
every call. The model itself is never changed."""

from __future__ import annotations

import copy

import torch
from captum.attr._core.deep_lift import SUPPORTED_NON_LINEAR
from torch import nn


class _PerCall(nn.Module):
    """Calls ``copies[k]`` at its k-th call since the last reset (the model's forward)."""

    def __init__(self, module: nn.Module, calls: int) -> None:
        super().__init__()
        self.copies = nn.ModuleList(copy.deepcopy(module) for _ in range(calls))
        self.calls = 0

    def forward(self, *args, **kwargs):
        module = self.copies[self.calls % len(self.copies)]
        self.calls += 1
        return module(*args, **kwargs)


def reused_activations(model: nn.Module, x: torch.Tensor) -> dict[str, int]:
    """The non-linear modules DeepLift hooks that one forward pass of ``x[:1]`` calls
    more than once: their names and how many times."""
    names = {m: name for name, m in model.named_modules()}
    calls: dict[nn.Module, int] = {}

    def count(module: nn.Module, _inputs) -> None:
        calls[module] = calls.get(module, 0) + 1

    handles = [
        m.register_forward_pre_hook(count)
        for m in model.modules()
        if type(m) in SUPPORTED_NON_LINEAR
    ]
    try:
        with torch.no_grad():
            model(x[:1])
    finally:
        for handle in handles:
            handle.remove()
    return {names[m]: n for m, n in calls.items() if n > 1}


def unshared_copy(model: nn.Module, reused: dict[str, int]) -> nn.Module:
    """A copy of ``model`` in which each module of ``reused`` is one module per call."""
    twin = copy.deepcopy(model)
    per_call = []
    for name, calls in reused.items():
        parent_name, _, attribute = name.rpartition(".")
        parent = twin.get_submodule(parent_name)
        replacement = _PerCall(getattr(parent, attribute), calls)
        setattr(parent, attribute, replacement)
        per_call.append(replacement)

    def reset(_module: nn.Module, _inputs) -> None:
        for module in per_call:
            module.calls = 0

    twin.register_forward_pre_hook(reset)
    return twin


def deeplift_model(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """``model``, or its unshared copy where it reuses an activation module."""
    reused = reused_activations(model, x)
    return unshared_copy(model, reused) if reused else model
