"""Headless Debian Chromium for the browser tests, driven by selenium through Debian's
chromedriver (no driver or browser downloads: Selenium Manager is never used)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

# Headless flags for running Chromium as root on a machine whose network is closed except
# loopback (/work/.library/env/machines/python.md).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1600,1000",
)


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    absent = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if absent:
        return (
            f"{' and '.join(absent)} not found: install Debian's chromium and chromium-driver "
            "(apt-get install -y chromium chromium-driver)"
        )
    return None


@contextmanager
def fresh_browser() -> Iterator[object]:
    """Headless Debian Chromium through Debian's chromedriver (Selenium Manager is never used),
    on a new empty profile: no localStorage, as a user's first visit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="nnexp-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
