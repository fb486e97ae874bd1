"""Console fixtures: alice and bob (Acme) and charlie (Globex) as staff who may open the pages."""

from __future__ import annotations

import pytest


def make_staff(user):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def staff_alice(alice):
    return make_staff(alice)


@pytest.fixture
def staff_bob(bob):
    return make_staff(bob)


@pytest.fixture
def staff_charlie(charlie):
    return make_staff(charlie)


@pytest.fixture
def alice_client(client, staff_alice):
    client.force_login(staff_alice)
    return client


# The loopback fake of Twilio's REST API, for the call board's Call button.
from tests.twilio_rest.conftest import fake_twilio, twilio_settings  # noqa: E402, F401
