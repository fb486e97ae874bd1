"""The ``/deal`` modals: "New deal" and "Why was it lost?", and reading what was submitted.

A modal carries what its submission needs in ``private_metadata`` (JSON): the deal, and the
``response_url`` of the command or card it came from, to answer there. Slack returns it
signed, but its ids are still checked again like any click's.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from slack_bolt import Ack, App, BoltContext

from hub.bots import crm_messages as msg
from hub.bots.crm_text import Answer
from hub.bots.deal_cards import card_answer, movable_stages
from hub.domain.authentication.models import User
from hub.domain.crm.access import CrmAccessDenied, crm_manage_check
from hub.domain.crm.deal_selectors import (
    deal_get,
    pipeline_default,
    pipeline_stages,
    pipeline_summary,
)
from hub.domain.crm.models import Deal, DealStage, DealStatus
from hub.domain.crm.services import deal_create, deal_mark_lost
from hub.integrations.slack.client import SlackError, view_open
from hub.integrations.slack.models import SlackInstallation
from hub.integrations.slack.services import SlackLinkError, slack_bot_token, slack_user_resolve
from hub.workers.slack_crm import respond_soon, slack_deal_created

logger = logging.getLogger(__name__)

NEW_CALLBACK = "deal_new"
LOST_CALLBACK = "deal_lost"
VALUE = "value"  # every input's action_id: its block_id names the field
VALUE_MAX = Decimal("9999999999.99")  # Deal.value: 12 digits, 2 of them decimals
#: ``views.open`` must use the ``trigger_id`` within 3 s, maybe after a users.info call.
OPEN_TIMEOUT_SECONDS = 1.0
ERROR_MAX = 300
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


def _plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit], "emoji": True}


def clean(text: str) -> str:
    """Drop NULs and other control characters (PostgreSQL text cannot hold NUL)."""
    return "".join(ch for ch in text if ch >= " " or ch in "\n\t").strip()


def metadata_dump(**data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


def metadata_load(raw: str | None) -> dict[str, Any]:
    try:
        data = json.loads(raw or "{}")
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _input(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False, hint: str = ""
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label),
        "element": {"action_id": VALUE, **element},
        "optional": optional,
    }
    if hint:
        block["hint"] = _plain(hint, 150)
    return block


def _text_input(max_length: int, initial: str = "", **extra: Any) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "max_length": max_length, **extra}
    if initial:
        element["initial_value"] = initial
    return element


def _stage_option(stage: DealStage) -> dict[str, Any]:
    return {"text": _plain(f"{stage.name} ({stage.probability}%)"), "value": str(stage.pk)}


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
        "title": _plain("New deal", 24),
        "submit": _plain("Create", 24),
        "close": _plain("Cancel", 24),
        "private_metadata": metadata,
        "blocks": blocks,
    }


def lost_view(*, deal: Deal, metadata: str) -> dict[str, Any]:
    """The "Why was it lost?" form of one deal."""
    return {
        "type": "modal",
        "callback_id": LOST_CALLBACK,
        "title": _plain("Mark deal lost", 24),
        "submit": _plain("Mark lost", 24),
        "close": _plain("Cancel", 24),
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


def _state(values: dict[str, Any], block_id: str) -> dict[str, Any]:
    state = (values.get(block_id) or {}).get(VALUE)
    return state if isinstance(state, dict) else {}


def _str(values: dict[str, Any], block_id: str) -> str:
    value = _state(values, block_id).get("value")
    return clean(value) if isinstance(value, str) else ""


def lost_reason_read(values: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The reason typed in the "lost" form, or the form's errors."""
    reason = _str(values, "reason")
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


def _value(raw: str, form: NewDealForm) -> None:
    try:
        value = Decimal(raw.replace(",", "").replace(" ", ""))
    except InvalidOperation:
        form.errors["value"] = msg.BAD_VALUE
        return
    if not value.is_finite() or value < 0:
        form.errors["value"] = msg.BAD_VALUE
    elif value >= VALUE_MAX + Decimal("0.005"):  # before quantize, which a huge one overflows
        form.errors["value"] = msg.VALUE_TOO_LARGE
    else:
        form.fields["value"] = value.quantize(Decimal("0.01"))


