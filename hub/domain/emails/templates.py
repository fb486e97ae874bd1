"""E-mail templates: ``{{variable}}`` placeholders filled from a context.

The documented variables are ``{{customer_name}}``, ``{{company_name}}``, ``{{deal_title}}`` and
``{{user_name}}``; any other key of the context fills a custom placeholder of the same name.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.html import escape

from hub.domain.emails.models import Email, EmailAccount, EmailTemplate, EmailThread

STANDARD_VARIABLES = ("customer_name", "company_name", "deal_title", "user_name")
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def email_template_render(*, template: EmailTemplate, context: dict[str, Any]) -> dict[str, str]:
    """Fill ``{{variable}}`` placeholders; unknown variables are left as they are.

    Values are written once (a value holding ``{{…}}`` is not filled again) and escaped in
    the HTML body, so a customer's name cannot add markup to the message.
    """

    def fill(text: str, *, html: bool = False) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in context:
                return match.group(0)
            return escape(str(context[name])) if html else str(context[name])

        return _VARIABLE.sub(value, text or "")

    return {
        "subject": fill(template.subject),
        "body_html": fill(template.body_html, html=True),
        "body_text": fill(template.body_text),
    }


def template_variables_missing(rendered: dict[str, str]) -> list[str]:
    """The placeholders a rendering left unfilled, in order of first appearance."""
    found = _VARIABLE.findall(" ".join(rendered.values()))
    return list(dict.fromkeys(found))


def email_template_context(
    *,
    account: EmailAccount,
    thread: EmailThread | None = None,
    reply_to: Email | None = None,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The values a template is filled with: ``context`` first, then what the hub knows.

    ``company_name`` and ``user_name`` come from the account (its company, its owner);
    ``deal_title`` and ``customer_name`` from the thread's deal, customer or lead, and
    ``customer_name`` else from the sender of the e-mail replied to.
    """
    values: dict[str, Any] = {
        "company_name": account.company.company_name,
        "user_name": account.user.get_full_name(),
    }
    if thread is not None:
        values.update(_thread_values(thread))
    if "customer_name" not in values and reply_to is not None and reply_to.from_name:
        values["customer_name"] = reply_to.from_name
    return values | dict(context or {})


def _thread_values(thread: EmailThread) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if thread.deal_id is not None and thread.deal is not None:
        values["deal_title"] = thread.deal.title
    customer_name = ""
    if thread.customer_id is not None and thread.customer is not None:
        customer_name = thread.customer.user.get_full_name()
    elif thread.lead_id is not None and thread.lead is not None:
        customer_name = f"{thread.lead.first_name} {thread.lead.last_name}".strip()
    elif thread.deal_id is not None and thread.deal is not None:
        customer_name = thread.deal.contact_name
    if customer_name:
        values["customer_name"] = customer_name
    return values
