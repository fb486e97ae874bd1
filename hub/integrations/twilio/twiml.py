"""The TwiML the hub answers voice webhooks with."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone
from twilio.twiml.voice_response import VoiceResponse

from hub.domain.calls.hours import OpeningHours
from hub.domain.calls.models import Call, PhoneNumber
from hub.domain.calls.selectors import e164_or_none

RING_SECONDS = 20
VOICEMAIL_MAX_SECONDS = 120
NOBODY_AVAILABLE = "Nobody can take your call right now. Please leave a message after the tone."


def _url(path: str) -> str:
    return f"{settings.HUB_PUBLIC_URL}{path}"


def _voicemail(response: VoiceResponse, message: str = NOBODY_AVAILABLE) -> VoiceResponse:
    response.say(message)
    response.record(
        action=_url("/twilio/voice/voicemail"),
        method="POST",
        max_length=VOICEMAIL_MAX_SECONDS,
        play_beep=True,
        recording_status_callback=_url("/twilio/voice/recording"),
        recording_status_callback_method="POST",
        recording_status_callback_event="completed",
    )
    # Reached only when nothing was recorded.
    response.hangup()
    return response


def incoming(
    number: PhoneNumber | None,
    *,
    hours: OpeningHours | None = None,
    at: datetime | None = None,
) -> str:
    """Ring the number's owner; voicemail when they do not answer, have no phone or left.

    Outside the company's opening ``hours`` (checked at ``at``, by default now) nobody is rung:
    the caller hears the closed message and goes straight to voicemail.
    """
    response = VoiceResponse()
    if number is None:
        response.say("Sorry, this number is not in service. Goodbye.")
        response.hangup()
        return str(response)
    if hours is not None and not hours.is_open(at or timezone.now()):
        return str(_voicemail(response, hours.closed_message_for(number.company.company_name)))
    # A number whose owner left the company (see company_number_find) goes to voicemail.
    owner = number.user if getattr(number, "owner_is_member", True) else None
    owner_phone = e164_or_none(owner.phone) if owner is not None else None
    if owner_phone is None:
        return str(_voicemail(response))
    dial = response.dial(
        action=_url("/twilio/voice/dialed"),
        method="POST",
        timeout=RING_SECONDS,
        answer_on_bridge=True,
    )
    dial.number(owner_phone)
    return str(response)


def outbound(call: Call | None) -> str:
    """Connect the person a click-to-call reached to the salesperson who placed it."""
    response = VoiceResponse()
    user_phone = e164_or_none(call.user.phone) if call is not None and call.user else None
    if call is None or user_phone is None:
        response.say("Sorry, we cannot connect your call right now. Please try again later.")
        response.hangup()
        return str(response)
    company_number = call.phone_number.phone_number if call.phone_number else call.from_number
    dial = response.dial(
        action=_url("/twilio/voice/dialed"),
        method="POST",
        timeout=RING_SECONDS,
        caller_id=company_number,
    )
    dial.number(user_phone)
    return str(response)


def dialed(dial_call_status: str, *, direction: str = "inbound") -> str:
    """After ringing a person: hang up if they answered, else take a voicemail.

    A click-to-call (``outbound-api``) whose salesperson did not answer has nobody to leave a
    voicemail for: the person called hears an apology instead.
    """
    response = VoiceResponse()
    if dial_call_status.lower() in ("completed", "answered", "in-progress"):
        response.hangup()
        return str(response)
    if direction.lower() != "inbound":
        response.say("Sorry, nobody is available to take this call. We will call you back.")
        response.hangup()
        return str(response)
    return str(_voicemail(response))


def voicemail_done() -> str:
    response = VoiceResponse()
    response.say("Thank you. Goodbye.")
    response.hangup()
    return str(response)


def empty() -> str:
    return str(VoiceResponse())
