"""The "New lead" modal of ``/lead new``: opening it, reading what was submitted, creating the lead.

Each input block's ``block_id`` is the lead's field name, so a ``ValidationError`` from
``lead_create`` lands under the input it is about (``response_action="errors"``). The modal
carries the command's ``response_url`` in ``private_metadata``, so that the new lead's card is
answered where ``/lead new`` was run (a DM from the bot otherwise), as ``/deal new`` does.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from slack_bolt import Ack, App, BoltContext

from hub.bots import lead_messages as msg
from hub.domain.authentication.models import User
from hub.domain.crm.access import CrmAccessDenied, crm_manage_check
from hub.domain.crm.models import Lead, LeadSource
from hub.domain.crm.services import lead_create
from hub.integrations.slack.client import SlackError, view_open
from hub.integrations.slack.models import SlackInstallation
from hub.integrations.slack.services import SlackLinkError, slack_bot_token, slack_user_resolve
from hub.workers.slack_leads import slack_lead_created

logger = logging.getLogger(__name__)

CALLBACK_ID = "lead_new"
VALUE = "value"  # every input's action_id: its block_id names the field
#: ``views.open`` must use the ``trigger_id`` within 3 s; a submission is answered within 3 s:
#: each Slack call made before (users.info, views.open) is capped.
SLACK_TIMEOUT_SECONDS = 1.0
VALUE_MAX = Decimal("9999999999.99")  # Lead.estimated_value: 12 digits, 2 of them decimals
ERROR_MAX = 300
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


def _plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit], "emoji": True}


def clean(text: Any) -> str:
    """A submitted text without NULs or other control characters (PostgreSQL takes no NUL)."""
    if not isinstance(text, str):
        return ""
    return "".join(ch for ch in text if ch >= " " or ch in "\n\t").strip()


def metadata_load(raw: Any) -> dict[str, Any]:
    try:
        data = json.loads(raw or "{}") if isinstance(raw, str | None) else None
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _element(name: str, slack_user_id: str) -> dict[str, Any]:
    if name == "email":
        return {"type": "email_text_input"}
    if name == "lead_source":
        options = [{"text": _plain(label), "value": value} for value, label in LeadSource.choices]
        return {
            "type": "static_select",
            "placeholder": _plain("Where they came from"),
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
        "title": _plain(msg.NEW_TITLE, 24),
        "submit": _plain(msg.NEW_SUBMIT, 24),
        "close": _plain("Cancel", 24),
        "private_metadata": json.dumps({"response_url": response_url}, separators=(",", ":")),
        "blocks": [
            {
                "type": "input",
                "block_id": name,
                "optional": name in _OPTIONAL,
                "label": _plain(_LABELS[name]),
                "element": {"action_id": VALUE, **_element(name, slack_user_id)},
            }
            for name in BLOCKS
        ],
    }


def new_form_open(
    *,
    installation: SlackInstallation,
    user: User,
    slack_user_id: str,
    trigger_id: str,
    response_url: str,
) -> str | None:
    """Open the "New lead" form; None when it opened, else why not."""
    try:
        crm_manage_check(user=user, company=installation.company)
    except CrmAccessDenied as exc:
        return str(exc)
    try:
        view_open(
            token=slack_bot_token(installation),
            trigger_id=trigger_id,
            view=new_lead_view(slack_user_id=slack_user_id, response_url=response_url),
            timeout=SLACK_TIMEOUT_SECONDS,
        )
    except (SlackError, SlackLinkError) as exc:
        logger.warning("slack /lead new: could not open the form: %s", exc)
        return msg.MODAL_DOWN.format(reason=exc)
    return None


def _state(values: dict[str, Any], name: str) -> dict[str, Any]:
    block = values.get(name)
    element = block.get(VALUE) if isinstance(block, dict) else None
    return element if isinstance(element, dict) else {}


def _amount(raw: str) -> Decimal | str:
    """The amount typed, or what is wrong with it."""
    try:
        amount = Decimal(raw.replace(",", "").replace(" ", ""))
    except InvalidOperation:
        return msg.BAD_VALUE
    if not amount.is_finite() or amount < 0:
        return msg.BAD_VALUE
    amount = amount.quantize(Decimal("0.01"))
    return amount if amount <= VALUE_MAX else msg.VALUE_TOO_LARGE


def new_lead_read(values: dict[str, Any]) -> NewLeadForm:
    """Read a submitted form; what cannot be read at all is in ``errors`` by block id."""
    form = NewLeadForm()
    for name in TEXT_FIELDS:
        text = clean(_state(values, name).get("value"))
        if text:
            form.fields[name] = text
        elif name not in _OPTIONAL:
            form.errors[name] = msg.REQUIRED
    option = _state(values, "lead_source").get("selected_option")
    source = clean(option.get("value") if isinstance(option, dict) else None)
    if source:
        form.fields["lead_source"] = source
    else:
        form.errors["lead_source"] = msg.PICK_SOURCE
    raw = clean(_state(values, "estimated_value").get("value"))
    amount = _amount(raw) if raw else None
    if isinstance(amount, str):
        form.errors["estimated_value"] = amount
    elif amount is not None:
        form.fields["estimated_value"] = amount
    form.assignee_slack_id = clean(_state(values, "assigned_to").get("selected_user"))
    return form


def lead_errors(exc: ValidationError) -> dict[str, str]:
    """``lead_create``'s ValidationError as the form's errors, each under its block."""
    errors: dict[str, str] = {}
    details = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    for name, messages in details.items():
        block = name if name in BLOCKS else BLOCKS[0]
        text = " ".join(str(m) for m in messages)
        errors[block] = f"{errors[block]} {text}" if block in errors else text
    return {block: text[:ERROR_MAX] for block, text in errors.items()}


def _assignee(installation: SlackInstallation, form: NewLeadForm) -> User | None:
    try:
        return slack_user_resolve(
            installation=installation,
            slack_user_id=form.assignee_slack_id,
            timeout=SLACK_TIMEOUT_SECONDS,
        )
    except SlackLinkError as exc:
        cause = exc.__cause__
        failed = isinstance(cause, SlackError) and cause.code != "user_not_found"
        form.errors["assigned_to"] = msg.ASSIGNEE_LOOKUP if failed else msg.ASSIGNEE_UNLINKED
        return None


def new_lead_submit(
    *, installation: SlackInstallation, user: User, values: dict[str, Any]
) -> tuple[Lead | None, dict[str, str]]:
    """Create the lead the form describes, or say what to correct (errors by block)."""
    company = installation.company
    try:
        crm_manage_check(user=user, company=company)
    except CrmAccessDenied as exc:
        return None, {BLOCKS[0]: str(exc)[:ERROR_MAX]}
    form = new_lead_read(values)
    assignee = _assignee(installation, form) if form.assignee_slack_id else None
    if form.errors:
        return None, form.errors
    try:
        lead = lead_create(company=company, created_by=user, assigned_to=assignee, **form.fields)
    except ValidationError as exc:
        return None, lead_errors(exc)
    return lead, {}


def _submitted(installation: SlackInstallation, body: dict, view: dict) -> dict[str, Any]:
    """What to ack the submission with: nothing (the form closes) or the errors to show."""
    slack_user_id = str((body.get("user") or {}).get("id") or "")
    try:
        user = slack_user_resolve(
            installation=installation, slack_user_id=slack_user_id, timeout=SLACK_TIMEOUT_SECONDS
        )
    except SlackLinkError as exc:
        return {"response_action": "errors", "errors": {BLOCKS[0]: str(exc)[:ERROR_MAX]}}
    values = (view.get("state") or {}).get("values")
    lead, errors = new_lead_submit(
        installation=installation, user=user, values=values if isinstance(values, dict) else {}
    )
    if lead is None:
        return {"response_action": "errors", "errors": errors}
    try:
        slack_lead_created.send(
            installation_id=installation.pk,
            user_id=user.pk,
            lead_id=lead.pk,
            slack_user_id=slack_user_id,
            response_url=str(metadata_load(view.get("private_metadata")).get("response_url") or ""),
        )
    except Exception:
        logger.exception("slack /lead new: lead %s created, but its card was not sent", lead.pk)
    return {}


def register(app: App, *, installation_key: str) -> None:
    """Listen to the "New lead" form's submissions."""

    def lead_submit(ack: Ack, body: dict, view: dict, context: BoltContext) -> None:
        try:
            answer = _submitted(context[installation_key], body, view)
        except Exception:
            logger.exception("slack /lead new: a submission failed")
            answer = {"response_action": "errors", "errors": {BLOCKS[0]: msg.HUB_ERROR}}
        ack(**answer)

    app.view(CALLBACK_ID)(lead_submit)
