"""Twilio voice webhooks: verify, store in the inbox, ring the drain's doorbell, answer.

The views are async and :func:`~hub.ops.middleware.sessionless`: the signature is checked in
the event loop, and storing, enqueueing and answering take one hop to a thread.

Every webhook checks Twilio's signature over ``HUB_PUBLIC_URL`` + the request's path and query
(the hub sits behind a proxy, so the request's own host is not trusted) and the AccountSid,
before anything is stored. A stored callback is answered 2xx even when the broker is down:
the sweeper enqueues it later.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, QueryDict
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from hub.domain.calls import hours as opening_hours
from hub.domain.calls.inbound import call_outbound_take
from hub.domain.calls.selectors import call_outbound_find, company_number_find
from hub.integrations.twilio import twiml
from hub.integrations.twilio.drain import drain_kick
from hub.integrations.twilio.inbox import CALLBACKS, callback_store
from hub.integrations.twilio.models import CallbackKind
from hub.ops.middleware import sessionless
from hub.workers.twilio import twilio_inbox_drain

logger = logging.getLogger(__name__)

_SID = re.compile(r"[A-Za-z0-9]{2,64}")
_SEQUENCE_MAX = 2**31 - 1


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _params(post: QueryDict) -> dict[str, Any]:
    return {k: v[0] if len(v) == 1 else v for k, v in post.lists()}


def _verify(*, full_path: str, post: QueryDict, signature: str, signature_settings: str | None):
    token = settings.TWILIO_AUTH_TOKEN
    if not token or not settings.TWILIO_ACCOUNT_SID or not settings.HUB_PUBLIC_URL:
        raise Refused(
            503,
            "Twilio webhooks are off: "
            "set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and HUB_PUBLIC_URL.",
        )
    url = f"{settings.HUB_PUBLIC_URL}{full_path}"
    algorithm = get_signature_algorithm(signature_settings)
    if not signature or not RequestValidator(token).validate(url, post, signature, algorithm):
        raise Refused(403, "Invalid Twilio signature.")
    if post.get("AccountSid") != settings.TWILIO_ACCOUNT_SID:
        raise Refused(403, "This callback is for another Twilio account.")


def _checked(kind: str, params: dict[str, Any]) -> tuple[str, int | None]:
    call_sid = params.get("CallSid")
    if not isinstance(call_sid, str) or not _SID.fullmatch(call_sid):
        raise Refused(400, "CallSid is missing or malformed.")
    sequence = params.get("SequenceNumber")
    number = None
    if sequence is not None:
        digits = isinstance(sequence, str) and sequence.isascii() and sequence.isdigit()
        if not digits or int(sequence) > _SEQUENCE_MAX:
            raise Refused(400, "SequenceNumber must be a non-negative integer.")
        number = int(sequence)
    if kind == CallbackKind.RECORDING and not _SID.fullmatch(str(params.get("RecordingSid", ""))):
        raise Refused(400, "RecordingSid is missing or malformed.")
    if kind == CallbackKind.STATUS and not params.get("CallStatus"):
        raise Refused(400, "CallStatus is missing.")
    return call_sid, number


def _enqueue(callback_id: int) -> None:
    try:
        drain_kick(twilio_inbox_drain)
    except Exception:  # the row is stored; the sweeper enqueues it once the broker is back
        CALLBACKS.labels(kind="any", result="enqueue_failed").inc()
        logger.exception("twilio callback %s stored but not enqueued", callback_id)


Verified = tuple[dict[str, Any], str, int | None]


def verified(
    kind: str,
    *,
    full_path: str,
    post: QueryDict,
    signature: str,
    signature_settings: str | None = None,
) -> HttpResponse | Verified:
    """Verify a callback; return its params, CallSid and SequenceNumber, or the refusal.

    ``full_path`` is the path and query string the request was made to (the signed URL is
    ``HUB_PUBLIC_URL`` + it), ``post`` its form parameters, ``signature`` the
    ``X-Twilio-Signature`` header. Shared by the Django views and the ASGI path (``asgi.py``).
    """
    try:
        _verify(
            full_path=full_path,
            post=post,
            signature=signature,
            signature_settings=signature_settings,
        )
        params = _params(post)
        call_sid, sequence = _checked(kind, params)
    except Refused as refused:
        return refused_response(kind, refused)
    return params, call_sid, sequence


def refused_response(kind: str, refused: Refused) -> HttpResponse:
    CALLBACKS.labels(kind=kind, result=str(refused.status)).inc()
    if refused.status != 403:
        logger.warning("twilio %s webhook refused (%s): %s", kind, refused.status, refused)
    return HttpResponse(str(refused), status=refused.status, content_type="text/plain")


def _verified(request: HttpRequest, kind: str) -> HttpResponse | Verified:
    return verified(
        kind,
        full_path=request.get_full_path(),
        post=request.POST,
        signature=request.headers.get(SIGNATURE_HEADER, ""),
        signature_settings=request.headers.get(SIGNATURE_SETTINGS_HEADER),
    )


def store_and_answer(kind: str, verified: Verified) -> HttpResponse:
    """Store a verified callback in the inbox, enqueue it and return the webhook's answer."""
    params, call_sid, sequence = verified
    row = callback_store(kind=kind, params=params, call_sid=call_sid, sequence_number=sequence)
    if row is not None:
        _enqueue(row.id)
    return INBOX_WEBHOOKS[kind](params)


