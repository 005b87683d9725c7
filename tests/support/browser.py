"""A real browser for tests: Debian's Chromium through Debian's chromedriver, headless, with a fresh
profile, and the few ways the tests look at pages (find by text, press a button, full-page shots)."""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.support.waiting import wait_for

CHROMIUM = os.environ.get("PIM_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("PIM_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)


def chromium(width: int = 1280, height: int = 900) -> Any:
    """Debian's Chromium through Debian's chromedriver (never a downloaded browser), fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            raise AssertionError(f"{path} is missing: apt-get install chromium chromium-driver (system-deps.sh)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="pim-chromium-")
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.profile_dir = profile  # type: ignore[attr-defined]
    return driver


def quit_chromium(driver: Any) -> None:
    profile = getattr(driver, "profile_dir", None)
    driver.quit()
    if profile:
        shutil.rmtree(profile, ignore_errors=True)


def console_errors(driver: Any, allowed: tuple[str, ...] = ()) -> list[str]:
    """Everything the page logged at SEVERE level, less the expected refusals named in ``allowed``."""
    return [
        e["message"]
        for e in driver.get_log("browser")
        if e["level"] == "SEVERE" and not any(a in e["message"] for a in allowed)
    ]


def _stale() -> type[Exception]:
    from selenium.common.exceptions import StaleElementReferenceException

    return StaleElementReferenceException


def find(driver: Any, css: str, text: str | None = None, timeout: float = 30, exact: bool = False) -> str:
    """The text of the first visible element matching ``css`` whose text holds (or, ``exact``, is)
    ``text``. Live updates replace elements at any moment, so callers get the text, not the element."""
    from selenium.webdriver.common.by import By

    def look() -> str | None:
        for el in driver.find_elements(By.CSS_SELECTOR, css):
            shown = el.text.strip()  # a stale element raises: wait_for counts that as "not yet"
            if el.is_displayed() and (text is None or (shown == text if exact else text in shown)):
                return shown or " "
        return None

    return wait_for(look, timeout, f"{css} {text or ''} on {driver.current_url}")


def act(driver: Any, what: str, action: Any, timeout: float = 30) -> None:
    """Do ``action(driver)`` (find an element and use it), again if a live update replaced it meanwhile."""
    stale = _stale()

    def attempt() -> bool:
        try:
            action(driver)
        except stale:
            return False
        return True

    wait_for(attempt, timeout, what)


def _button(driver: Any, label: str, within: str) -> Any:
    from selenium.webdriver.common.by import By

    for el in driver.find_elements(By.CSS_SELECTOR, f"{within} button, {within} a.button"):
        named = el.text.strip() == label or el.get_attribute("aria-label") == label
        if named and el.is_displayed() and el.is_enabled():
            return el
    return None


def press(driver: Any, label: str, within: str = "body", timeout: float = 30) -> None:
    """Click the button (or button-like link) named ``label``: its text or its aria-label."""

    def click(d: Any) -> None:
        el = _button(d, label, within)
        if el is None:
            raise _stale()("not there yet")
        el.click()

    act(driver, f"button {label!r} on {driver.current_url}", click, timeout)


def type_into(driver: Any, css: str, name: str, value: str, *, clear: bool = False, timeout: float = 30) -> None:
    """Type ``value`` into the field ``name`` inside the element ``css`` (a dialog, a form)."""
    from selenium.webdriver.common.by import By

    def typing(d: Any) -> None:
        el = d.find_element(By.CSS_SELECTOR, css).find_element(By.NAME, name)
        if clear:
            el.clear()
        el.send_keys(value)

    act(driver, f"field {name} in {css}", typing, timeout)


def attribute(driver: Any, css: str, name: str) -> str | None:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, css).get_attribute(name)


def shot(driver: Any, path: Path, max_height: int = 2200) -> None:
    """The whole page (up to ``max_height`` CSS pixels), not just the window, as a PNG at ``path``."""
    time.sleep(0.3)  # let a just-arrived update paint; the content itself was awaited
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], max_height), "scale": 1}
    capture = {"format": "png", "captureBeyondViewport": True, "clip": clip}
    data = driver.execute_cdp_cmd("Page.captureScreenshot", capture)
    path.write_bytes(base64.b64decode(data["data"]))
