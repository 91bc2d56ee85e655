"""Forward passes as explainlab runs a model it loads (``explainlab.models.speed``:
channels-last weights, calls of a few images on a CPU) against the module as built
(contiguous weights, calls of 64 images, as before), on the same images: seconds per image,
the ratio and the largest difference of the logits. EfficientNet-Lite0 (trained) and
ResNet50 (random weights)."""

from __future__ import annotations

import copy
import time

import torch

ROUNDS = 3
IMAGES = 64


def _per_image(module, x: torch.Tensor, chunk: int) -> tuple[float, torch.Tensor]:
    """The fastest of ROUNDS passes over ``x`` in calls of ``chunk``, per image; the logits."""
    best = float("inf")
    with torch.inference_mode():
        module(x[:chunk])  # warm-up
        for _ in range(ROUNDS):
            start = time.perf_counter()
            out = torch.cat([module(x[i : i + chunk]) for i in range(0, len(x), chunk)])
            best = min(best, time.perf_counter() - start)
    return best / len(x), out


def main(images: int = 2) -> int:  # random inputs: the number of images does not apply
    import torchvision

    from explainlab.models import load_model
    from explainlab.models.speed import for_speed, forward_chunk

    lite0 = load_model("efficientnet_lite0", "auto")
    device = lite0.device
    resnet50 = torchvision.models.resnet50().eval().to(device)
    torch.manual_seed(0)
    x = torch.randn(IMAGES, 3, 224, 224, device=device)
    print(
        f"{'model':22s} {'as built, 64/call':>18s} {'explainlab':>12s} {'ratio':>7s} {'max diff':>9s}"
    )
    for name, module in (("EfficientNet-Lite0", lite0.module), ("ResNet50 (random)", resnet50)):
        plain = copy.deepcopy(module).to(memory_format=torch.contiguous_format)
        fast = for_speed(copy.deepcopy(module), device)
        before, reference = _per_image(plain, x, 64)
        after, ours = _per_image(fast, x, forward_chunk(device))
        diff = float((reference - ours).abs().max())
        print(
            f"{name:22s} {before * 1000:15.1f} ms {after * 1000:9.1f} ms "
            f"{before / after:6.2f}x {diff:9.1e}"
        )
    return 0
