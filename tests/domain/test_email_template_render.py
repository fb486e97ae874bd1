from __future__ import annotations

from decimal import Decimal

import pytest

from hub.domain.emails.models import EmailTemplate
from hub.domain.emails.services import email_template_render


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
