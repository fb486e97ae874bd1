"""/metrics: Prometheus text format, with the hub's own metrics."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.django_db

HUB_METRICS = {
    "hub_http_requests": "counter",
    "hub_http_request_seconds": "histogram",
    "hub_ws_connections": "gauge",
    "hub_events_appended": "counter",
}


def _families(client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def _requests_counted(client, method: str, status: str) -> float:
    family = _families(client)["hub_http_requests"]
    return sum(
        sample.value
        for sample in family.samples
        if sample.name == "hub_http_requests_total"
        and sample.labels == {"method": method, "status": status}
    )


def test_metrics_is_prometheus_text_with_the_hub_metrics(client):
    families = _families(client)

    for name, kind in HUB_METRICS.items():
        assert name in families, name
        assert families[name].type == kind
    assert "process_cpu_seconds" in families or "python_info" in families


def test_requests_are_counted_by_method_and_status(client):
    before = _requests_counted(client, "GET", "200")
    client.get("/healthz")
    # /metrics itself counts: the two reads in between add two more.
    assert _requests_counted(client, "GET", "200") == before + 2


def test_unknown_methods_share_one_label(client):
    client.generic("BREW", "/healthz")
    client.generic("PROPFIND", "/healthz")
    family = _families(client)["hub_http_requests"]
    methods = {sample.labels["method"] for sample in family.samples if "method" in sample.labels}
    assert "other" in methods
    assert not {"BREW", "PROPFIND"} & methods