async def _webhook(request: HttpRequest, kind: str) -> HttpResponse:
    """Verify the callback in the event loop; store it, enqueue it and answer in one thread hop."""
    checked = _verified(request, kind)
    if isinstance(checked, HttpResponse):
        return checked
    return await sync_to_async(store_and_answer)(kind, checked)


def _xml(body: str) -> HttpResponse:
    return HttpResponse(body, content_type="text/xml")


def _no_content(params: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status=204)


def _incoming(params: dict[str, Any]) -> HttpResponse:
    number = company_number_find(params.get("To"))
    # One small query more (the unique company_id index), none for an unknown number.
    hours = (
        opening_hours.opening_hours_find(company_id=number.company_id)
        if number is not None
        else None
    )
    return _xml(twiml.incoming(number, hours=hours, at=opening_hours.now()))


def _dialed(params: dict[str, Any]) -> HttpResponse:
    status, direction = params.get("DialCallStatus"), params.get("Direction")
    return _xml(twiml.dialed(str(status or ""), direction=str(direction or "inbound")))


def _voicemail(params: dict[str, Any]) -> HttpResponse:
    return _xml(twiml.voicemail_done())


def _outbound(call_sid: str, params: dict[str, Any]) -> HttpResponse:
    # Twilio may ask before call_place stored the sid: the row waiting for it is adopted then.
    call = call_outbound_find(call_sid=call_sid) or call_outbound_take(
        call_sid=call_sid,
        from_number=str(params.get("From") or ""),
        to_number=str(params.get("To") or ""),
    )
    if call is None:
        logger.warning("twilio outbound TwiML for unknown call %s", call_sid)
    return _xml(twiml.outbound(call))


#: The answer of each inbox webhook, given the callback's params.
INBOX_WEBHOOKS: dict[str, Callable[[dict[str, Any]], HttpResponse]] = {
    CallbackKind.STATUS: _no_content,
    CallbackKind.RECORDING: _no_content,
    CallbackKind.INCOMING: _incoming,
    CallbackKind.DIALED: _dialed,
    CallbackKind.VOICEMAIL: _voicemail,
}


def _webhook_view(kind: str):
    """A Twilio callback webhook: verified, stored in the inbox, enqueued, answered."""

    async def view(request: HttpRequest) -> HttpResponse:
        return await _webhook(request, kind)

    view.__name__ = view.__qualname__ = f"voice_{kind}"
    return sessionless(csrf_exempt(require_POST(view)))


voice_status = _webhook_view(CallbackKind.STATUS)
voice_recording = _webhook_view(CallbackKind.RECORDING)
voice_incoming = _webhook_view(CallbackKind.INCOMING)
voice_dialed = _webhook_view(CallbackKind.DIALED)
voice_voicemail = _webhook_view(CallbackKind.VOICEMAIL)


@sessionless
@csrf_exempt
@require_POST
async def voice_outbound(request: HttpRequest) -> HttpResponse:
    """The TwiML of a click-to-call, fetched when the person called answers.

    Not stored in the inbox: it reports nothing the status callbacks do not, and Twilio waits
    for this answer, so it is looked up (and a waiting click-to-call row adopted) right here.
    """
    verified = _verified(request, "outbound")
    if isinstance(verified, HttpResponse):
        return verified
    params, call_sid, _ = verified
    return await sync_to_async(_outbound)(call_sid, params)
