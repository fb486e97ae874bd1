"""What an alert says in Slack: a deal won, lost or moved; a lead or deal assigned; a missed call.

The event's payload says what happened; names are read now (the stage's, the owner's, a lead's),
so an alert posted late names things as they are called today. Everything from the CRM is
escaped (``crm_text.escape``): a deal titled ``<!channel>`` must not ping anyone.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from hub.bots.crm_text import RecordKind, escape, money, record_url
from hub.domain.authentication.models import User
from hub.domain.crm.models import Deal, DealStage, DealStatus, Lead
from hub.integrations.slack.models import AlertKind, SlackAlert

_MAX_ID = 2**63 - 1


def _id(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if 0 < number <= _MAX_ID else None


def _pk(value: Any) -> int:
    """The id to look a row up by; 0 (no row has it) when the payload has none."""
    return _id(value) or 0


def _amount(payload: dict[str, Any]) -> str:
    try:
        value = Decimal(str(payload.get("value")))
    except (InvalidOperation, ValueError):
        return ""
    if not value.is_finite():
        return ""
    return money(value, str(payload.get("currency") or "USD")[:8])


def _ref(kind: RecordKind, record_id: int | None, label: str) -> str:
    """``#42 Acme renewal``, linked to the record's console page when the hub has a URL."""
    text = f"#{record_id} {label}" if record_id else label
    url = record_url(kind, record_id) if record_id else None
    return f"<{url}|{text}>" if url else text


def _stage(payload: dict[str, Any]) -> str:
    stage_id = _id(payload.get("stage_id"))
    name = DealStage.objects.filter(pk=stage_id or 0).values_list("name", flat=True).first()
    return escape(name) if name else "another stage"


def _person(user_id: Any) -> str | None:
    user = User.objects.filter(pk=_pk(user_id)).only("first_name", "last_name", "email").first()
    return escape(user.get_full_name()) if user else None


def _deal(payload: dict[str, Any]) -> str:
    title = escape(str(payload.get("title") or "a deal"), 120)
    return f"*{_ref('deal', _id(payload.get('id')), title)}*"


def _deal_facts(payload: dict[str, Any], *, stage: bool = False) -> str:
    parts = [_amount(payload)]
    if stage:
        parts.append(_stage(payload))
    owner = _person(payload.get("assigned_to_id"))
    if owner:
        parts.append(f"owner {owner}")
    return " · ".join(part for part in parts if part)


def _won(payload: dict[str, Any]) -> str:
    return f":trophy: Deal won: {_deal(payload)}\n{_deal_facts(payload)}".rstrip()


def _lost(payload: dict[str, Any]) -> str:
    text = f":x: Deal lost: {_deal(payload)}\n{_deal_facts(payload)}".rstrip()
    reason = (
        Deal.objects.filter(pk=_pk(payload.get("id")), status=DealStatus.LOST)
        .values_list("lost_reason", flat=True)
        .first()
    )
    return f"{text}\n>Reason: {escape(reason, 300)}" if reason else text


def _moved(payload: dict[str, Any]) -> str:
    return (
        f":arrow_right: Deal moved: {_deal(payload)} is now in *{_stage(payload)}*\n"
        f"{_deal_facts(payload)}"
    ).rstrip()


def _deal_assigned(payload: dict[str, Any]) -> str:
    facts = " · ".join(part for part in (_amount(payload), _stage(payload)) if part)
    return f":bust_in_silhouette: A deal was assigned to you: {_deal(payload)}\n{facts}".rstrip()


def _lead_assigned(payload: dict[str, Any]) -> str:
    name = f"{payload.get('first_name') or ''} {payload.get('last_name') or ''}".strip()
    lead = _ref("lead", _id(payload.get("id")), escape(name or "a lead", 120))
    text = f":bust_in_silhouette: A lead was assigned to you: *{lead}*"
    email = payload.get("email")
    return f"{text}\n{escape(str(email), 120)}" if email else text


def _caller(payload: dict[str, Any]) -> str:
    number = escape(str(payload.get("from_number") or "an unknown number"), 40)
    lead = Lead.objects.filter(pk=_pk(payload.get("lead_id"))).only("first_name", "last_name")
    found = lead.first()
    if found is not None:
        name = escape(f"{found.first_name} {found.last_name}".strip(), 80)
        return f"{number} ({_ref('lead', found.pk, name)})"
    customer = User.objects.filter(customer__pk=_pk(payload.get("customer_id"))).first()
    return f"{number} ({escape(customer.get_full_name(), 80)})" if customer else number


def _missed(payload: dict[str, Any]) -> str:
    to = escape(str(payload.get("to_number") or "your number"), 40)
    status = str(payload.get("status") or "")
    how = {"Busy": " (you were busy)", "Cancelled": " (they hung up while it rang)"}.get(status, "")
    return f":telephone_receiver: Missed call from {_caller(payload)} on {to}{how}"


def _voicemail(payload: dict[str, Any]) -> str:
    to = escape(str(payload.get("to_number") or "your number"), 40)
    text = f":mailbox_with_mail: Voicemail from {_caller(payload)} on {to}"
    call_id = _id(payload.get("id"))
    url = record_url("call", call_id) if call_id else None
    return f"{text}\n<{url}|Listen to it in the console>" if url else text


_WORDING = {
    AlertKind.DEAL_WON: _won,
    AlertKind.DEAL_LOST: _lost,
    AlertKind.DEAL_MOVED: _moved,
    AlertKind.DEAL_ASSIGNED: _deal_assigned,
    AlertKind.LEAD_ASSIGNED: _lead_assigned,
    AlertKind.MISSED_CALL: _missed,
    AlertKind.VOICEMAIL: _voicemail,
}


def alert_message(alert: SlackAlert) -> tuple[str, list[dict[str, Any]]]:
    """The alert's text (also what notifications show) and its blocks."""
    payload = alert.payload if isinstance(alert.payload, dict) else {}
    text = _WORDING[AlertKind(alert.kind)](payload)
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
