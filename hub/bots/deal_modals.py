"""The ``/deal`` modals: "New deal" and "Why was it lost?", and reading what was submitted.

A modal carries what its submission needs in ``private_metadata`` (JSON): the deal, and the
``response_url`` of the command or card it came from, to answer there (what the forms of
``/deal`` and ``/lead`` share is in ``record_modals``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from slack_bolt import Ack, App

from hub.bots import crm_messages as msg
from hub.bots import record_messages as common
from hub.bots import record_modals as forms
from hub.bots.crm_text import Answer
from hub.bots.deal_cards import card_answer, movable_stages
from hub.bots.record_cards import plain
from hub.bots.record_commands import Asker
from hub.domain.authentication.models import User
from hub.domain.crm.deal_selectors import (
    deal_get,
    pipeline_default,
    pipeline_stages,
    pipeline_summary,
)
from hub.domain.crm.models import Deal, DealStage, DealStatus
from hub.domain.crm.services import deal_create, deal_mark_lost
from hub.integrations.slack.models import SlackInstallation
from hub.workers.slack_crm import respond_soon, slack_deal_created

NEW_CALLBACK = "deal_new"
LOST_CALLBACK = "deal_lost"
_CURRENCY = re.compile(r"[A-Z]{3}")

#: The form's text inputs and their lengths (Deal's columns).
_TEXT_FIELDS = {
    "title": 255,
    "contact_name": 255,
    "contact_email": 254,
    "contact_phone": 32,
    "company_name": 255,
}
#: Where each field of ``deal_create``'s ValidationError is shown in the "New deal" form.
NEW_BLOCKS = {name: name for name in (*_TEXT_FIELDS, "value", "currency", "stage")} | {
    "pipeline": "stage",
    "expected_close_date": "close",
    "assigned_to": "assignee",
}


def _input(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False, hint: str = ""
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "element": {"action_id": forms.VALUE, **element},
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint, 150)
    return block


def _text_input(max_length: int, initial: str = "", **extra: Any) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "max_length": max_length, **extra}
    if initial:
        element["initial_value"] = initial
    return element


def _stage_option(stage: DealStage) -> dict[str, Any]:
    return {"text": plain(f"{stage.name} ({stage.probability}%)"), "value": str(stage.pk)}


def new_deal_view(
    *, stages: list[DealStage], currency: str, slack_user_id: str, metadata: str
) -> dict[str, Any]:
    """The "New deal" form: the stages offered are those of the default pipeline."""
    options = [_stage_option(s) for s in stages][:100]
    stage_select: dict[str, Any] = {"type": "static_select", "options": options}
    if options:
        stage_select["initial_option"] = options[0]
    assignee: dict[str, Any] = {"type": "users_select"}
    if slack_user_id:
        assignee["initial_user"] = slack_user_id
    blocks = [
        _input("title", "Title", _text_input(255)),
        _input(
            "value",
            "Value",
            {"type": "number_input", "is_decimal_allowed": True, "min_value": "0"},
        ),
        _input("currency", "Currency", _text_input(3, currency, min_length=3)),
        _input("company_name", "Client company", _text_input(255)),
        _input("contact_name", "Contact name", _text_input(255)),
        _input("contact_email", "Contact e-mail", {"type": "email_text_input"}),
        _input("contact_phone", "Contact phone", _text_input(32), optional=True),
        _input("stage", "Stage", stage_select),
        _input("close", "Expected close", {"type": "datepicker"}, optional=True),
        _input("assignee", "Assigned to", assignee, optional=True),
    ]
    return {
        "type": "modal",
        "callback_id": NEW_CALLBACK,
        "title": plain("New deal", 24),
        "submit": plain("Create", 24),
        "close": plain("Cancel", 24),
        "private_metadata": metadata,
        "blocks": blocks,
    }


def lost_view(*, deal: Deal, metadata: str) -> dict[str, Any]:
    """The "Why was it lost?" form of one deal."""
    return {
        "type": "modal",
        "callback_id": LOST_CALLBACK,
        "title": plain("Mark deal lost", 24),
        "submit": plain("Mark lost", 24),
        "close": plain("Cancel", 24),
        "private_metadata": metadata,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{msg.title(deal)}*"}},
            _input(
                "reason",
                "Why was it lost?",
                _text_input(msg.LOST_REASON_MAX, multiline=True),
                hint="Shown on the deal in the CRM.",
            ),
        ],
    }


# -- reading a submission ----------------------------------------------------------------------


def lost_reason_read(values: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The reason typed in the "lost" form, or the form's errors."""
    reason = forms.text_of(values, "reason")
    if not reason:
        return "", {"reason": msg.LOST_REASON_NEEDED}
    if len(reason) > msg.LOST_REASON_MAX:
        return "", {"reason": msg.lost_reason_too_long(len(reason))}
    return reason, {}


