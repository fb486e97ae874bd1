"""Template replies: every documented variable filled, from the context or what the hub knows,
escaped in HTML; a template that would go out with a hole in it is refused."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from hub.domain.emails.delivery import email_deliver
from hub.domain.emails.models import Email, EmailTemplate
from hub.domain.emails.sending import email_send_queue
from hub.domain.emails.services import email_store, email_thread_create
from hub.domain.emails.templates import email_template_context, email_template_render
from tests import factories
from tests.mail.send_fixtures import template_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def named_alice(alice):
    alice.first_name, alice.last_name = "Alice", "Smith"
    alice.save()
    return alice


@pytest.fixture
def inbound(imap_account, acme):
    """Pat's e-mail in a thread linked to the Rocket skates deal."""
    deal = factories.DealFactory(company=acme, title="Rocket skates", contact_name="Pat Contact")
    thread = email_thread_create(account=imap_account, subject="Skates?", deal=deal)
    return email_store(
        account=imap_account,
        thread=thread,
        message_id="<ask@client.test>",
        from_email="pat@client.test",
        from_name="Pat from Client",
        to_emails=[imap_account.email],
        subject="Skates?",
        body_text="Do you sell rocket skates?",
        direction="inbound",
        status="delivered",
    )


def test_a_template_reply_is_sent_with_every_variable_filled(
    imap_account, smtp_server, named_alice, inbound
):
    template = template_for(
        imap_account,
        body_text="Hi {{customer_name}}, {{user_name}} at {{company_name}} about "
        "{{deal_title}}. Code {{ promo_code }}.",
    )

    email = email_send_queue(
        account=imap_account,
        to=[inbound.from_email],
        subject="",
        template=template,
        context={"promo_code": "BEEP10"},
        reply_to=inbound,
    )
    email_deliver(email_id=email.id)

    message = smtp_server.wait_for(1)[0].message
    assert message["Subject"] == "Rocket skates for Pat Contact"
    assert message["In-Reply-To"] == "<ask@client.test>"
    text = message.get_body(("plain",)).get_content().strip()
    assert text == "Hi Pat Contact, Alice Smith at Acme about Rocket skates. Code BEEP10."
    html = message.get_body(("html",)).get_content()
    assert "<p>Hi Pat Contact,</p><p>Alice Smith at Acme.</p>" in html
    assert email.thread == inbound.thread
    template.refresh_from_db()
    assert template.usage_count == 1


def test_the_context_wins_over_what_the_hub_knows(imap_account, named_alice, inbound):
    template = template_for(imap_account)

    email = email_send_queue(
        account=imap_account,
        to=[inbound.from_email],
        subject="",
        template=template,
        context={"customer_name": "Dr. Pat", "company_name": "Acme Rockets"},
        reply_to=inbound,
    )

    assert email.subject == "Rocket skates for Dr. Pat"
    assert email.body_text == "Hi Dr. Pat, Alice Smith at Acme Rockets about Rocket skates."


def test_the_customer_name_falls_back_to_the_sender_replied_to(imap_account, named_alice):
    parent = email_store(
        account=imap_account,
        message_id="<hello@client.test>",
        from_email="sam@client.test",
        from_name="Sam Jones",
        to_emails=[imap_account.email],
        subject="Hello",
        body_text="Hello there",
        direction="inbound",
        status="delivered",
    )
    template = template_for(imap_account, subject="Thanks {{customer_name}}", body_html="")

    email = email_send_queue(
        account=imap_account,
        to=["sam@client.test"],
        subject="",
        template=template,
        context={"deal_title": "-"},
        reply_to=parent,
    )

    assert email.subject == "Thanks Sam Jones"
    assert email.body_html == ""


def test_values_are_escaped_in_html_and_kept_as_they_are_in_text(imap_account, named_alice):
    template = template_for(imap_account)

    email = email_send_queue(
        account=imap_account,
        to=["ann@client.test"],
        subject="",
        template=template,
        context={"customer_name": "<b>Tom & Jerry</b>", "deal_title": "Skates"},
    )

    assert "<p>Hi &lt;b&gt;Tom &amp; Jerry&lt;/b&gt;,</p>" in email.body_html
    assert email.body_text.startswith("Hi <b>Tom & Jerry</b>,")
    assert email.subject == "Skates for <b>Tom & Jerry</b>"


