"""The console in a real browser: Debian's Chromium driven by Playwright (its own browser
download is unreachable here), signed in through the real sign-in page."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.console import PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

# The Debian package's binary (`make stack-up` installs it); SENTINEL_CHROMIUM overrides.
CHROMIUM = os.environ.get("SENTINEL_CHROMIUM") or shutil.which("chromium") or ""


def screenshots(tmp_path: Path) -> Path:
    """Where screenshots go: SENTINEL_SCREENSHOTS=docs/console keeps them for the docs."""
    return Path(os.environ.get("SENTINEL_SCREENSHOTS") or tmp_path)


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium; a missing browser fails the test (`make test` installs it)."""
    if not CHROMIUM:
        pytest.fail("Debian's chromium is not installed: `make stack-up` installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def watched(browser: Browser, height: int = 800) -> Iterator[Page]:
    """A new page whose console errors (a CSP violation, a script error) fail the test."""
    page = browser.new_page(viewport={"width": 1280, "height": height})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    assert errors == [], errors


@contextmanager
def signed_in(console_url: str, username: str, height: int = 800) -> Iterator[Page]:
    """A page signed in as `username` through the real form, on the Overview."""
    from playwright.sync_api import expect

    with chromium() as browser, watched(browser, height) as page:
        page.goto(f"{console_url}/console/signin")
        page.get_by_label("User name").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{console_url}/console/")
        yield page
