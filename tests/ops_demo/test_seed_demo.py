"""``manage.py seed_demo``: believable tenants via the services, idempotent, working logins."""

from __future__ import annotations

import re

import pytest
from django.core.management import CommandError

from hub.domain.authentication.models import Company, CompanyUser, Role, User
from hub.domain.calls.models import Call, CallDirection, PhoneNumber, VoicemailMessage
from hub.domain.crm.models import Deal, Lead, LeadStatus
from hub.domain.emails.crypto import credential_decrypt
from hub.domain.emails.models import Email, EmailAccount, EmailTemplate, EmailThread
from hub.domain.emails.services import email_template_render
from hub.domain.events.models import Event
from hub.domain.notifications.models import Notification
from hub.ops.demo.data import DEMO_COMPANY_NAMES, MAILBOX_PASSWORD
from hub.ops.demo.seed import demo_counts
from tests.ops_demo.conftest import seed

pytestmark = pytest.mark.django_db


def login_of(output: str, email: str) -> str:
    match = re.search(rf"login {re.escape(email)} / (\S+)", output)
    assert match, output
    return match.group(1)


def table_sizes() -> dict[str, int]:
    models = (User, Company, CompanyUser, Lead, Deal, PhoneNumber, Call, VoicemailMessage)
    models += (EmailAccount, EmailThread, Email, EmailTemplate, Notification, Event)
    return {model.__name__: model.objects.count() for model in models}


def test_seeds_two_believable_tenants():
    output = seed()

    assert "Demo data created" in output
    companies = list(Company.objects.filter(company_name__in=DEMO_COMPANY_NAMES))
    assert sorted(c.industry for c in companies) == ["healthcare", "technology"]
    for company in companies:
        roles = set(company.members.values_list("role", flat=True))
        assert roles == set(Role.values)
        assert company.members.count() >= 4
        assert company.pipelines.filter(is_default=True).count() == 1

        leads = Lead.objects.filter(company=company)
        assert 8 <= leads.count() <= 12
        assert set(leads.values_list("status", flat=True)) == set(LeadStatus.values)
        converted = leads.get(status=LeadStatus.CONVERTED)
        assert converted.converted_to_deal.company_id == company.id

        deals = Deal.objects.filter(company=company).select_related("stage__pipeline")
        assert 10 <= deals.count() <= 15
        assert len({d.stage_id for d in deals}) >= 3
        assert {"open", "won", "lost"} <= set(deals.values_list("status", flat=True))
        assert all(
            d.stage.pipeline.company_id == company.id == d.pipeline.company_id for d in deals
        )
        assert all(d.probability == d.stage.probability for d in deals)

        calls = Call.objects.filter(company=company)
        assert len(set(calls.values_list("status", flat=True))) >= 4
        assert set(calls.values_list("direction", flat=True)) == set(CallDirection.values)
        assert all(re.fullmatch(r"CA[0-9a-f]{32}", c.twilio_call_sid) for c in calls)
        completed = calls.filter(status="Completed")
        assert completed and all(c.duration and c.end_time > c.start_time for c in completed)
        assert VoicemailMessage.objects.filter(company=company).count() == 1

        numbers = PhoneNumber.objects.filter(company=company)
        assert numbers.count() == company.members.count()
        assert all(re.fullmatch(r"\+1\d{3}5550[01]\d\d", n.phone_number) for n in numbers)
        assert all(re.fullmatch(r"PN[0-9a-f]{32}", n.twilio_phone_sid) for n in numbers)

        accounts = EmailAccount.objects.filter(company=company)
        assert accounts.count() >= 1
        for account in accounts:
            assert account.password != MAILBOX_PASSWORD
            assert credential_decrypt(account.password) == MAILBOX_PASSWORD
            assert not account.sync_enabled  # its servers are made up
        threads = EmailThread.objects.filter(company=company)
        assert threads.count() >= 2
        for thread in threads:
            assert thread.emails.count() == thread.message_count >= 2
            assert {e.email_account.company_id for e in thread.emails.all()} == {company.id}
        directions = set(
            Email.objects.filter(email_account__company=company).values_list("direction", flat=True)
        )
        assert directions == {"inbound", "outbound"}

        for membership in company.members.all():
            assert Notification.objects.filter(user_id=membership.user_id).count() >= 2

    for email in User.objects.values_list("email", flat=True):
        assert email.rpartition("@")[2].endswith(("example.com", "example.org", "example.net"))


