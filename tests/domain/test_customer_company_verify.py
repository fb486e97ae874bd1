from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from hub.domain.authentication.models import AccountType, CustomerCompany
from hub.domain.authentication.services import (
    customer_company_link,
    customer_company_verify,
    customer_create,
)
from tests import factories


@pytest.fixture
def link(acme, bob):
    customer = customer_create(email="client@example.com", password="client-password")
    return customer_company_link(customer=customer, company=acme, added_by=bob)


def test_customer_create_makes_a_customer_account(db):
    customer = customer_create(email="Client@Example.com", password="client-password", city="Lyon")

    assert customer.user.account_type == AccountType.CUSTOMER
    assert customer.user.email == "client@example.com"
    assert customer.city == "Lyon"


def test_customer_create_applies_the_user_rules(db):
    with pytest.raises(ValidationError):
        customer_create(email="client@example.com", password="short")


def test_a_new_link_is_unverified_without_customer_since(link):
    link.refresh_from_db()

    assert not link.verified
    assert link.verified_at is None
    assert link.customer_since is None


def test_verifying_sets_customer_since(link):
    before = timezone.now()

    customer_company_verify(link=link)

    link.refresh_from_db()
    assert link.verified
    assert before <= link.customer_since <= timezone.now()
    assert link.verified_at == link.customer_since


def test_verifying_again_keeps_the_first_customer_since(link):
    customer_company_verify(link=link)
    link.refresh_from_db()
    first = link.customer_since

    CustomerCompany.objects.filter(pk=link.pk).update(verified=False)
    link.refresh_from_db()
    customer_company_verify(link=link)

    link.refresh_from_db()
    assert link.verified
    assert link.customer_since == first


def test_customer_since_from_the_crm_is_kept(link):
    long_ago = timezone.now() - timedelta(days=800)
    CustomerCompany.objects.filter(pk=link.pk).update(customer_since=long_ago)
    link.refresh_from_db()

    customer_company_verify(link=link)

    link.refresh_from_db()
    assert link.customer_since == long_ago


def test_link_verified_at_once(acme):
    customer = factories.CustomerFactory()

    link = customer_company_link(customer=customer, company=acme, verified=True)

    link.refresh_from_db()
    assert link.verified and link.customer_since is not None


def test_verifying_one_companys_link_leaves_the_others_alone(acme, globex):
    customer = factories.CustomerFactory()
    at_acme = customer_company_link(customer=customer, company=acme)
    at_globex = customer_company_link(customer=customer, company=globex)

    customer_company_verify(link=at_acme)

    at_globex.refresh_from_db()
    assert not at_globex.verified and at_globex.customer_since is None
