"""A call as Slack Block Kit: the one-line summary of a list and the card, with a Call back button.

The Call back button is one of ``/call``'s choices (``call_pick:call:<id>``, handled in
:mod:`hub.bots.calls`): it rings the other side of the call again from the member's number.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from hub.bots.crm_text import escape, record_url
from hub.domain.calls.models import Call, CallDirection, CallStatus, Disposition
from hub.domain.calls.selectors import MISSED_STATUSES, company_zone

#: The action id prefix of every button that places a call (``call_pick:<kind>:<id>``).
PICK_ACTION = "call_pick"
NOTES_SHOWN = 280


def call_missed(call: Call) -> bool:
    """Whether nobody took this inbound call (or it ended in a voicemail)."""
    return call.direction == CallDirection.INBOUND and (
        call.status in MISSED_STATUSES or call.disposition == Disposition.VOICEMAIL
    )


def call_other_number(call: Call) -> str:
    """The number on the far side: who called in, or who was called."""
    return call.from_number if call.direction == CallDirection.INBOUND else call.to_number


def call_contact(call: Call) -> str | None:
    """``Jane Doe (lead)``: the CRM record the call is about, unescaped; None if none."""
    if call.lead_id and call.lead is not None:
        name = f"{call.lead.first_name or ''} {call.lead.last_name or ''}".strip()
        return f"{name or f'#{call.lead_id}'} (lead)"
    if call.customer_id and call.customer is not None:
        return f"{call.customer.user.get_full_name() or f'#{call.customer_id}'} (customer)"
    if call.deal_id and call.deal is not None:
        return f"{call.deal.title} (deal)"
    return None


def _outcome(call: Call) -> str:
    if call.disposition == Disposition.VOICEMAIL:
        return "Voicemail"
    if call_missed(call):
        return f"Missed ({call.get_status_display().lower()})"
    return call.get_status_display()


def _duration(seconds: int | None) -> str | None:
    if not seconds:
        return None
    minutes, rest = divmod(seconds, 60)
    return f"{minutes}m {rest:02d}s" if minutes else f"{rest}s"


def call_when(call: Call) -> str:
    """When the call began, shown in each reader's own time zone by Slack; the company's time
    for a client that cannot."""
    at = call.start_time or call.created_at
    local = timezone.localtime(at, company_zone(call.company))
    fallback = local.strftime("%Y-%m-%d %H:%M %Z")
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def call_line(call: Call) -> str:
    """``↙ #12 Jane Doe (lead) · +14155550123 · today 10:42 · Missed (no answer)``."""
    arrow = "↙" if call.direction == CallDirection.INBOUND else "↗"
    contact = call_contact(call)
    who = f"{escape(contact)} · " if contact else ""
    parts = [f"{arrow} #{call.pk} {who}{escape(call_other_number(call))}", call_when(call)]
    parts.append(_outcome(call))
    duration = _duration(call.duration)
    if duration and call.status == CallStatus.COMPLETED:
        parts.append(duration)
    return " · ".join(parts)


def call_back_button(call: Call) -> dict[str, Any]:
    """The button that calls the other side of ``call`` back."""
    return {
        "type": "button",
        "action_id": f"{PICK_ACTION}:call:{call.pk}",
        "text": {"type": "plain_text", "text": "Call back"},
        "value": f"call:{call.pk}",
    }


def _fields(call: Call) -> list[dict[str, str]]:
    member = (call.user.get_full_name() or call.user.email) if call.user_id and call.user else None
    shown = [
        ("Direction", call.get_direction_display()),
        ("Outcome", _outcome(call)),
        ("From", call.from_number),
        ("To", call.to_number),
        ("Duration", _duration(call.duration)),
        ("Member", member),
    ]
    return [
        {"type": "mrkdwn", "text": f"*{label}*\n{escape(value)}"} for label, value in shown if value
    ]


def call_card_blocks(call: Call, *, actions: bool = True) -> list[dict[str, Any]]:
    """The call's card; with ``actions``, its Call back button (and a link to its page)."""
    contact = call_contact(call)
    title = f"*Call #{call.pk}*" + (f" with {escape(contact)}" if contact else "")
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"{title}\n{call_when(call)}"},
            "fields": _fields(call),
        }
    ]
    if call.notes.strip():
        notes = escape(call.notes.strip(), NOTES_SHOWN)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": notes}]})
    if actions:
        elements = [call_back_button(call)]
        url = record_url("call", call.pk)
        if url:
            elements.append(
                {
                    "type": "button",
                    "action_id": f"call_open:{call.pk}",
                    "text": {"type": "plain_text", "text": "Open in console"},
                    "url": url,
                }
            )
        blocks.append({"type": "actions", "block_id": f"call_card:{call.pk}", "elements": elements})
    return blocks