def test_a_template_that_would_leave_a_hole_is_refused(imap_account, named_alice):
    template = template_for(imap_account, body_text="Your code: {{promo_code}}")

    with pytest.raises(ValidationError) as refused:
        email_send_queue(
            account=imap_account, to=["ann@client.test"], subject="", template=template
        )

    assert "“Follow-up” needs a value for {{deal_title}}, {{customer_name}}, {{promo_code}}" in str(
        refused.value
    )
    assert not Email.objects.exists()
    template.refresh_from_db()
    assert template.usage_count == 0


def test_an_explicit_subject_wins_over_the_templates(imap_account):
    template = template_for(imap_account)

    email = email_send_queue(
        account=imap_account,
        to=["ann@client.test"],
        subject="Our call",
        template=template,
        context={"customer_name": "Ann", "deal_title": "Skates"},
    )

    assert email.subject == "Our call"
    assert email.body_html.startswith("<p>Hi Ann,</p>")


def test_another_companys_or_an_inactive_template_is_refused(imap_account, globex, charlie):
    theirs = EmailTemplate.objects.create(
        company=globex,
        created_by=charlie,
        name="Theirs",
        category="general",
        subject="Hi",
        body_html="<p>Hi</p>",
    )
    inactive = template_for(imap_account, name="Old", is_active=False)

    with pytest.raises(ValidationError, match="belongs to another company"):
        email_send_queue(account=imap_account, to=["a@b.test"], subject="", template=theirs)
    with pytest.raises(ValidationError, match="“Old” is not active"):
        email_send_queue(account=imap_account, to=["a@b.test"], subject="", template=inactive)
    assert not Email.objects.exists()
    theirs.refresh_from_db()
    assert theirs.usage_count == 0


def test_each_use_counts(imap_account):
    template = template_for(imap_account)
    context = {"customer_name": "Ann", "deal_title": "Skates"}

    for _ in range(3):
        email_send_queue(
            account=imap_account, to=["a@b.test"], subject="", template=template, context=context
        )

    template.refresh_from_db()
    assert template.usage_count == 3


def test_the_context_from_a_thread_of_a_lead_or_customer(imap_account, acme, named_alice):
    lead = factories.LeadFactory(company=acme, first_name="Lee", last_name="Park")
    customer = factories.CustomerFactory(user__first_name="Cy", user__last_name="Moss")
    factories.CustomerCompanyFactory(customer=customer, company=acme)
    by_lead = email_thread_create(account=imap_account, subject="a", lead=lead)
    by_customer = email_thread_create(account=imap_account, subject="b", customer=customer)

    assert email_template_context(account=imap_account, thread=by_lead) == {
        "company_name": "Acme",
        "user_name": "Alice Smith",
        "customer_name": "Lee Park",
    }
    assert email_template_context(account=imap_account, thread=by_customer)["customer_name"] == (
        "Cy Moss"
    )


def test_render_keeps_unknown_variables_and_fills_values_once(imap_account):
    template = EmailTemplate(subject="{{a}} {{ b }} {{c}}", body_html="<i>{{a}}</i>", body_text="")

    rendered = email_template_render(template=template, context={"a": "{{b}}", "b": 2})

    assert rendered == {"subject": "{{b}} 2 {{c}}", "body_html": "<i>{{b}}</i>", "body_text": ""}


def test_a_template_to_a_deals_contact_is_filled_from_the_linked_deal(
    imap_account, acme, named_alice
):
    factories.DealFactory(
        company=acme,
        title="Rocket skates",
        contact_name="Pat Contact",
        contact_email="pat@client.test",
    )

    email = email_send_queue(
        account=imap_account,
        to=["Pat@Client.test"],
        subject="",
        template=template_for(imap_account),
    )

    assert email.thread.deal.title == "Rocket skates"
    assert email.subject == "Rocket skates for Pat Contact"
    assert email.thread.subject == "Rocket skates for Pat Contact"
