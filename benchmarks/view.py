"""The run viewer: how long ``explainlab view`` takes on a run, how much it weighs, and
how soon headless Chromium shows its first view (and the 1,792-card dissection view).

The run is a copy (its reports and viewer left out) of ``$EXPLAINLAB_VIEW_RUN``, else
``results/offline``: make it with ``make run CONFIG=offline``. Targets (issue 23): the
offline run's viewer at most 25 MB, its first view in under 2 s."""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from explainlab.view.build import build_view

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' browser
from browser import chromium, missing, severe_logs

DEFAULT_RUN = Path("results/offline")
MAX_MB, MAX_FIRST_S = 25.0, 2.0
LOADS = 5
# ms from the navigation's start: the script drawn its first view; every image loaded
FIRST_VIEW = """
const nav = performance.getEntriesByType("navigation")[0];
return [window.EXPLAINLAB_READY_MS, nav.loadEventEnd];
"""
DISSECTION = """
const start = performance.now();
history.replaceState(null, "", "#dissection");
route();
return [performance.now() - start, document.querySelectorAll("[data-unit]").length];
"""


def _copy(run: Path, into: Path) -> Path:
    target = into / run.name
    shutil.copytree(run, target, ignore=shutil.ignore_patterns("view", "reports", ".*.lock"))
    return target


def main(images: int = 2) -> int:  # the run's images, whatever their number
    run = Path(os.environ.get("EXPLAINLAB_VIEW_RUN", DEFAULT_RUN))
    if not (run / "manifest.json").is_file():
        print(f"skipped: no run at {run} (make run CONFIG=offline, or set EXPLAINLAB_VIEW_RUN)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        copy = _copy(run, Path(tmp))
        start = time.perf_counter()
        outcome = build_view(copy)
        built = time.perf_counter() - start
        megabytes = outcome.size() / 1e6
        print(f"run {run}: {outcome.images} images, {outcome.units} units, {outcome.tables} tables")
        print(f"explainlab view: {built:.1f} s, {megabytes:.1f} MB (target <= {MAX_MB:.0f} MB)")
        if missing():
            print(f"first render: skipped, {missing()}")
            return int(megabytes > MAX_MB)
        driver = chromium()
        try:
            ready, loaded, dissect = [], [], []
            for _ in range(LOADS):
                driver.get("about:blank")
                driver.get(outcome.index.as_uri())
                script, load = driver.execute_script(FIRST_VIEW)
                ready.append(script / 1000)
                loaded.append(load / 1000)
                seconds, cards = driver.execute_script(DISSECTION)
                dissect.append(seconds / 1000)
            errors = severe_logs(driver)
        finally:
            driver.quit()
    first = statistics.median(loaded)
    print(
        f"first view (median of {LOADS} loads): drawn {statistics.median(ready):.3f} s, "
        f"every image loaded {first:.3f} s (target < {MAX_FIRST_S:.0f} s)"
    )
    print(f"dissection view: {cards} unit cards drawn in {statistics.median(dissect):.3f} s")
    print(f"console errors: {len(errors)}")
    return int(megabytes > MAX_MB or first >= MAX_FIRST_S or bool(errors))
