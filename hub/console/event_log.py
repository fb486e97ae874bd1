"""The console's event log (``/console/events/``): one readable line per event, live.

Each line says when, in which company (when the viewer sees several), what type, whom or what
the event concerns in words, and which fields changed; its payload opens on demand. The page
is filtered by company and type in its URL (``?company=``, ``?type=``) and pages back with
``?before=<id>``. A live page renders no lines itself: when hub.js hears of new events,
events.js asks this same view for the lines after the newest it shows (``?after=<id>``, with
the page's filters), so a line reads the same whether it was there on load or arrived live,
and the company filter holds for live lines too (an event frame does not carry its company).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from django.contrib.admin.views.decorators import staff_member_required
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from hub.console import selectors
from hub.console.companies import CompanyScope, company_scope
from hub.console.views import staff_user
from hub.domain.calls.models import CallStatus
from hub.domain.crm.models import DealStatus, LeadStatus
from hub.domain.events.log_lines import (
    EVENT_TYPES,
    PAGE_SIZE,
    LogFilter,
    LogNames,
    event_log_names,
    event_log_page,
    event_type_known,
)
from hub.domain.events.models import Event

# The words for the fields a ``changed`` list names.
CHANGED_FIELDS = {"stage_id": "stage", "status": "status", "assigned_to_id": "assignee"}


@dataclass(frozen=True)
class Line:
    id: int
    created_at: datetime
    company: str
    type: str
    subject: str
    changed: str
    payload: str


@staff_member_required
def page(request: HttpRequest) -> HttpResponse:
    viewer = selectors.console_viewer(user=staff_user(request))
    cursor = selectors.console_cursor()
    scope = company_scope(request, viewer=viewer)
    chosen_type = request.GET.get("type", "").strip()
    refused_type = chosen_type if chosen_type and not event_type_known(chosen_type) else None
    log_filter = _log_filter(scope, "" if refused_type else chosen_type)
    after = _event_id(request.GET.get("after"))
    before = _event_id(request.GET.get("before"))
    events = event_log_page(viewer=viewer, log_filter=log_filter, before=before, after=after)
    lines = event_lines(events, scope=scope)
    context = {"lines": lines, "several": scope.several}
    if after is not None:
        # A live page asking for what is new: the lines alone, oldest first.
        return render(request, "hub/console/_event_lines.html", context)
    context |= {
        "page": "events",
        "cursor": cursor,
        "scope": scope,
        "event_types": EVENT_TYPES,
        "chosen_type": "" if refused_type else chosen_type,
        "refused_type": refused_type,
        "before": before,
        "older": lines[-1].id if len(lines) == PAGE_SIZE else None,
        "settings": {"live": before is None, "per_page": PAGE_SIZE},
    }
    return render(request, "hub/console/events.html", context)


def _log_filter(scope: CompanyScope, chosen_type: str) -> LogFilter:
    topic = chosen_type if chosen_type in EVENT_TYPES else None
    return LogFilter(
        company_ids=scope.company_ids,
        own_events=scope.chosen is None,
        topic=topic,
        type=chosen_type if chosen_type and topic is None else None,
    )


def _event_id(value: str | None) -> int | None:
    if value is None or not (value.isascii() and value.isdigit()):
        return None
    return int(value)


def event_lines(events: list[Event], *, scope: CompanyScope) -> list[Line]:
    """The events as the page shows them; names resolved for all of them at once."""
    names = event_log_names(events)
    companies = {c.id: c.company_name for c in scope.companies}
    return [
        Line(
            id=e.id,
            created_at=timezone.localtime(e.created_at),
            company=companies.get(e.company_id, "") if e.company_id is not None else "",
            type=e.type,
            subject=event_subject(e, names),
            changed=event_changed(e.payload),
            payload=json.dumps(e.payload, indent=2, ensure_ascii=False, sort_keys=True),
        )
        for e in events
    ]


def event_changed(payload: object) -> str:
    """The fields an update changed, in words ("stage, status"), from the payload's list."""
    changed = payload.get("changed") if isinstance(payload, dict) else None
    if not isinstance(changed, list):
        return ""
    return ", ".join(CHANGED_FIELDS.get(str(f), str(f)) for f in changed)


def event_subject(event: Event, names: LogNames) -> str:
    """Whom or what the event concerns, in words."""
    data = event.payload if isinstance(event.payload, dict) else {}
    topic = event.type.split(".", 1)[0]
    wording = _SUBJECTS.get(topic)
    if wording is None:
        return f"#{data['id']}" if "id" in data else ""
    return wording(event, data, names)


def _joined(*parts: object) -> str:
    return " · ".join(str(p) for p in parts if p not in (None, ""))


def _named(names: dict[int, str], value: object) -> str | None:
    return names.get(value) if isinstance(value, int) else None


def _label(choices: type[models.TextChoices], value: object) -> object:
    """A status's label ("In progress"), or the value itself when it is not one of them."""
    return dict(choices.choices).get(value, value) if isinstance(value, str) else value


def _call(event: Event, data: dict, names: LogNames) -> str:
    return _joined(
        f"Call #{data.get('id')} {data.get('from_number') or '?'} → {data.get('to_number') or '?'}",
        _label(CallStatus, data.get("status")),
        _named(names.users, data.get("user_id")),
    )


def _deal(event: Event, data: dict, names: LogNames) -> str:
    return _joined(
        f"Deal “{data.get('title', '')}”",
        _named(names.stages, data.get("stage_id")),
        _label(DealStatus, data.get("status")),
        _named(names.users, data.get("assigned_to_id")),
    )


def _lead(event: Event, data: dict, names: LogNames) -> str:
    name = f"{data.get('first_name') or ''} {data.get('last_name') or ''}".strip()
    return _joined(
        f"Lead {name or data.get('email') or '#' + str(data.get('id'))}",
        _label(LeadStatus, data.get("status")),
        _named(names.users, data.get("assigned_to_id")),
    )


def _notification(event: Event, data: dict, names: LogNames) -> str:
    to = names.users.get(event.user_id) if event.user_id is not None else None
    return f"Notification to {to or 'user #' + str(event.user_id)}: {data.get('title', '')}"


def _email(event: Event, data: dict, names: LogNames) -> str:
    subject = f"E-mail “{data.get('subject') or '(no subject)'}”"
    if event.type == "email.created":
        sender = data.get("from_email") or ""
        if data.get("from_name"):
            sender = f"{data['from_name']} <{sender}>"
        return f"{subject} from {sender}"
    to = ", ".join(str(a) for a in data.get("to_emails") or [])
    if event.type == "email.opened":
        return _joined(f"{subject} to {to}", f"opened {data.get('opens_count')}×")
    if event.type == "email.clicked":
        return _joined(
            f"{subject} to {to}",
            f"clicked {data.get('link_url', '')} ({data.get('clicks_count')}×)",
        )
    return subject


_SUBJECTS = {
    "call": _call,
    "deal": _deal,
    "lead": _lead,
    "notification": _notification,
    "email": _email,
}