@dataclass
class NewDealForm:
    """What the "New deal" form holds, read and checked as far as the form alone can tell."""

    fields: dict[str, Any] = field(default_factory=dict)
    stage_id: int | None = None
    assignee_slack_id: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def new_deal_read(values: dict[str, Any]) -> NewDealForm:
    """Read the "New deal" form's ``view.state.values``; nothing in it is trusted."""
    form = NewDealForm()
    for name, limit in _TEXT_FIELDS.items():
        text = forms.text_of(values, name)
        if len(text) > limit:
            form.errors[name] = msg.too_long(limit)
        form.fields[name] = text
    for name in ("title", "contact_name", "contact_email", "company_name"):
        if not form.fields[name]:
            form.errors[name] = common.REQUIRED
    form.fields["contact_phone"] = form.fields["contact_phone"] or None
    raw_value = forms.text_of(values, "value")
    value = forms.amount(raw_value) if raw_value else common.REQUIRED
    if isinstance(value, str):
        form.errors["value"] = value
    else:
        form.fields["value"] = value
    currency = forms.text_of(values, "currency").upper()
    if _CURRENCY.fullmatch(currency):
        form.fields["currency"] = currency
    else:
        form.errors["currency"] = msg.BAD_CURRENCY
    stage = str((forms.state(values, "stage").get("selected_option") or {}).get("value") or "")
    if stage.isascii() and stage.isdigit() and len(stage) <= 10:
        form.stage_id = int(stage)
    else:
        form.errors["stage"] = msg.BAD_STAGE
    close = forms.state(values, "close").get("selected_date")
    if close:
        try:
            form.fields["expected_close_date"] = date.fromisoformat(str(close))
        except ValueError:
            form.errors["close"] = msg.BAD_DATE
    form.assignee_slack_id = str(forms.state(values, "assignee").get("selected_user") or "")
    return form


def errors_from(exc: ValidationError) -> dict[str, str]:
    """``deal_create``'s ValidationError as the form's errors, each under its block."""
    return forms.errors_by_block(exc, lambda name: NEW_BLOCKS.get(name, "title"))


# -- opening and submitting --------------------------------------------------------------------


def new_form_open(asker: Asker, user: User) -> str | None:
    """Open the "New deal" form for a member who may change deals; None when it opened, else
    why not."""
    pipeline = pipeline_default(company=asker.company)
    stages = pipeline_stages(pipeline=pipeline) if pipeline else []
    if pipeline is None or not stages:
        return msg.NO_PIPELINE
    view = new_deal_view(
        stages=movable_stages(stages) or stages,
        currency=pipeline_summary(user=user, company=asker.company, pipeline=pipeline).currency,
        slack_user_id=asker.slack_user_id,
        metadata=forms.metadata_dump(response_url=asker.response_url),
    )
    return forms.form_open(asker.installation, asker.trigger_id, view, command="/deal")


