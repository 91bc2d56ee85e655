"""Durations as people read them (``42 s``, ``12 min``, ``1.5 h``): time estimates, and
how long ago a run folder's lock was taken. No dependencies: the command line uses it."""

from __future__ import annotations


def describe(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