def test_template_uses_the_documented_variables():
    seed()
    template = EmailTemplate.objects.get(
        company__company_name="Northwind Traders", name="Proposal follow-up"
    )
    deal = Deal.objects.filter(company=template.company).first()
    context = {  # the documented variables (SCHEMA.md) plus a custom one
        "company_name": template.company.company_name,
        "user_name": template.created_by.get_full_name(),
        "deal_title": deal.title,
        "customer_name": deal.contact_name,
        "meeting_date": "Tuesday",
    }
    rendered = email_template_render(template=template, context=context)
    assert deal.title in rendered["subject"]
    assert "{{" not in rendered["body_text"] + rendered["body_html"]
    assert "Northwind Traders" in rendered["body_text"]


def test_admin_and_company_logins_work(client):
    output = seed()
    admin_password = login_of(output, "admin@example.com")
    admin = User.objects.get(email="admin@example.com")
    assert admin.is_staff and admin.is_superuser

    assert client.login(email="admin@example.com", password=admin_password)
    assert client.get("/admin/").status_code == 200

    ceo = CompanyUser.objects.get(company__company_name="Northwind Traders", role=Role.CEO).user
    assert ceo.is_staff and not ceo.is_superuser
    client.logout()
    assert client.login(email=ceo.email, password=login_of(output, ceo.email))
    assert client.get("/admin/").status_code == 200
    globex_ceo = CompanyUser.objects.get(company__company_name="Globex Health", role=Role.CEO).user
    assert not globex_ceo.is_staff


def test_running_twice_creates_nothing_more():
    first = seed()
    sizes = table_sizes()

    second = seed()

    assert "already present" in second
    assert table_sizes() == sizes
    assert login_of(second, "admin@example.com") == login_of(first, "admin@example.com")


def test_reset_recreates_the_same_demo():
    seed()
    sizes = table_sizes()
    old_ids = set(Company.objects.values_list("id", flat=True))

    output = seed("--reset")

    assert "Deleted 2 demo companies" in output
    assert "Demo data created" in output
    new_companies = Company.objects.filter(company_name__in=DEMO_COMPANY_NAMES)
    assert not old_ids & {c.id for c in new_companies}
    assert demo_counts(new_companies)["deals"] == sizes["Deal"]
    assert {k: v for k, v in table_sizes().items() if k != "Event"} == {
        k: v for k, v in sizes.items() if k != "Event"
    }


def test_an_existing_admin_is_left_alone():
    User.objects.create_superuser("admin@example.com", "someone-elses-password")
    output = seed()
    assert "already existed" in output
    assert "admin@example.com / (not the demo password)" in output
    assert User.objects.get(email="admin@example.com").check_password("someone-elses-password")


def test_half_a_demo_asks_for_reset():
    seed()
    Company.objects.get(company_name="Globex Health").delete()
    with pytest.raises(CommandError, match="--reset"):
        seed()
    seed("--reset")
    assert Company.objects.filter(company_name__in=DEMO_COMPANY_NAMES).count() == 2


def test_refuses_without_debug(demo_settings):
    demo_settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        seed()
    assert not Company.objects.exists()
    assert "Demo data created" in seed("--allow-without-debug")


def test_refuses_without_an_encryption_key(demo_settings):
    demo_settings.EMAIL_ENCRYPTION_KEYS = []
    with pytest.raises(CommandError, match="EMAIL_ENCRYPTION_KEY"):
        seed()
    assert not User.objects.exists()
