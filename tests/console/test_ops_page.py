"""/console/ops/: superusers only; the figures rendered on the server before any push."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.console.ops_page import REFUSED, chart_bars, job_is_late
from hub.ops import health
from tests import factories

pytestmark = pytest.mark.django_db

URL = "/console/ops/"


def test_anonymous_goes_to_the_admin_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/console/ops/"


def test_staff_who_is_not_a_superuser_is_refused_with_a_sentence(client, staff_alice):
    client.force_login(staff_alice)
    response = client.get(URL)
    assert response.status_code == 403
    assert REFUSED in response.content.decode()


def test_a_signed_in_non_staff_user_is_refused_too(client, alice):
    client.force_login(alice)
    assert client.get(URL).status_code == 403


def test_a_superuser_sees_the_figures(client, acme):
    root = factories.UserFactory(is_superuser=True, is_staff=True)
    health.web_presence_save(process="web-a:1:x", by_company={acme.id: 2, None: 1})
    client.force_login(root)
    response = client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    snapshot = response.context["ops"]
    assert snapshot["clients"]["total"] == 3
    assert '<span data-figure="clients-total">3</span>' in page
    company = next(r for r in snapshot["clients"]["by_company"] if r["company_id"] == acme.id)
    assert company["count"] == 2
    assert f'data-company-id="{acme.id}"><td>Acme</td><td class="num" data-field="count">2<' in page
    assert "no single company" in page
    # Every queue and scheduled job of the snapshot has its row; the chart has its bars.
    for queue in snapshot["queues"]:
        assert f'data-queue="{queue["name"]}"' in page
    for job in snapshot["scheduler"]:
        assert f'data-job="{job["job"]}"' in page
    assert page.count("<rect ") == len(snapshot["events"]["series"])
    assert 'src="/static/hub/console/ops.js"' in page


def test_the_operations_link_is_for_superusers_only(client, staff_alice):
    client.force_login(staff_alice)
    assert 'href="/console/ops/"' not in client.get("/console/calls/").content.decode()
    root = factories.UserFactory(is_superuser=True, is_staff=True)
    client.force_login(root)
    assert 'href="/console/ops/"' in client.get("/console/calls/").content.decode()


def test_a_job_is_late_past_twice_its_interval():
    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)

    def job(ago: float | None) -> dict:
        last = None if ago is None else (now - timedelta(seconds=ago)).isoformat()
        return {"job": "j", "every_seconds": 30.0, "last_run": last, "last_outcome": "ok"}

    assert not job_is_late(job(59), now)
    assert job_is_late(job(61), now)
    assert not job_is_late(job(None), now)


def test_the_chart_scales_its_bars_to_the_largest_bucket():
    series = [{"at": f"t{i}", "count": c} for i, c in enumerate([0, 5, 10])]
    bars = chart_bars(series)
    assert [b["height"] for b in bars] == [0, 40, 80]
    assert [b["y"] for b in bars] == [80, 40, 0]
    assert bars[1]["x"] == 200
