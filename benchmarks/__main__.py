"""``python -m benchmarks [NAME ...] [-- ARGS]``: run the benchmarks, print ratios.

Each benchmark module times the reference library and our implementation in the same
process on the same inputs and prints seconds, the ratio and the largest difference; the
viewer's (view) times its build and first render in headless Chromium, and weighs it."""

from __future__ import annotations

import argparse
import importlib
import sys
import time

BENCHMARKS: tuple[str, ...] = ("forward", "cam", "lime", "dissect", "compare", "view", "spread")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run, among {', '.join(BENCHMARKS)} (default: all)"
    )
    parser.add_argument("--images", type=int, default=2, help="images per benchmark (default 2)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    status = 0
    for name in args.names or BENCHMARKS:
        start = time.perf_counter()
        print(f"\n=== benchmark: {name} ===", flush=True)
        status |= int(importlib.import_module(f"benchmarks.{name}").main(images=args.images) or 0)
        print(f"=== {name}: {time.perf_counter() - start:.0f} s ===", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
