"""``/console/ops/``, the operations page (superusers only).

It renders ``hub.ops.health.ops_snapshot()`` on the server, so it reads without JavaScript;
``ops.js`` then subscribes to the same figures over the websocket (``ops.subscribe``) and
redraws them with every ``ops`` frame (docs/PROTOCOL.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import escape

from hub.console import selectors
from hub.ops import health

REFUSED = "The operations page is for superusers only: your account is not one."

# The events chart: a bar per bucket of the snapshot's series, drawn in a box of this size
# (ops.js draws it the same way from each frame).
CHART_WIDTH, CHART_HEIGHT = 600, 80


def page(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if not request.user.is_superuser:
        return HttpResponseForbidden(f"<p>{escape(REFUSED)}</p>")
    cursor = selectors.console_cursor()
    snapshot = health.ops_snapshot()
    context = {
        "page": "ops",
        "cursor": cursor,
        "ops": snapshot,
        "scheduler": scheduler_rows(snapshot),
        "bars": chart_bars(snapshot["events"]["series"]),
        "chart": {"width": CHART_WIDTH, "height": CHART_HEIGHT},
        "admin_urls": {
            # ops.js puts a row's id in place of the 0.
            "mailbox": reverse("admin:emails_emailaccount_change", args=[0]),
            "slack": reverse("admin:hub_slack_slackinstallation_change", args=[0]),
        },
    }
    return render(request, "hub/console/ops.html", context)


def scheduler_rows(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    """The scheduler's jobs, each marked late when its last run is older than twice its interval."""
    now = datetime.fromisoformat(snapshot["generated_at"])
    return [job | {"late": job_is_late(job, now)} for job in snapshot["scheduler"]]


def job_is_late(job: dict[str, Any], now: datetime) -> bool:
    if job["last_run"] is None:
        return False  # never run here yet: shown as "never", not as late
    age = now - datetime.fromisoformat(job["last_run"])
    return age > timedelta(seconds=2 * job["every_seconds"])


def chart_bars(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One bar per bucket: x, width and height in the chart's box, scaled to the largest."""
    if not series:
        return []
    top = max(max(b["count"] for b in series), 1)
    step = CHART_WIDTH / len(series)
    return [
        {
            "x": round(i * step, 2),
            "width": round(max(step - 1, 1), 2),
            "height": round(b["count"] / top * CHART_HEIGHT, 2),
            "y": round(CHART_HEIGHT - b["count"] / top * CHART_HEIGHT, 2),
            "at": b["at"],
            "count": b["count"],
        }
        for i, b in enumerate(series)
    ]