def new_deal_read(values: dict[str, Any]) -> NewDealForm:
    """Read the "New deal" form's ``view.state.values``; nothing in it is trusted."""
    form = NewDealForm()
    for name, limit in _TEXT_FIELDS.items():
        text = _str(values, name)
        if len(text) > limit:
            form.errors[name] = msg.too_long(limit)
        form.fields[name] = text
    for name in ("title", "contact_name", "contact_email", "company_name"):
        if not form.fields[name]:
            form.errors[name] = msg.REQUIRED
    form.fields["contact_phone"] = form.fields["contact_phone"] or None
    raw_value = _str(values, "value")
    if raw_value:
        _value(raw_value, form)
    else:
        form.errors["value"] = msg.REQUIRED
    currency = _str(values, "currency").upper()
    if _CURRENCY.fullmatch(currency):
        form.fields["currency"] = currency
    else:
        form.errors["currency"] = msg.BAD_CURRENCY
    stage = str((_state(values, "stage").get("selected_option") or {}).get("value") or "")
    if stage.isascii() and stage.isdigit() and len(stage) <= 10:
        form.stage_id = int(stage)
    else:
        form.errors["stage"] = msg.BAD_STAGE
    close = _state(values, "close").get("selected_date")
    if close:
        try:
            form.fields["expected_close_date"] = date.fromisoformat(str(close))
        except ValueError:
            form.errors["close"] = msg.BAD_DATE
    form.assignee_slack_id = str(_state(values, "assignee").get("selected_user") or "")
    return form


def errors_from(exc: ValidationError) -> dict[str, str]:
    """``deal_create``'s ValidationError as the form's errors, each under its block."""
    errors: dict[str, str] = {}
    details = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    for name, messages in details.items():
        block = NEW_BLOCKS.get(name, "title")
        text = " ".join(str(m) for m in messages)
        errors[block] = f"{errors[block]} {text}" if block in errors else text
    return {block: text[:ERROR_MAX] for block, text in errors.items()}


# -- opening and submitting --------------------------------------------------------------------


def _open(installation: SlackInstallation, trigger_id: str, view: dict[str, Any]) -> str | None:
    try:
        view_open(
            token=slack_bot_token(installation),
            trigger_id=trigger_id,
            view=view,
            timeout=OPEN_TIMEOUT_SECONDS,
        )
    except (SlackError, SlackLinkError) as exc:
        logger.warning("slack /deal: could not open a form: %s", exc)
        return msg.MODAL_DOWN.format(reason=exc)
    return None


def new_form_open(
    *,
    installation: SlackInstallation,
    user: User,
    slack_user_id: str,
    trigger_id: str,
    response_url: str,
) -> str | None:
    """Open the "New deal" form; None when it opened, else why not."""
    company = installation.company
    try:
        crm_manage_check(user=user, company=company)
    except CrmAccessDenied as exc:
        return str(exc)
    pipeline = pipeline_default(company=company)
    stages = pipeline_stages(pipeline=pipeline) if pipeline else []
    if pipeline is None or not stages:
        return msg.NO_PIPELINE
    view = new_deal_view(
        stages=movable_stages(stages) or stages,
        currency=pipeline_summary(user=user, company=company, pipeline=pipeline).currency,
        slack_user_id=slack_user_id,
        metadata=metadata_dump(response_url=response_url),
    )
    return _open(installation, trigger_id, view)


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
    metadata = metadata_dump(
        deal=deal.pk, response_url=response_url, replace=replace, public=public
    )
    return _open(installation, trigger_id, lost_view(deal=deal, metadata=metadata))


def _assignee(installation: SlackInstallation, form: NewDealForm) -> User | None:
    try:
        return slack_user_resolve(
            installation=installation,
            slack_user_id=form.assignee_slack_id,
            timeout=OPEN_TIMEOUT_SECONDS,
        )
    except SlackLinkError as exc:
        cause = exc.__cause__
        failed = isinstance(cause, SlackError) and cause.code != "user_not_found"
        form.errors["assignee"] = msg.ASSIGNEE_LOOKUP if failed else msg.ASSIGNEE_UNLINKED
        return None


