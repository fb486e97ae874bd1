"""The "New lead" modal of ``/lead new``: opening it, reading what was submitted, creating the lead.

Each input block's ``block_id`` is the lead's field name, so a ``ValidationError`` from
``lead_create`` lands under the input it is about (``response_action="errors"``). The modal
carries the command's ``response_url`` in ``private_metadata``, so that the new lead's card is
answered where ``/lead new`` was run (a DM from the bot otherwise), as ``/deal new`` does (what
the forms of ``/deal`` and ``/lead`` share is in ``record_modals``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from slack_bolt import App

from hub.bots import lead_messages as msg
from hub.bots import record_messages as common
from hub.bots import record_modals as forms
from hub.bots.record_cards import plain
from hub.bots.record_commands import Asker
from hub.domain.authentication.models import User
from hub.domain.crm.models import Lead, LeadSource
from hub.domain.crm.services import lead_create
from hub.integrations.slack.models import SlackInstallation
from hub.workers.slack_leads import slack_lead_created

CALLBACK_ID = "lead_new"
TEXT_FIELDS = ("first_name", "last_name", "email", "phone", "company_name", "job_title")
#: The form's inputs in order; an error about any other field is shown under the first.
BLOCKS = (*TEXT_FIELDS, "lead_source", "estimated_value", "assigned_to")
_LABELS = {
    "first_name": "First name",
    "last_name": "Last name",
    "email": "E-mail",
    "phone": "Phone",
    "company_name": "Company",
    "job_title": "Job title",
    "lead_source": "Source",
    "estimated_value": "Estimated value",
    "assigned_to": "Assigned to",
}
_OPTIONAL = {"phone", "company_name", "job_title", "estimated_value", "assigned_to"}


@dataclass
class NewLeadForm:
    """A submitted form: the lead's fields, its assignee's Slack id, and what to correct."""

    fields: dict[str, Any] = field(default_factory=dict)
    assignee_slack_id: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def _element(name: str, slack_user_id: str) -> dict[str, Any]:
    if name == "email":
        return {"type": "email_text_input"}
    if name == "lead_source":
        options = [{"text": plain(label), "value": value} for value, label in LeadSource.choices]
        return {
            "type": "static_select",
            "placeholder": plain("Where they came from"),
            "options": options,
        }
    if name == "estimated_value":
        return {"type": "number_input", "is_decimal_allowed": True, "min_value": "0"}
    if name == "assigned_to":
        return (
            {"type": "users_select", "initial_user": slack_user_id}
            if slack_user_id
            else {"type": "users_select"}
        )
    length = getattr(Lead._meta.get_field(name), "max_length", None) or 255
    return {"type": "plain_text_input", "max_length": length}


def new_lead_view(*, slack_user_id: str = "", response_url: str = "") -> dict[str, Any]:
    """The "New lead" form, assigned to whoever opens it unless they pick someone else."""
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": plain(msg.NEW_TITLE, 24),
        "submit": plain(msg.NEW_SUBMIT, 24),
        "close": plain("Cancel", 24),
        "private_metadata": forms.metadata_dump(response_url=response_url),
        "blocks": [
            {
                "type": "input",
                "block_id": name,
                "optional": name in _OPTIONAL,
                "label": plain(_LABELS[name]),
                "element": {"action_id": forms.VALUE, **_element(name, slack_user_id)},
            }
            for name in BLOCKS
        ],
    }


def new_form_open(asker: Asker, user: User) -> str | None:
    """Open the "New lead" form for a member who may change leads; None when it opened, else
    why not."""
    view = new_lead_view(slack_user_id=asker.slack_user_id, response_url=asker.response_url)
    return forms.form_open(asker.installation, asker.trigger_id, view, command="/lead new")


def new_lead_read(values: dict[str, Any]) -> NewLeadForm:
    """Read a submitted form; what cannot be read at all is in ``errors`` by block id."""
    form = NewLeadForm()
    for name in TEXT_FIELDS:
        text = forms.text_of(values, name)
        if text:
            form.fields[name] = text
        elif name not in _OPTIONAL:
            form.errors[name] = common.REQUIRED
    option = forms.state(values, "lead_source").get("selected_option")
    source = forms.clean(option.get("value") if isinstance(option, dict) else None)
    if source:
        form.fields["lead_source"] = source
    else:
        form.errors["lead_source"] = msg.PICK_SOURCE
    raw = forms.text_of(values, "estimated_value")
    value = forms.amount(raw) if raw else None
    if isinstance(value, str):
        form.errors["estimated_value"] = value
    elif value is not None:
        form.fields["estimated_value"] = value
    form.assignee_slack_id = forms.clean(forms.state(values, "assigned_to").get("selected_user"))
    return form


def lead_errors(exc: ValidationError) -> dict[str, str]:
    """``lead_create``'s ValidationError as the form's errors, each under its block."""
    return forms.errors_by_block(exc, lambda name: name if name in BLOCKS else BLOCKS[0])


def new_lead_submit(
    *, installation: SlackInstallation, user: User, values: dict[str, Any]
) -> tuple[Lead | None, dict[str, str]]:
    """Create the lead the form describes (``user`` may change leads: the listener checked), or
    say what to correct (errors by block)."""
    form = new_lead_read(values)
    assignee = forms.assignee_read(installation, form.assignee_slack_id, form.errors, "assigned_to")
    if form.errors:
        return None, form.errors
    try:
        lead = lead_create(
            company=installation.company, created_by=user, assigned_to=assignee, **form.fields
        )
    except ValidationError as exc:
        return None, lead_errors(exc)
    return lead, {}


def register(app: App, *, installation_key: str) -> None:
    """Listen to the "New lead" form's submissions."""
    forms.register_submissions(
        app,
        {CALLBACK_ID: forms.new_submitted(new_lead_submit, slack_lead_created, kind="lead")},
        installation_key=installation_key,
        command="/lead new",
        first_block=BLOCKS[0],
    )
