"""Helpers shared by the console tests (and the browser tests of the same pages)."""

from __future__ import annotations

import json
import re

from hub.domain.calls.services import call_create
from hub.domain.crm.models import DealStage


def make_call(company, sid: str, **fields):
    """An inbound call of ``company``, as a Twilio status callback would create it."""
    return call_create(
        company=company,
        direction="Inbound",
        from_number="+14155550100",
        to_number="+14155550111",
        twilio_call_sid=sid,
        **fields,
    )


def stage(company, name: str) -> DealStage:
    """The stage called ``name`` of ``company``'s default pipeline."""
    return DealStage.objects.get(pipeline__company=company, pipeline__is_default=True, name=name)


def json_data(response, element_id: str):
    """The JSON of the page's ``<script id=element_id type="application/json">``."""
    match = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    assert match, f"no #{element_id} in the page"
    return json.loads(match.group(1))
