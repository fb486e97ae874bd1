"""What Twilio reports about a call, as typed values: the input of :mod:`hub.domain.calls.callbacks`.

``hub.integrations.twilio.parse`` builds them from a stored callback's parameters; nothing here
reads a Twilio parameter name. Each names its call by CallSid; those that may be the first the
hub hears of a call carry what creating it takes (``Leg``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class Leg:
    """Who called whom, as Twilio sent the numbers (unchecked), and in which direction."""

    direction: str
    from_number: str
    to_number: str


@dataclass(frozen=True)
class Timing:
    """The timing and price a status callback carries (None: not reported)."""

    duration: int | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    price: Decimal | None = None
    price_unit: str | None = None

    def fields(self) -> dict[str, object]:
        """The reported values by ``calls_call`` column, for a call created from the report."""
        given = {
            "duration": self.duration,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "price": self.price,
            "price_unit": self.price_unit or None,
        }
        return {name: value for name, value in given.items() if value is not None}


@dataclass(frozen=True)
class StatusReport:
    """A call status callback: ``twilio_status`` as sent, ``status`` its D7 value (None when
    the hub does not know it)."""

    call_sid: str
    sequence_number: int | None
    leg: Leg
    twilio_status: str
    status: str | None
    timing: Timing


@dataclass(frozen=True)
class IncomingReport:
    """An inbound call reaching one of the companies' numbers (``status``: its D7 status)."""

    call_sid: str
    leg: Leg
    status: str


@dataclass(frozen=True)
class DialReport:
    """How the ``<Dial>`` to the number's owner ended (``dial_status`` lower case, as sent)."""

    call_sid: str
    leg: Leg
    dial_status: str


@dataclass(frozen=True)
class VoicemailReport:
    """The voicemail recorded on a call (an empty ``recording_url`` or no duration: none)."""

    call_sid: str
    leg: Leg
    recording_url: str
    duration: int
    transcription: str | None


@dataclass(frozen=True)
class RecordingReport:
    """A recording of a call (carries no numbers: its call must be known already)."""

    call_sid: str
    recording_status: str
    recording_sid: str
    recording_url: str
    duration: int


CallReport = StatusReport | IncomingReport | DialReport | VoicemailReport | RecordingReport
