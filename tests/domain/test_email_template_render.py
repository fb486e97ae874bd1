from __future__ import annotations

from decimal import Decimal

import pytest

from hub.domain.crm.services import deal_create
from hub.domain.emails.models import EmailTemplate
from hub.domain.emails.services import (
    email_template_context,
    email_template_render,
    email_template_use,
)


@pytest.fixture
def template(acme, alice):
    return EmailTemplate.objects.create(
        company=acme,
        created_by=alice,
        name="Follow-up",
        category="deal",
        subject="{{deal_title}} for {{customer_name}}",
        body_html="<p>Hi {{customer_name}},</p><p>{{user_name}} at {{company_name}}. Code: {{ promo_code }}</p>",
        body_text="Hi {{ customer_name }}, see {{unknown_thing}} and {{ deal_title}}.",
    )


CONTEXT = {
    "customer_name": "Wile E. Coyote",
    "company_name": "Acme",
    "deal_title": "Rocket skates",
    "user_name": "Alice Smith",
    "promo_code": "BEEP10",
}


def test_the_standard_variables_and_a_custom_field_are_filled(template):
    rendered = email_template_render(template=template, context=CONTEXT)

    assert rendered["subject"] == "Rocket skates for Wile E. Coyote"
    assert (
        rendered["body_html"] == "<p>Hi Wile E. Coyote,</p><p>Alice Smith at Acme. Code: BEEP10</p>"
    )


def test_spaces_inside_the_braces_are_allowed_and_unknown_variables_left_intact(template):
    rendered = email_template_render(template=template, context=CONTEXT)

    assert rendered["body_text"] == "Hi Wile E. Coyote, see {{unknown_thing}} and Rocket skates."


def test_missing_variables_are_left_as_they_are(template):
    rendered = email_template_render(template=template, context={"customer_name": "Pat"})

    assert rendered["subject"] == "{{deal_title}} for Pat"
    assert "{{user_name}} at {{company_name}}" in rendered["body_html"]


def test_values_are_not_rendered_again(template):
    rendered = email_template_render(
        template=template, context={"customer_name": "{{deal_title}}", "deal_title": "X"}
    )

    assert rendered["subject"] == "X for {{deal_title}}"


def test_non_text_values_are_written_out(acme, alice):
    template = EmailTemplate(
        company=acme, created_by=alice, subject="{{amount}} / {{count}}", body_html=""
    )

    rendered = email_template_render(
        template=template, context={"amount": Decimal("12.50"), "count": 3}
    )

    assert rendered == {"subject": "12.50 / 3", "body_html": "", "body_text": ""}


def test_email_template_context_builds_the_standard_variables(acme, alice):
    alice.first_name, alice.last_name = "Alice", "Smith"
    deal = deal_create(
        company=acme,
        created_by=alice,
        title="Rocket skates",
        value=Decimal("99.00"),
        contact_name="Wile E. Coyote",
        contact_email="wile@client.test",
        company_name="Coyote Ltd",
    )

    context = email_template_context(company=acme, user=alice, deal=deal, promo_code="BEEP10")

    assert context == {
        "company_name": "Acme",
        "user_name": "Alice Smith",
        "deal_title": "Rocket skates",
        "customer_name": "Wile E. Coyote",
        "promo_code": "BEEP10",
    }


def test_an_explicit_customer_name_wins_over_the_deal_contact(acme, alice):
    deal = deal_create(
        company=acme,
        created_by=alice,
        title="T",
        value=Decimal("1"),
        contact_name="Contact Person",
        contact_email="c@client.test",
        company_name="C",
    )

    context = email_template_context(deal=deal, customer_name="Real Customer")

    assert context["customer_name"] == "Real Customer"


def test_email_template_context_leaves_out_what_it_is_not_given():
    assert email_template_context() == {}


def test_email_template_use_renders_and_counts(template):
    rendered = email_template_use(template=template, context=CONTEXT)
    email_template_use(template=template, context=CONTEXT)

    template.refresh_from_db()
    assert rendered["subject"] == "Rocket skates for Wile E. Coyote"
    assert template.usage_count == 2
