"""Headless Chromium driven by Selenium: Debian's ``chromium`` and ``chromium-driver``
(``.ci/run`` installs them). The viewer's tests and its benchmark open pages with it."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

CHROMIUM = ("/usr/bin/chromium", "chromium")
DRIVER = ("/usr/bin/chromedriver", "chromedriver")
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--window-size=1400,1000",
)


def _find(candidates: tuple[str, ...]) -> str | None:
    for name in candidates:
        found = name if Path(name).is_file() else shutil.which(name)
        if found:
            return found
    return None


def missing() -> str:
    """Why no browser can be driven here ("" when one can)."""
    lacking = [
        what
        for what, found in (
            ("chromium", _find(CHROMIUM)),
            ("chromium-driver (chromedriver)", _find(DRIVER)),
            ("selenium (pip)", importlib.util.find_spec("selenium")),
        )
        if not found
    ]
    return f"needs {', '.join(lacking)}" if lacking else ""


def chromium():
    """A headless Chromium that keeps the page's console (read with severe_logs)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _find(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(_find(DRIVER)))


def severe_logs(driver) -> list[dict]:
    """The console's errors since last asked (uncaught exceptions, failed loads)."""
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
