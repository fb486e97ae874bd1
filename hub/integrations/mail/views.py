"""The tracking endpoints mail clients hit: the open pixel and the click redirect.

Both are public (the token is the credential) and sessionless: no cookie is set or read.
The pixel always answers with the GIF, whatever the token; a click with a token that is not
ours gets a 404 and no redirect anywhere.
"""

from __future__ import annotations

import base64
import ipaddress
import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, HttpResponseRedirect
from django.views.decorators.http import require_GET

from hub.domain.emails.tracking import tracking_click_record, tracking_open_record
from hub.ops.middleware import sessionless

logger = logging.getLogger(__name__)

# A transparent 1×1 GIF (43 bytes).
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_NOT_FOUND = "This link is not valid."


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: ``REMOTE_ADDR``, or behind the proxy (``HUB_BEHIND_PROXY``) the
    last ``X-Forwarded-For`` entry, the one that proxy appended (those before it are the
    client's word)."""
    address = request.META.get("REMOTE_ADDR", "")
    if settings.HUB_BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        address = forwarded or address
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


@sessionless
@require_GET
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    try:
        tracking_open_record(
            token=token, ip=client_ip(request), user_agent=request.headers.get("User-Agent", "")
        )
    except DatabaseError:  # the reader still gets the image; this open is not counted
        logger.exception("mail open not recorded")
    return _no_store(HttpResponse(PIXEL, content_type="image/gif"))


@sessionless
@require_GET
def click(request: HttpRequest, token: str) -> HttpResponse:
    url = tracking_click_record(
        token=token, ip=client_ip(request), user_agent=request.headers.get("User-Agent", "")
    )
    if url is None:
        return _no_store(HttpResponseNotFound(_NOT_FOUND, content_type="text/plain"))
    return _no_store(HttpResponseRedirect(url))
