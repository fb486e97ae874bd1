"""A real browser for tests: Debian's headless Chromium driven by Playwright.

The pages are served by the daphne processes of ``tests/live`` (PostgreSQL + Redis + relay).
Playwright's own browser download is not used: Chromium comes from the Debian package.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.live.conftest import (  # noqa: F401 - fixtures used here
    db_proxy,
    live_hub,
    spare_daphne,
)

CHROMIUM = Path(os.environ.get("HUB_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _require_chromium() -> None:
    if CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK):
        return
    what = f"Chromium at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests need {what}, and CI must run them")
    pytest.skip(f"browser tests need {what}")


@pytest.fixture(scope="module", autouse=True)
def chromium_present():
    # Autouse, so it runs before the (slow to start) live hub.
    _require_chromium()


@pytest.fixture(scope="module")
def chromium(live_hub):  # noqa: F811 - after live_hub: its servers must not inherit the setting below
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop running on this thread, so Django would take
    # the test's own (plain, synchronous) database calls for calls from async code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if previous is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def open_page(chromium):
    """Return ``open_page(base_url, user=None)``: a fresh page, signed in as ``user`` if given."""
    contexts = []

    def open_(base_url: str, user=None):
        context = chromium.new_context(base_url=base_url)
        contexts.append(context)
        if user is not None:
            client = Client()
            client.force_login(user)
            name = settings.SESSION_COOKIE_NAME
            cookie = {"name": name, "value": client.cookies[name].value, "url": base_url}
            context.add_cookies([cookie])
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    errors: list[str] = []
    yield open_
    for context in contexts:
        context.close()
    assert not errors, f"errors in the page: {errors}"


@pytest.fixture
def cookieless_page(live_hub, open_page):  # noqa: F811 - the fixture imported above
    """A page of the hub's origin with hub.js loaded and no session cookie."""
    page = open_page(f"http://127.0.0.1:{live_hub.ports[0]}")
    page.goto("/admin/login/")
    page.add_script_tag(url="/static/hub/hub.js")
    return page
