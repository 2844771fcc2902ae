"""Fixtures of the browser suite: Debian's Chromium through Playwright, and one running tracker per module.

Screenshots go to ``test-output/screenshots/`` at the top of the repository (git-ignored), named after the
test, so that a person can look at every page the suite saw.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.screen import only_own_origin, open_page
from tests.browser.tracker import PEOPLE, REPO, Tracker
from tests.support import require

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO / "test-output" / "screenshots"


# Per module, not per session: Playwright's sync API keeps an asyncio loop running while it is open, and
# every later test of the run that calls asyncio.run() (the exporter's) would find it there.
@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    require(Path(CHROMIUM).exists(), f"{CHROMIUM} is not installed (make install)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # under BATIKNET_REQUIRE_LAB=1 a missing Playwright fails the run, never skips it
        sync_playwright = None
    require(sync_playwright is not None, "Playwright is not installed (make install)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def tracker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tracker]:
    running = Tracker(tmp_path_factory.mktemp("tracker")).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def people(chromium: Any, tracker: Tracker) -> Iterator[Callable[[str, str], Any]]:
    """``people("andi", "phone")``: a page signed in as that person in a browser context of their own; at
    the end, none of them may have loaded anything from elsewhere than the tracker."""
    pages: list[Any] = []

    def open_as(who: str, screen: str) -> Any:
        page = open_page(chromium, tracker, screen, PEOPLE[who])
        pages.append(page)
        return page

    yield open_as
    for page in pages:
        assert not only_own_origin(page, tracker), "a page loaded something from elsewhere"
        page.context.close()
