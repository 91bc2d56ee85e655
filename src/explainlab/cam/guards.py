"""Leave the explained model as it was found, whatever a CAM method does or raises.

pytorch-grad-cam puts the model in eval mode for good, Grad-CAM's backward pass leaves
``.grad`` on every parameter, and AblationCAM leaves its activation hook on the target
layer when the forward pass it wraps raises. The CAM methods only need eval mode while
they run."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import nn

# Module hook tables, each with the companion tables its handles also clean up.
_HOOK_TABLES: dict[str, tuple[str, ...]] = {
    "_forward_hooks": ("_forward_hooks_with_kwargs", "_forward_hooks_always_called"),
    "_forward_pre_hooks": ("_forward_pre_hooks_with_kwargs",),
    "_backward_hooks": (),
    "_backward_pre_hooks": (),
}


def _hook_ids(model: nn.Module) -> list[tuple[nn.Module, str, set]]:
    return [
        (m, table, set(getattr(m, table, {}))) for m in model.modules() for table in _HOOK_TABLES
    ]


@contextlib.contextmanager
def model_kept(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode inside the block. Afterwards, also when the block raises: every module's
    training flag and every parameter's ``.grad`` are put back, and any module hook
    registered inside the block and still there is removed."""
    modes = [(m, m.training) for m in model.modules()]
    grads = [(p, p.grad) for p in model.parameters()]
    hooks = _hook_ids(model)
    try:
        model.eval()
        yield model
    finally:
        for module, training in modes:
            module.training = training
        for param, grad in grads:
            param.grad = grad
        for module, table, before in hooks:
            current = getattr(module, table, {})
            for key in set(current) - before:
                del current[key]
                for companion in _HOOK_TABLES[table]:
                    getattr(module, companion, {}).pop(key, None)