def lost_form_open(
    *,
    installation: SlackInstallation,
    deal: Deal,
    trigger_id: str,
    response_url: str,
    replace: bool,
    public: bool,
) -> str | None:
    """Open the "lost" form of a deal; None when it opened, else why not."""
    metadata = forms.metadata_dump(
        deal=deal.pk, response_url=response_url, replace=replace, public=public
    )
    view = lost_view(deal=deal, metadata=metadata)
    return forms.form_open(installation, trigger_id, view, command="/deal")


def new_deal_submit(
    *, installation: SlackInstallation, user: User, values: dict[str, Any]
) -> tuple[Deal | None, dict[str, str]]:
    """Create the deal the form describes (``user`` may change deals: the listener checked),
    or say what to correct (errors by block)."""
    form = new_deal_read(values)
    company = installation.company
    pipeline = pipeline_default(company=company)
    stages = pipeline_stages(pipeline=pipeline) if pipeline else []
    stages = movable_stages(stages) or stages  # those the form offers
    # A stage of another pipeline or company (a forged form), or one made inactive meanwhile.
    stage = next((s for s in stages if s.pk == form.stage_id), None)
    if stage is None:
        form.errors.setdefault("stage", msg.BAD_STAGE)
    assignee = forms.assignee_read(installation, form.assignee_slack_id, form.errors, "assignee")
    if form.errors:
        return None, form.errors
    try:
        deal = deal_create(
            company=company,
            created_by=user,
            pipeline=pipeline,
            stage=stage,
            assigned_to=assignee,
            **form.fields,
        )
    except ValidationError as exc:
        return None, errors_from(exc)
    return deal, {}


def lost_refusal(deal: Deal, *, user: User) -> Answer | None:
    """Why the deal cannot be marked lost (it is closed), or None."""
    if deal.status == DealStatus.LOST:
        return card_answer(deal, msg.already_lost(deal), user=user)
    if deal.status != DealStatus.OPEN:
        return Answer(msg.closed(deal))
    return None


def lose(deal: Deal, reason: str, *, user: User) -> Answer:
    """Mark the deal lost (it is open, the member may change it): the card says so."""
    deal = deal_mark_lost(deal=deal, reason=reason, by=user)
    return card_answer(deal, msg.lost(deal), user=user)


def lost_submit(
    *, installation: SlackInstallation, user: User, deal_id: Any, values: dict[str, Any]
) -> tuple[Answer | None, dict[str, str]]:
    """Mark the form's deal lost with the reason typed (``user`` may change deals: the
    listener checked), or say why not (errors by block)."""
    company = installation.company
    known = type(deal_id) is int
    deal = deal_get(user=user, company=company, deal_id=deal_id) if known else None
    if deal is None:
        return None, {"reason": msg.WORDS.not_found(deal_id if known else 0, company.company_name)}
    refusal = lost_refusal(deal, user=user)
    if refusal is not None:
        return None, {"reason": refusal.text[: forms.ERROR_MAX]}
    reason, errors = lost_reason_read(values)
    return (None, errors) if errors else (lose(deal, reason, user=user), {})


# -- the listeners -----------------------------------------------------------------------------


def register(app: App, *, installation_key: str) -> None:
    """Listen to the forms' submissions (opened by ``/deal new``, ``/deal lost``, Lost)."""
    submitted = {
        NEW_CALLBACK: forms.new_submitted(new_deal_submit, slack_deal_created, kind="deal"),
        LOST_CALLBACK: _lost_submitted,
    }
    forms.register_submissions(app, submitted, installation_key=installation_key, command="/deal")


def _lost_submitted(ack: Ack, *, installation, user, slack_user_id, values, metadata) -> None:
    answer, errors = lost_submit(
        installation=installation, user=user, deal_id=metadata.get("deal"), values=values
    )
    if answer is None:
        ack(response_action="errors", errors=errors)
        return
    ack()
    replace = metadata.get("replace") is True
    if metadata.get("response_url"):
        respond_soon(
            response_url=str(metadata["response_url"]),
            text=answer.text,
            blocks=answer.blocks,
            replace_original=replace,
            public=replace and metadata.get("public") is True,
        )
