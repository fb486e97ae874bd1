"""Slack alerts: events of the log routed to Slack messages (collect), and the switches.

**Collect** (:func:`slack_alerts_collect`) reads ``hub_event`` after its cursor (the
``slack_alerts`` row of ``hub_relay_cursor``). Log ids are commit order (the relay moves committed
outbox rows in the order they commit; SQLite has one writer), so the rows after the cursor are
every change committed since, whoever wrote it: a hub service, the CRM, a psql session. Each
event becomes zero or more ``hub_slack_alert`` rows, one per workspace of its company that wants
that kind, inserted with the event's id, kind and recipient as their unique key (a second look
at the same event adds nothing), and the cursor moves past them, in one transaction holding the
cursor's row lock: two collectors never interleave, and alert ids follow the log's order.

============================  ==================================================================
event                         alert
============================  ==================================================================
deal.updated, status → won    ``deal_won`` to the workspace's alerts channel
deal.updated, status → lost   ``deal_lost`` to the alerts channel
deal.updated, stage (open)    ``deal_moved`` to the alerts channel
deal.* with a new assignee    ``deal_assigned``: a DM to the assignee (an active member)
lead.* with a new assignee    ``lead_assigned``: a DM to the assignee
call.* inbound, not taken     ``missed_call`` (no answer, busy, cancelled) or ``voicemail`` (the
                              call's disposition says one was left): a DM to the owner of the
                              company number called (else the call's user)
============================  ==================================================================

**Deliver** (posting them, in order) is :mod:`hub.integrations.slack.alert_delivery`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from prometheus_client import Counter

from hub.domain.authentication.selectors import memberships_active
from hub.domain.calls.models import Call, CallDirection, CallStatus, Disposition, PhoneNumber
from hub.domain.crm.models import DealStatus
from hub.domain.events.models import Event
from hub.domain.events.services import event_log_consume
from hub.integrations.slack.models import (
    AlertKind,
    AlertStatus,
    SlackAlert,
    SlackInstallation,
)

logger = logging.getLogger(__name__)

#: The row of ``hub_relay_cursor`` holding the last event id turned into alerts.
CURSOR = "slack_alerts"
EVENT_TYPES = (
    "deal.created",
    "deal.updated",
    "lead.created",
    "lead.updated",
    "call.created",
    "call.updated",
)
#: The switches of an installation (``--alerts-on``/``--alerts-off`` names) and their columns.
SWITCHES = {
    "deal_won": "alert_deal_won",
    "deal_lost": "alert_deal_lost",
    "deal_moved": "alert_deal_moved",
    "assigned": "alert_assigned",
    "missed_call": "alert_missed_call",
}
#: The switch that turns each kind of alert on or off.
KIND_SWITCH = {
    AlertKind.DEAL_WON: "alert_deal_won",
    AlertKind.DEAL_LOST: "alert_deal_lost",
    AlertKind.DEAL_MOVED: "alert_deal_moved",
    AlertKind.DEAL_ASSIGNED: "alert_assigned",
    AlertKind.LEAD_ASSIGNED: "alert_assigned",
    AlertKind.MISSED_CALL: "alert_missed_call",
    AlertKind.VOICEMAIL: "alert_missed_call",
}
#: An inbound call ending in one of these was not taken.
MISSED_STATUSES = frozenset({CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.CANCELLED})
_ENDED = frozenset({*MISSED_STATUSES, CallStatus.COMPLETED, CallStatus.FAILED})
_MISSED_DISPOSITIONS = frozenset({Disposition.NO_ANSWER, Disposition.BUSY})
# Public channels are C…, private ones (older) G…; Slack's ids are upper-case letters and digits.
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{6,31}")
_MAX_ID = 2**63 - 1

ALERTS = Counter(
    "hub_slack_alerts_total",
    "Slack alerts by kind and outcome (collected, sent, failed, skipped, retried, ratelimited)",
    ["kind", "outcome"],
)


def alert_is_on(installation: SlackInstallation, kind: str) -> bool:
    """Whether the installation's switch for this kind of alert is on."""
    return bool(getattr(installation, KIND_SWITCH[AlertKind(kind)]))


# --- routing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """Where one event's alert goes: the alerts channel, or a DM to ``user_id``."""

    kind: str
    user_id: int | None = None

    @property
    def to_channel(self) -> bool:
        return self.user_id is None


