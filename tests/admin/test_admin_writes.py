"""Admin writes go through the domain services: their rules and events hold from the console too."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from hub.domain.authentication.models import (
    Company,
    CompanyUser,
    CustomerCompany,
    User,
    UserInvitation,
)
from hub.domain.calls.models import Call, PhoneNumber
from hub.domain.crm.models import Deal, DealStatus, Lead, LeadStatus
from hub.domain.customers.models import Order, OrderItem
from hub.domain.emails.models import Email, EmailThread
from hub.domain.notifications.models import Notification
from tests import factories
from tests.admin.helpers import admin_url, changeform_data
from tests.eventlog import logged_events

pytestmark = pytest.mark.django_db


def add_form(client, model, **values):
    return changeform_data(client.get(admin_url(model, "add"))) | values


def change_form(client, row, **values):
    return changeform_data(client.get(admin_url(type(row), "change", row.pk))) | values


def assert_saved(response):
    assert response.status_code == 302, response.context["adminform"].form.errors


def test_user_add_creates_the_user_like_the_service(superuser_client):
    data = {
        "email": "New.Person@Example.test",
        "first_name": "New",
        "last_name": "Person",
        "account_type": "company",
        "password1": "long-enough-1",
        "password2": "long-enough-1",
    }
    assert_saved(superuser_client.post(admin_url(User, "add"), data))

    user = User.objects.get(email="new.person@example.test")
    assert user.username == "new.person"
    assert user.check_password("long-enough-1")
    assert not user.is_staff


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"password1": "short", "password2": "short"}, "password1"),
        ({"password2": "something-else"}, "password2"),
        ({"email": "ALICE@example.test"}, "email"),
    ],
)
def test_user_add_refuses_what_the_service_refuses(superuser_client, changes, field):
    factories.UserFactory(email="alice@example.test")
    data = {
        "email": "someone@example.test",
        "account_type": "company",
        "password1": "long-enough-1",
        "password2": "long-enough-1",
    } | changes
    response = superuser_client.post(admin_url(User, "add"), data)
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not User.objects.filter(email="someone@example.test").exists()


def test_user_change_links_to_the_password_form(superuser_client, alice):
    response = superuser_client.get(admin_url(User, "change", alice.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="../password/"' in html
    assert alice.password not in html

    url = f"/admin/authentication/user/{alice.pk}/password/"
    assert superuser_client.get(url).status_code == 200
    response = superuser_client.post(
        url,
        {"password1": "brand-new-pass", "password2": "brand-new-pass", "usable_password": "true"},
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("brand-new-pass")


def test_company_add_gives_the_creator_a_membership_and_the_default_pipeline(
    superuser_client, superuser
):
    data = add_form(superuser_client, Company, company_name="Initech", industry="technology")
    assert data["created_by"] == str(superuser.pk)
    assert_saved(superuser_client.post(admin_url(Company, "add"), data))

    company = Company.objects.get(company_name="Initech")
    assert company.members.get().role == "ceo"
    pipeline = company.pipelines.get(is_default=True)
    assert pipeline.name == "Sales Pipeline"
    assert pipeline.stages.count() == 6


def test_membership_add_applies_the_role_defaults(superuser_client, superuser, acme):
    newcomer = factories.UserFactory()
    data = add_form(
        superuser_client, CompanyUser, user=newcomer.pk, company=acme.pk, role="support_staff"
    )
    assert_saved(superuser_client.post(admin_url(CompanyUser, "add"), data))

    membership = CompanyUser.objects.get(user=newcomer, company=acme)
    assert membership.can_manage_customers and not membership.can_manage_deals
    assert membership.invited_by == superuser

    # A new role brings its defaults; a flag ticked in the same form wins.
    data = change_form(superuser_client, membership, role="sales_manager", can_invite_users="on")
    assert_saved(superuser_client.post(admin_url(CompanyUser, "change", membership.pk), data))
    membership.refresh_from_db()
    assert membership.role == "sales_manager"
    assert membership.can_manage_deals and membership.can_view_reports
    assert membership.can_invite_users


def test_membership_add_refuses_a_second_membership(superuser_client, acme, alice):
    data = add_form(superuser_client, CompanyUser, user=alice.pk, company=acme.pk, role="manager")
    response = superuser_client.post(admin_url(CompanyUser, "add"), data)
    assert response.status_code == 200
    assert CompanyUser.objects.filter(user=alice, company=acme).count() == 1


def test_invitation_add_uses_the_service(superuser_client, superuser, acme):
    data = add_form(
        superuser_client, UserInvitation, company=acme.pk, email="Join@Acme.test", role="manager"
    )
    assert_saved(superuser_client.post(admin_url(UserInvitation, "add"), data))

    invitation = UserInvitation.objects.get(company=acme)
    assert invitation.email == "join@acme.test"
    assert invitation.invited_by == superuser
    assert len(invitation.invitation_token) == 36
    expected = timezone.now() + timedelta(days=7)
    assert abs(invitation.expires_at - expected) < timedelta(minutes=1)


def test_customer_link_verified_sets_customer_since(superuser_client, acme_rows):
    link = CustomerCompany.objects.get(customer=acme_rows["customer"])
    link.verified, link.verified_at, link.customer_since = False, None, None
    link.save()

    data = change_form(superuser_client, link, verified="on")
    assert_saved(superuser_client.post(admin_url(CustomerCompany, "change", link.pk), data))
    link.refresh_from_db()
    assert link.verified and link.verified_at and link.customer_since


def test_deal_stage_and_status_changes_go_through_the_services(bob_client, acme_rows):
    deal = acme_rows["deal"]
    proposal = deal.pipeline.stages.get(name="Proposal")
    data = change_form(bob_client, deal, stage=proposal.pk, title="Bigger deal", probability="99")
    assert_saved(bob_client.post(admin_url(Deal, "change", deal.pk), data))
    deal.refresh_from_db()
    assert (deal.stage, deal.probability, deal.title) == (proposal, 50, "Bigger deal")

    data = change_form(bob_client, deal, status="won")
    assert_saved(bob_client.post(admin_url(Deal, "change", deal.pk), data))
    deal.refresh_from_db()
    assert deal.status == DealStatus.WON
    assert deal.won_at is not None
    assert deal.probability == 100
    assert deal.stage.name == "Closed Won"
    assert logged_events().filter(topic="deals", type="deal.updated", payload__id=deal.pk).exists()


def test_deal_add_checks_stage_and_pipeline(bob_client, staff_bob, acme, acme_rows):
    other = factories.CompanyFactory(company_name="Initech")
    factories.CompanyUserFactory(company=other, user=staff_bob, role="manager")
    other_stage = other.pipelines.get().stages.first()
    pipeline = acme.pipelines.get()
    values = {
        "company": acme.pk,
        "pipeline": pipeline.pk,
        "title": "Console deal",
        "value": "2500.00",
        "contact_name": "Pat",
        "contact_email": "pat@client.test",
        "company_name": "Client Ltd",
    }
    response = bob_client.post(
        admin_url(Deal, "add"), add_form(bob_client, Deal, stage=other_stage.pk, **values)
    )
    assert response.status_code == 200
    assert "stage" in response.context["adminform"].form.errors

    stage = pipeline.stages.get(name="Qualification")
    assert_saved(
        bob_client.post(
            admin_url(Deal, "add"), add_form(bob_client, Deal, stage=stage.pk, **values)
        )
    )
    deal = Deal.objects.get(title="Console deal")
    assert (deal.probability, deal.created_by) == (25, staff_bob)


def test_lead_conversion_is_an_action_not_a_status(bob_client, acme_rows):
    lead = acme_rows["lead"]
    data = change_form(bob_client, lead, status="converted")
    response = bob_client.post(admin_url(Lead, "change", lead.pk), data)
    assert response.status_code == 200
    assert "status" in response.context["adminform"].form.errors

    response = bob_client.post(
        admin_url(Lead, "changelist"), {"action": "convert_to_deal", "_selected_action": [lead.pk]}
    )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CONVERTED
    assert lead.converted_to_deal.company_id == lead.company_id


def test_order_item_totals_follow_the_rule(bob_client, acme_rows):
    order = acme_rows["order"]
    data = add_form(
        bob_client,
        OrderItem,
        order=order.pk,
        product_name="Gadget",
        quantity="3",
        unit_price="5.00",
        discount="1.00",
        tax="0.50",
    )
    assert_saved(bob_client.post(admin_url(OrderItem, "add"), data))
    item = OrderItem.objects.get(product_name="Gadget")
    assert item.total_price == Decimal("14.50")
    order.refresh_from_db()
    assert order.total_amount == Decimal("34.50")  # the fixture's 20.00 item plus this one

    data = change_form(bob_client, item, quantity="1")
    assert_saved(bob_client.post(admin_url(OrderItem, "change", item.pk), data))
    order.refresh_from_db()
    assert order.total_amount == Decimal("24.50")


def test_call_status_change_is_pushed(bob_client, acme_rows):
    call = acme_rows["call"]
    data = change_form(bob_client, call, status="InProgress")
    assert_saved(bob_client.post(admin_url(Call, "change", call.pk), data))
    call.refresh_from_db()
    assert call.status == "InProgress"
    assert logged_events().filter(topic="calls", type="call.updated", payload__id=call.pk).exists()


def test_notification_add_is_pushed_to_its_user(superuser_client, alice):
    data = add_form(
        superuser_client, Notification, user=alice.pk, title="Console says hi", message="Hello"
    )
    assert_saved(superuser_client.post(admin_url(Notification, "add"), data))
    notification = Notification.objects.get(title="Console says hi")
    assert notification.user == alice
    assert logged_events().filter(type="notification.created", user_id=alice.pk).exists()


def test_phone_number_add_normalizes_the_number(bob_client, staff_bob, acme):
    data = add_form(
        bob_client,
        PhoneNumber,
        company=acme.pk,
        user=staff_bob.pk,
        phone_number="(415) 555-0142",
        number_type="VoIP",
        twilio_phone_sid="PN" + "1" * 32,
    )
    assert_saved(bob_client.post(admin_url(PhoneNumber, "add"), data))
    number = PhoneNumber.objects.get(twilio_phone_sid="PN" + "1" * 32)
    assert (number.phone_number, number.country_code) == ("+14155550142", "US")

    data["phone_number"] = "not a number"
    response = bob_client.post(admin_url(PhoneNumber, "add"), data)
    assert "phone_number" in response.context["adminform"].form.errors


def test_lead_and_call_adds_are_pushed(bob_client, staff_bob, acme):
    data = add_form(
        bob_client,
        Lead,
        company=acme.pk,
        first_name="Ada",
        last_name="Prospect",
        email="ada@prospect.test",
        lead_source="referral",
        assigned_to=staff_bob.pk,
    )
    assert_saved(bob_client.post(admin_url(Lead, "add"), data))
    lead = Lead.objects.get(email="ada@prospect.test")
    assert lead.created_by == staff_bob
    assert logged_events().filter(type="lead.created", payload__id=lead.pk).exists()

    data = add_form(
        bob_client,
        Call,
        company=acme.pk,
        direction="Outbound",
        from_number="+14155550100",
        to_number="+14155550111",
        twilio_call_sid="CA" + "7" * 32,
        status="Ringing",
        lead=lead.pk,
    )
    assert_saved(bob_client.post(admin_url(Call, "add"), data))
    call = Call.objects.get(twilio_call_sid="CA" + "7" * 32)
    assert logged_events().filter(type="call.created", payload__id=call.pk).exists()


def test_thread_and_email_adds_use_the_account_company(bob_client, acme, acme_rows):
    account, lead = acme_rows["account"], acme_rows["lead"]
    data = add_form(
        bob_client,
        EmailThread,
        email_account=account.pk,
        subject="Quote follow-up",
        participants='["pat@client.test"]',
        last_message_at_0="2025-01-02",
        last_message_at_1="10:00:00",
        lead=lead.pk,
        category="lead",
    )
    assert_saved(bob_client.post(admin_url(EmailThread, "add"), data))
    thread = EmailThread.objects.get(subject="Quote follow-up")
    assert (thread.company, thread.participants) == (acme, ["pat@client.test"])

    data = add_form(
        bob_client,
        Email,
        email_account=account.pk,
        thread=thread.pk,
        message_id="<console-1@acme.test>",
        from_email="sales@acme.test",
        subject="Your quote",
        body_text="Attached.",
        direction="outbound",
        to_emails='["pat@client.test"]',
    )
    assert_saved(bob_client.post(admin_url(Email, "add"), data))
    email = Email.objects.get(message_id="<console-1@acme.test>")
    thread.refresh_from_db()
    assert thread.message_count == 1
    assert logged_events().filter(type="email.created", payload__id=email.pk).exists()


def test_thread_add_refuses_a_lead_of_another_company(superuser_client, acme_rows, globex_rows):
    data = add_form(
        superuser_client,
        EmailThread,
        email_account=acme_rows["account"].pk,
        subject="Mixed up",
        last_message_at_0="2025-01-02",
        last_message_at_1="10:00:00",
        lead=globex_rows["lead"].pk,
    )
    response = superuser_client.post(admin_url(EmailThread, "add"), data)
    assert response.status_code == 200
    assert "lead" in response.context["adminform"].form.errors


def test_order_add_starts_at_zero(bob_client, acme, acme_rows):
    data = add_form(
        bob_client,
        Order,
        company=acme.pk,
        customer=acme_rows["customer"].pk,
        order_number="ACME-0099",
        title="Console order",
        shipping_address="2 Side Street",
        billing_address="2 Side Street",
    )
    assert_saved(bob_client.post(admin_url(Order, "add"), data))
    order = Order.objects.get(order_number="ACME-0099")
    assert order.total_amount == Decimal("0.00")
