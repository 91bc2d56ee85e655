"""Do two runs' LIME choices score alike, within the sampling noise? For lowering a setting
of the tune stage (its budget, its reference) only where its outputs stay within their
seed spread (issue 24):

    python tools/tune_spread.py results/before/assignment-stand-in results/after/assignment-stand-in

Per image: the chosen parameters' scoreboard IoU and counted cost in each run
(lime_score/scoreboard_run.csv), and the seed spread of one IoU in the first run (lime's
defaults at the tuner's sampling seeds, lime_tune/summary.csv). Exits 1 when the mean IoU
moved by more than the mean seed spread."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd


def _read(run: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    board = pd.read_csv(run / "lime_score" / "scoreboard_run.csv").set_index("key")
    tuned = pd.read_csv(run / "lime_tune" / "summary.csv").set_index("key")
    return board, tuned


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    (board_a, tuned_a), (board_b, _) = _read(args.before), _read(args.after)
    keys = [k for k in board_a.index if k in board_b.index]
    spread = (tuned_a["baseline_iou_max"] - tuned_a["baseline_iou_min"]).loc[keys]
    print(f"{'image':28s} {'IoU before':>10s} {'IoU after':>9s} {'cost before':>11s} "
          f"{'cost after':>10s} {'seed spread':>11s}")  # fmt: skip
    for k in keys:
        a, b = board_a.loc[k], board_b.loc[k]
        print(
            f"{k:28.28s} {a['iou']:10.3f} {b['iou']:9.3f} {a['cost_seconds']:11.2f} "
            f"{b['cost_seconds']:10.2f} {spread[k]:11.3f}"
        )
    moved = abs(board_b.loc[keys, "iou"].mean() - board_a.loc[keys, "iou"].mean())
    cost = board_b.loc[keys, "cost_seconds"].mean() / board_a.loc[keys, "cost_seconds"].mean()
    ok = moved <= spread.mean()
    print(
        f"mean IoU {board_a.loc[keys, 'iou'].mean():.3f} -> {board_b.loc[keys, 'iou'].mean():.3f} "
        f"(moved {moved:.3f}; mean seed spread {spread.mean():.3f}: "
        f"{'within' if ok else 'BEYOND'}); counted cost x{cost:.2f}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
