"""Shared fixtures: alice (CEO of Acme), bob (Acme sales manager), charlie (outsider at Globex)."""

from __future__ import annotations

import pytest

from tests import factories


@pytest.fixture
def acme(db):
    return factories.CompanyFactory(company_name="Acme")


@pytest.fixture
def globex(db):
    return factories.CompanyFactory(company_name="Globex")


@pytest.fixture
def alice(acme):
    from hub.domain.authentication.services import company_user_add

    user = acme.created_by
    company_user_add(company=acme, user=user, role="ceo")
    return user


@pytest.fixture
def bob(acme):
    return factories.CompanyUserFactory(company=acme, role="sales_manager").user


@pytest.fixture
def charlie(globex):
    from hub.domain.authentication.services import company_user_add

    user = globex.created_by
    company_user_add(company=globex, user=user, role="ceo")
    return user
