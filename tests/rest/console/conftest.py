"""The console in a real headless Chromium (Debian's `chromium`, driven by Playwright), against a served
engine: one browser for the session, a fresh context (cookies, credentials) for each test. A test that
fails saves a screenshot of its page, named in the report."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.support.server import ROOT_PATH, USERS, Server
from tests.support.toolkits import npm_ci, require

HERE = Path(__file__).parent
SHOTS = Path(__file__).resolve().parents[3] / "test-screenshots"


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = require(["chromium"], ["chromium"])["chromium"]
    launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
    yield launched
    launched.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script, from the npm registry (package-lock.json beside this file)."""
    npm_ci(HERE, "axe-core")
    return (HERE / "node_modules" / "axe-core" / "axe.min.js").read_text()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        page = getattr(item, "funcargs", {}).get("page")
        if page is not None and not page.is_closed():
            SHOTS.mkdir(exist_ok=True)
            shot = SHOTS / f"{item.name.replace('/', '_')}.png"
            try:
                page.screenshot(path=str(shot), full_page=True)
                report.sections.append(("screenshot", str(shot)))
            except Exception as exc:  # a page that cannot be drawn still fails its test as it did
                report.sections.append(("screenshot", f"none: {exc}"))


class Console:
    """A page of the console, with what the tests look at: the browser's console errors."""

    def __init__(self, page: Page, server: Server) -> None:
        self.page, self.server, self.errors, self.refusals = page, server, [], set()
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def expect_refusal(self, status: int) -> None:
        """The browser logs each call the service refused; a test that provokes one says so."""
        self.refusals.add(f"the server responded with a status of {status}")

    def unexpected_errors(self) -> list[str]:
        return [error for error in self.errors if not any(refusal in error for refusal in self.refusals)]

    def open(self, fragment: str = "") -> Page:
        self.page.goto(f"{self.server.base}{ROOT_PATH}/console/{fragment}")
        self.page.wait_for_selector("main h1")
        return self.page


def _context(browser: Browser, user: str | None) -> BrowserContext:
    credentials = {"username": user, "password": USERS[user][0]} if user else None
    context = browser.new_context(viewport={"width": 1280, "height": 800}, http_credentials=credentials, locale="en-US")
    context.set_default_timeout(20000)
    return context


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = _context(browser, None)
    yield context.new_page()
    context.close()


@pytest.fixture
def console(page: Page, server: Server) -> Iterator[Console]:
    opened = Console(page, server)
    yield opened
    assert opened.unexpected_errors() == [], f"errors in the browser's console: {opened.errors}"


@pytest.fixture
def as_user(browser: Browser, secured: Server) -> Iterator:
    """Console pages signed in as one of USERS on the secured server."""
    contexts: list[BrowserContext] = []

    def open_as(user: str) -> Console:
        context = _context(browser, user)
        contexts.append(context)
        return Console(context.new_page(), secured)
    yield open_as
    for context in contexts:
        context.close()