def _id(value: Any) -> int | None:
    """A positive id from a payload, or None (payloads are JSON anyone's SQL may have written)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if 0 < number <= _MAX_ID else None


def _changed(event: Event) -> set[str]:
    if event.type.endswith(".created"):
        return {"assigned_to_id"}  # an assignee given at creation is an assignment
    changed = event.payload.get("changed")
    return {str(name) for name in changed} if isinstance(changed, list) else set()


def _deal_routes(event: Event) -> list[Route]:
    payload, changed = event.payload, _changed(event)
    routes = []
    status = payload.get("status")
    if "status" in changed and status == DealStatus.WON:
        routes.append(Route(AlertKind.DEAL_WON))
    elif "status" in changed and status == DealStatus.LOST:
        routes.append(Route(AlertKind.DEAL_LOST))
    elif "stage_id" in changed and status == DealStatus.OPEN:
        routes.append(Route(AlertKind.DEAL_MOVED))
    assignee = _id(payload.get("assigned_to_id"))
    if "assigned_to_id" in changed and assignee is not None:
        routes.append(Route(AlertKind.DEAL_ASSIGNED, user_id=assignee))
    return routes


def _lead_routes(event: Event) -> list[Route]:
    assignee = _id(event.payload.get("assigned_to_id"))
    if "assigned_to_id" in _changed(event) and assignee is not None:
        return [Route(AlertKind.LEAD_ASSIGNED, user_id=assignee)]
    return []


@dataclass(frozen=True)
class _CallFacts:
    """What the log's call payload does not say: the disposition, the number's owner."""

    disposition: str | None
    owner_id: int | None


def _call_facts(events: list[Event]) -> dict[int, _CallFacts]:
    calls = [e for e in events if e.type.startswith("call.") and _call_ended_inbound(e)]
    call_ids = {i for e in calls if (i := _id(e.payload.get("id"))) is not None}
    number_ids = {i for e in calls if (i := _id(e.payload.get("phone_number_id"))) is not None}
    dispositions = dict(Call.objects.filter(pk__in=call_ids).values_list("pk", "disposition"))
    owners = dict(PhoneNumber.objects.filter(pk__in=number_ids).values_list("pk", "user_id"))
    facts = {}
    for event in calls:
        call_id = _id(event.payload.get("id"))
        number_id = _id(event.payload.get("phone_number_id"))
        owner = owners.get(number_id) if number_id else _id(event.payload.get("user_id"))
        disposition = dispositions.get(call_id) if call_id else None
        facts[event.id] = _CallFacts(disposition, owner)
    return facts


def _call_ended_inbound(event: Event) -> bool:
    payload = event.payload
    if not isinstance(payload, dict) or not isinstance(payload.get("status"), str):
        return False
    return payload.get("direction") == CallDirection.INBOUND and payload["status"] in _ENDED


def _call_routes(event: Event, facts: _CallFacts | None) -> list[Route]:
    if facts is None or facts.owner_id is None:
        return []
    if facts.disposition == Disposition.VOICEMAIL:
        return [Route(AlertKind.VOICEMAIL, user_id=facts.owner_id)]
    status = event.payload.get("status")
    if status in MISSED_STATUSES or facts.disposition in _MISSED_DISPOSITIONS:
        return [Route(AlertKind.MISSED_CALL, user_id=facts.owner_id)]
    return []


def event_routes(event: Event, calls: dict[int, _CallFacts] | None = None) -> list[Route]:
    """The alerts an event of the log makes, before any workspace's switches."""
    if not isinstance(event.payload, dict):
        return []
    try:
        return _routes(event, calls or {})
    except (TypeError, ValueError, AttributeError):
        # A payload no trigger or service writes (someone's hand-made row): it alerts nothing,
        # and the events after it are not held up.
        logger.warning("slack alerts: event %s has a payload that cannot be read", event.id)
        return []


def _routes(event: Event, calls: dict[int, _CallFacts]) -> list[Route]:
    topic = event.type.partition(".")[0]
    if topic == "deal":
        return _deal_routes(event)
    if topic == "lead":
        return _lead_routes(event)
    if topic == "call":
        return _call_routes(event, calls.get(event.id))
    return []


# --- collect ----------------------------------------------------------------------------------


def _installations(company_ids: Iterable[int]) -> dict[int, list[SlackInstallation]]:
    by_company: dict[int, list[SlackInstallation]] = {}
    rows = SlackInstallation.objects.filter(
        company_id__in=set(company_ids), is_active=True, company__is_active=True
    ).order_by("pk")
    for installation in rows:
        by_company.setdefault(installation.company_id, []).append(installation)
    return by_company