def new_deal_submit(
    *, installation: SlackInstallation, user: User, values: dict[str, Any]
) -> tuple[Deal | None, dict[str, str]]:
    """Create the deal the form describes, or say what to correct (errors by block)."""
    company = installation.company
    try:
        crm_manage_check(user=user, company=company)
    except CrmAccessDenied as exc:
        return None, {"title": str(exc)[:ERROR_MAX]}
    form = new_deal_read(values)
    pipeline = pipeline_default(company=company)
    stages = pipeline_stages(pipeline=pipeline) if pipeline else []
    stages = movable_stages(stages) or stages  # those the form offers
    # A stage of another pipeline or company (a forged form), or one made inactive meanwhile.
    stage = next((s for s in stages if s.pk == form.stage_id), None)
    if stage is None:
        form.errors.setdefault("stage", msg.BAD_STAGE)
    assignee = _assignee(installation, form) if form.assignee_slack_id else None
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
    """Mark the form's deal lost with the reason typed, or say why not (errors by block)."""
    company = installation.company
    try:
        crm_manage_check(user=user, company=company)
    except CrmAccessDenied as exc:
        return None, {"reason": str(exc)[:ERROR_MAX]}
    known = type(deal_id) is int
    deal = deal_get(user=user, company=company, deal_id=deal_id) if known else None
    if deal is None:
        return None, {"reason": msg.not_found(deal_id if known else 0, company.company_name)}
    refusal = lost_refusal(deal, user=user)
    if refusal is not None:
        return None, {"reason": refusal.text[:ERROR_MAX]}
    reason, errors = lost_reason_read(values)
    return (None, errors) if errors else (lose(deal, reason, user=user), {})


# -- the listeners -----------------------------------------------------------------------------


def register(app: App, *, installation_key: str) -> None:
    """Listen to the forms' submissions (opened by ``/deal new``, ``/deal lost``, Lost)."""

    def on_submit(submitted: Callable[..., None]):
        def listener(ack: Ack, body: dict, view: dict, context: BoltContext) -> None:
            installation = context[installation_key]
            slack_user_id = str((body.get("user") or {}).get("id") or "")
            inputs = [b for b in view.get("blocks") or [] if b.get("type") == "input"]
            first = str(inputs[0].get("block_id") or "") if inputs else ""
            values = (view.get("state") or {}).get("values")
            metadata = metadata_load(view.get("private_metadata"))
            try:
                user = slack_user_resolve(
                    installation=installation,
                    slack_user_id=slack_user_id,
                    timeout=OPEN_TIMEOUT_SECONDS,
                )
                submitted(
                    ack,
                    installation=installation,
                    user=user,
                    slack_user_id=slack_user_id,
                    values=values if isinstance(values, dict) else {},
                    metadata=metadata,
                )
            except SlackLinkError as exc:
                ack(response_action="errors", errors={first: str(exc)[:ERROR_MAX]})
            except Exception:
                logger.exception("slack /deal: a form's submission failed")
                ack(response_action="errors", errors={first: msg.HUB_ERROR})

        return listener

    app.view(NEW_CALLBACK)(on_submit(_new_submitted))
    app.view(LOST_CALLBACK)(on_submit(_lost_submitted))


def _new_submitted(ack: Ack, *, installation, user, slack_user_id, values, metadata) -> None:
    deal, errors = new_deal_submit(installation=installation, user=user, values=values)
    if deal is None:
        ack(response_action="errors", errors=errors)
        return
    ack()
    try:
        slack_deal_created.send(
            installation_id=installation.pk,
            user_id=user.pk,
            deal_id=deal.pk,
            slack_user_id=slack_user_id,
            response_url=str(metadata.get("response_url") or ""),
        )
    except Exception:
        logger.exception("slack /deal new: deal %s created, but its card was not sent", deal.pk)


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
