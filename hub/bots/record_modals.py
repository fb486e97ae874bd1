"""What the forms of ``/deal`` and ``/lead`` share: opening one, reading what was submitted
(nothing in it is trusted), showing a service's ``ValidationError`` under its inputs, resolving
the assignee picked, and the listener of their submissions.

A form carries what its submission needs in ``private_metadata`` (JSON), such as the
``response_url`` of the command or card it came from, to answer there. Slack returns it signed,
but its ids are still checked again like any click's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from slack_bolt import Ack, App, BoltContext

from hub.bots import record_messages as common
from hub.bots.crm_text import RecordKind
from hub.bots.record_cards import json_object
from hub.domain.authentication.models import User
from hub.domain.crm.access import CrmAccessDenied, crm_manage_check
from hub.integrations.slack.client import SlackError, view_open
from hub.integrations.slack.models import SlackInstallation
from hub.integrations.slack.services import SlackLinkError, slack_bot_token, slack_user_resolve

logger = logging.getLogger(__name__)

VALUE = "value"  # every input's action_id: its block_id names the field
#: ``views.open`` must use the ``trigger_id`` within 3 s, and a submission be answered within
#: 3 s: each Slack call made before (users.info, views.open) is capped.
SLACK_TIMEOUT_SECONDS = 1.0
VALUE_MAX = Decimal("9999999999.99")  # a deal's value, a lead's: 12 digits, 2 of them decimals
ERROR_MAX = 300


def clean(text: Any) -> str:
    """A submitted text without NULs or other control characters (PostgreSQL takes no NUL);
    anything but a text is ``""``."""
    if not isinstance(text, str):
        return ""
    return "".join(ch for ch in text if ch >= " " or ch in "\n\t").strip()


def metadata_dump(**data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


def metadata_load(raw: Any) -> dict[str, Any]:
    return json_object(raw or "{}") or {}


def state(values: dict[str, Any], block_id: str) -> dict[str, Any]:
    """What an input holds (its element's state), ``{}`` if Slack sent nothing readable."""
    block = values.get(block_id)
    element = block.get(VALUE) if isinstance(block, dict) else None
    return element if isinstance(element, dict) else {}


def text_of(values: dict[str, Any], block_id: str) -> str:
    """A text input's value, cleaned."""
    return clean(state(values, block_id).get("value"))


def amount(raw: str) -> Decimal | str:
    """The amount typed (``12,500.50``), to the cent, or what is wrong with it."""
    try:
        value = Decimal(raw.replace(",", "").replace(" ", ""))
    except InvalidOperation:
        return common.BAD_VALUE
    if not value.is_finite() or value < 0:
        return common.BAD_VALUE
    if value >= VALUE_MAX + Decimal("0.005"):  # before quantize, which a huge one overflows
        return common.VALUE_TOO_LARGE
    return value.quantize(Decimal("0.01"))


def errors_by_block(exc: ValidationError, block_of: Callable[[str], str]) -> dict[str, str]:
    """A service's ValidationError as the form's errors, each under the block
    ``block_of(field)`` names."""
    errors: dict[str, str] = {}
    details = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    for name, messages in details.items():
        block = block_of(name)
        text = " ".join(str(m) for m in messages)
        errors[block] = f"{errors[block]} {text}" if block in errors else text
    return {block: text[:ERROR_MAX] for block, text in errors.items()}


def form_open(
    installation: SlackInstallation, trigger_id: str, view: dict[str, Any], *, command: str
) -> str | None:
    """Open a form; None when it opened, else why not."""
    try:
        view_open(
            token=slack_bot_token(installation),
            trigger_id=trigger_id,
            view=view,
            timeout=SLACK_TIMEOUT_SECONDS,
        )
    except (SlackError, SlackLinkError) as exc:
        logger.warning("slack %s: could not open a form: %s", command, exc)
        return common.MODAL_DOWN.format(reason=exc)
    return None


def assignee_read(
    installation: SlackInstallation, slack_user_id: str, errors: dict[str, str], block_id: str
) -> User | None:
    """The member the form's "Assigned to" picks (None if nobody), or None and what to say
    under it in ``errors``."""
    if not slack_user_id:
        return None
    try:
        return slack_user_resolve(
            installation=installation, slack_user_id=slack_user_id, timeout=SLACK_TIMEOUT_SECONDS
        )
    except SlackLinkError as exc:
        cause = exc.__cause__
        failed = isinstance(cause, SlackError) and cause.code != "user_not_found"
        errors[block_id] = common.ASSIGNEE_LOOKUP if failed else common.ASSIGNEE_UNLINKED
        return None


def new_submitted(
    submit: Callable[..., tuple[Any, dict[str, str]]], created: Any, *, kind: RecordKind
) -> Callable[..., None]:
    """The submission of a "New …" form: ``submit(installation=, user=, values=)`` makes the
    record (or says what to correct), then the ``created`` actor shows the member its card
    (the record's id is its ``<kind>_id``)."""

    def submitted(ack: Ack, *, installation, user, slack_user_id, values, metadata) -> None:
        record, errors = submit(installation=installation, user=user, values=values)
        if record is None:
            ack(response_action="errors", errors=errors)
            return
        ack()
        try:
            created.send(
                installation_id=installation.pk,
                user_id=user.pk,
                slack_user_id=slack_user_id,
                response_url=str(metadata.get("response_url") or ""),
                **{f"{kind}_id": record.pk},
            )
        except Exception:
            logger.exception(
                "slack /%s new: #%s created, but its card was not sent", kind, record.pk
            )

    return submitted


def register_submissions(
    app: App,
    forms: dict[str, Callable[..., None]],
    *,
    installation_key: str,
    command: str,
    first_block: str | None = None,
) -> None:
    """Listen to the submissions of ``forms`` (by callback id): each is called with ``ack``,
    the ``installation``, the member (``user``, ``slack_user_id``), the ``values`` and the
    ``metadata`` once the member is known and may change records. Else, or on an error, the
    form says why under ``first_block`` (by default its first input)."""

    def on_submit(submitted: Callable[..., None]):
        def listener(ack: Ack, body: dict, view: dict, context: BoltContext) -> None:
            first = first_block if first_block is not None else _first_input(view)
            try:
                installation = context[installation_key]
                slack_user_id = str((body.get("user") or {}).get("id") or "")
                values = (view.get("state") or {}).get("values")
                metadata = metadata_load(view.get("private_metadata"))
                user = slack_user_resolve(
                    installation=installation,
                    slack_user_id=slack_user_id,
                    timeout=SLACK_TIMEOUT_SECONDS,
                )
                crm_manage_check(user=user, company=installation.company)
                submitted(
                    ack,
                    installation=installation,
                    user=user,
                    slack_user_id=slack_user_id,
                    values=values if isinstance(values, dict) else {},
                    metadata=metadata,
                )
            except (SlackLinkError, CrmAccessDenied) as exc:
                ack(response_action="errors", errors={first: str(exc)[:ERROR_MAX]})
            except Exception:
                logger.exception("slack %s: a form's submission failed", command)
                ack(response_action="errors", errors={first: common.HUB_ERROR})

        return listener

    for callback_id, submitted in forms.items():
        app.view(callback_id)(on_submit(submitted))


def _first_input(view: dict[str, Any]) -> str:
    inputs = (
        b for b in view.get("blocks") or [] if isinstance(b, dict) and b.get("type") == "input"
    )
    return str(next(inputs, {}).get("block_id") or "")