def _members(pairs: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """The (company, user) pairs among ``pairs`` that are active memberships."""
    if not pairs:
        return set()
    rows = memberships_active().filter(
        company_id__in={c for c, _ in pairs}, user_id__in={u for _, u in pairs}
    )
    return set(rows.values_list("company_id", "user_id")) & pairs


def _alerts_for(events: list[Event]) -> list[SlackAlert]:
    calls = _call_facts(events)
    routed = [
        (event, event.company_id, routes)
        for event in events
        if event.company_id is not None and (routes := event_routes(event, calls))
    ]
    workspaces = _installations(company_id for _, company_id, _ in routed)
    members = _members(
        {(company_id, r.user_id) for _, company_id, rs in routed for r in rs if r.user_id}
    )
    alerts = []
    for event, company_id, routes in routed:
        for installation in workspaces.get(company_id, []):
            for route in routes:
                alert = _alert(installation, event, route, members)
                if alert is not None:
                    alerts.append(alert)
    return alerts


def _alert(
    installation: SlackInstallation, event: Event, route: Route, members: set[tuple[int, int]]
) -> SlackAlert | None:
    if not alert_is_on(installation, route.kind):
        return None
    common = {"installation": installation, "event_id": event.id, "kind": route.kind}
    if route.to_channel:
        channel = installation.alerts_channel_id
        if not channel:
            return None
        return SlackAlert(
            **common, channel_id=channel, recipient=f"channel:{channel}", payload=event.payload
        )
    if (installation.company_id, route.user_id) not in members:
        return None  # a former member (or someone else's id) hears nothing of the company
    return SlackAlert(
        **common, user_id=route.user_id, recipient=f"user:{route.user_id}", payload=event.payload
    )


def slack_alerts_collect(*, limit: int = 500) -> int:
    """Turn the log's events after the cursor (at most ``limit``) into alerts; how many routed.

    The first run only places the cursor at the newest event: no alerts for history.
    """

    def store(events: list[Event]) -> list[SlackAlert]:
        alerts = _alerts_for(events)
        # In log order: the rows' ids are the order they are posted in.
        SlackAlert.objects.bulk_create(alerts, ignore_conflicts=True)
        return alerts

    alerts = event_log_consume(cursor=CURSOR, types=EVENT_TYPES, limit=limit, handle=store) or []
    for alert in alerts:
        ALERTS.labels(kind=alert.kind, outcome="collected").inc()
    return len(alerts)


def slack_alerts_due(*, now: datetime) -> list[int]:
    """The installations with an alert to post now (none while one of theirs is being posted)."""
    waiting = Q(status=AlertStatus.PENDING) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    stale = Q(status=AlertStatus.SENDING) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    busy = SlackAlert.objects.filter(status=AlertStatus.SENDING, next_attempt_at__gt=now)
    return list(
        SlackAlert.objects.filter(waiting | stale)
        .exclude(installation_id__in=busy.values("installation_id"))
        .order_by("installation_id")
        .values_list("installation_id", flat=True)
        .distinct()
    )


# --- the switches and the console's retry -----------------------------------------------------


def slack_installation_by_team(team_id: str) -> SlackInstallation | None:
    """The installation of a workspace, on or off, or None."""
    return SlackInstallation.objects.filter(team_id=team_id).first()


def alerts_channel_check(channel_id: str) -> str:
    """The channel id, stripped; ValidationError unless it looks like Slack's (C… or G…)."""
    value = channel_id.strip()
    if value and not _CHANNEL_ID.fullmatch(value):
        shown = value[:40]
        raise ValidationError(
            {
                "alerts_channel_id": f"“{shown}” is not a Slack channel id (C… or G…, capitals "
                "and digits): in Slack, open the channel's details; the id is at the bottom."
            }
        )
    return value


def slack_alerts_configure(
    *,
    installation: SlackInstallation,
    channel_id: str | None = None,
    kinds_on: Iterable[str] = (),
    kinds_off: Iterable[str] = (),
) -> SlackInstallation:
    """Set a workspace's alerts channel (``""``: none; None: unchanged) and switch kinds on/off.

    Kinds are the names of :data:`SWITCHES`. A channel given clears the channel's reported
    error: the next alert tells whether it gets through.
    """
    on, off = set(kinds_on), set(kinds_off)
    unknown = sorted((on | off) - SWITCHES.keys())
    if unknown:
        raise ValidationError(
            f"Unknown alert kind {', '.join(unknown)}; the kinds are {', '.join(SWITCHES)}."
        )
    if on & off:
        raise ValidationError(f"{', '.join(sorted(on & off))} cannot be switched both on and off.")
    fields = [SWITCHES[kind] for kind in sorted(on | off)]
    for kind in on | off:
        setattr(installation, SWITCHES[kind], kind in on)
    if channel_id is not None:
        installation.alerts_channel_id = alerts_channel_check(channel_id)
        installation.alerts_channel_error = ""
        fields += ["alerts_channel_id", "alerts_channel_error"]
    if fields:
        installation.save(update_fields=[*fields, "updated_at"])
    return installation


RETRYABLE = (AlertStatus.FAILED, AlertStatus.SKIPPED)


def slack_alerts_retry(*, alerts: QuerySet[SlackAlert]) -> tuple[int, list[int]]:
    """Put failed or skipped alerts back in their queue; how many, and their installations."""
    with transaction.atomic():
        chosen = alerts.filter(status__in=RETRYABLE)
        installation_ids = sorted(set(chosen.values_list("installation_id", flat=True)))
        count = chosen.update(
            status=AlertStatus.PENDING, attempts=0, next_attempt_at=None, last_error=""
        )
    return count, installation_ids
