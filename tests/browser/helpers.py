"""Helpers shared by the browser tests: their marks, Playwright's time unit, a staff member, and
a console page opened and live."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from hub.domain.authentication.services import company_user_add
from tests import factories

# Every browser test: a real hub (PostgreSQL + Redis) whose commits the served pages must see.
BROWSER_MARKS = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.redis,
]

SECONDS = 1000  # Playwright's timeouts are in milliseconds


def staff_member(company, role: str = "ceo"):
    user = factories.UserFactory(is_staff=True)
    company_user_add(company=company, user=user, role=role)
    return user


def wait_live(page) -> None:
    """Wait until the page's own hub client says it is live."""
    expect(page.locator("#hub-status")).to_have_attribute(
        "data-status", "live", timeout=10 * SECONDS
    )


def open_live(open_page, server, user, path: str, *, viewport: dict | None = None):
    """A page of ``server`` (``live_hub`` or a ``spare_daphne``) signed in as ``user``, at
    ``path``, once its hub client is live."""
    page = open_page(f"http://127.0.0.1:{server.ports[0]}", user)
    if viewport is not None:
        page.set_viewport_size(viewport)
    page.goto(path)
    wait_live(page)
    return page
