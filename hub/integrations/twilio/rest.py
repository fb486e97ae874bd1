"""The Twilio REST API: a configured client and the few calls the hub makes, with one error type.

Everything else in the hub sees :class:`TwilioCall` values and :class:`TwilioError`; nothing
outside this module knows HTTP. ``TWILIO_API_BASE_URL`` points the real client library at
another host (the tests' loopback fake); unset, it talks to Twilio.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

NOT_FOUND = 20404
_UNABLE_PREFIX = re.compile(r"^Unable to [a-z ]+: ", re.IGNORECASE)


class TwilioError(Exception):
    """Twilio refused a request or could not be reached; ``str()`` reads well in a sentence.

    ``permanent`` is true when asking again will not help (a refused number, bad credentials);
    false for timeouts, refused connections and Twilio's own 5xx.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        code: int | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code
        self.status = status


@dataclass(frozen=True)
class TwilioCall:
    """One call as the REST API describes it (``status`` is Twilio's own string)."""

    sid: str
    status: str
    direction: str
    from_number: str
    to_number: str
    parent_call_sid: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    duration: int | None = None
    price: Decimal | None = None
    price_unit: str | None = None


def twilio_client(*, timeout: float | None = None) -> Client:
    """Return a ``twilio.rest.Client`` for the hub's account, honouring TWILIO_API_BASE_URL."""
    sid = getattr(settings, "TWILIO_ACCOUNT_SID", None)
    token = getattr(settings, "TWILIO_AUTH_TOKEN", None)
    if not sid or not token:
        raise TwilioError(
            "Twilio is not configured (set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)",
            permanent=True,
        )
    timeout = timeout or settings.TWILIO_HTTP_TIMEOUT_SECONDS
    client = Client(sid, token, http_client=TwilioHttpClient(timeout=timeout))
    base_url = settings.TWILIO_API_BASE_URL
    if base_url:
        # Edge and region rewrite the host name; an explicit base URL is used as it is.
        client.edge = None
        client.region = None
        client.api.base_url = base_url
    return client


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def _decimal(value: object) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _call(instance) -> TwilioCall:
    return TwilioCall(
        sid=instance.sid,
        status=instance.status or "",
        direction=instance.direction or "",
        from_number=instance._from or "",
        to_number=instance.to or "",
        parent_call_sid=instance.parent_call_sid or None,
        start_time=instance.start_time,
        end_time=instance.end_time,
        duration=_int(instance.duration),
        price=_decimal(instance.price),
        price_unit=instance.price_unit or None,
    )


class TwilioRest:
    """The hub's calls to Twilio's Calls resource; every failure becomes a :class:`TwilioError`."""

    def __init__(self, client: Client | None = None) -> None:
        self.client = client or twilio_client()
        self.timeout = self.client.http_client.timeout or settings.TWILIO_HTTP_TIMEOUT_SECONDS
        self.host = urlsplit(self.client.api.base_url).netloc

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except TwilioRestException as exc:
            message = _UNABLE_PREFIX.sub("", str(exc.msg or "")).strip() or f"HTTP {exc.status}"
            raise TwilioError(
                message,
                permanent=exc.status < 500,
                code=_int(exc.code),
                status=exc.status,
            ) from exc
        except requests.Timeout as exc:
            raise TwilioError(f"Twilio did not answer within {self.timeout:g} s") from exc
        except requests.ConnectionError as exc:
            raise TwilioError(f"cannot reach Twilio at {self.host} ({_reason(exc)})") from exc
        except (requests.RequestException, TwilioException) as exc:
            raise TwilioError(f"the request to Twilio failed ({exc.__class__.__name__})") from exc

    def call_create(
        self,
        *,
        to: str,
        from_: str,
        url: str,
        status_callback: str,
        status_callback_event: list[str],
    ) -> TwilioCall:
        with self._errors():
            instance = self.client.calls.create(
                to=to,
                from_=from_,
                url=url,
                method="POST",
                status_callback=status_callback,
                status_callback_event=status_callback_event,
                status_callback_method="POST",
            )
        return _call(instance)

    def call_fetch(self, sid: str) -> TwilioCall | None:
        """Return the call, or None when Twilio does not know the sid."""
        try:
            with self._errors():
                instance = self.client.calls(sid).fetch()
        except TwilioError as exc:
            if exc.status == 404:
                return None
            raise
        return _call(instance)

    def calls_list(
        self,
        *,
        started_after: datetime,
        started_before: datetime,
        to: str | None = None,
        from_: str | None = None,
        page_size: int = 100,
    ) -> Iterator[TwilioCall]:
        """Yield the calls that started in [started_after, started_before), page by page."""
        filters: dict = {
            # The library writes datetimes as "...Z" without converting; hand it UTC.
            "start_time_after": started_after.astimezone(UTC),
            "start_time_before": started_before.astimezone(UTC),
            "page_size": page_size,
        }
        if to:
            filters["to"] = to
        if from_:
            filters["from_"] = from_
        with self._errors():
            for instance in self.client.calls.stream(**filters):
                yield _call(instance)


def _reason(exc: requests.ConnectionError) -> str:
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused"
    if "name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    return "connection failed"
