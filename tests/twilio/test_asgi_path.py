"""The inbox webhooks served from ASGI ahead of Django (hub/integrations/twilio/asgi.py).

The deployed application (``config.asgi.application``) answers every request exactly as the
Django views do: each case below goes through both and the answers are compared.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from asgiref.sync import async_to_sync
from channels.testing import ApplicationCommunicator, HttpCommunicator
from django.db import OperationalError

from config.asgi import application, django_asgi_app
from hub.integrations.twilio import views
from hub.integrations.twilio.asgi import ROUTES, TwilioWebhooks
from hub.integrations.twilio.models import CallbackKind, TwilioCallback
from tests import factories
from tests.twilio.conftest import ACCOUNT_SID, call_sid, sign, status_params

# The webhook's thread has a database connection of its own: rows must be committed to be seen.
pytestmark = pytest.mark.django_db(transaction=True)

STATUS = "/twilio/voice/status"
FORM = "application/x-www-form-urlencoded"


def request(app, path: str, params: dict, *, signature="sign", content_type=FORM, headers=()):
    """POST ``params`` to ``app`` as Twilio would; return (status, headers, body)."""
    all_headers = [(b"host", b"testserver"), (b"content-type", content_type.encode())]
    if signature == "sign":
        signature = sign(path, params)
    if signature is not None:
        all_headers.append((b"x-twilio-signature", signature.encode()))
    all_headers += [(name.encode(), value.encode()) for name, value in headers]
    body = urlencode(params, doseq=True).encode()

    async def go():
        communicator = HttpCommunicator(app, "POST", path, body=body, headers=all_headers)
        response = await communicator.get_response(timeout=10)
        await communicator.wait(timeout=10)  # until the app is done (Django: request_finished)
        return response

    response = async_to_sync(go)()
    headers = {name.lower(): value for name, value in response["headers"]}
    return response["status"], headers, response["body"]


SECURITY_HEADERS = (
    b"x-content-type-options",
    b"referrer-policy",
    b"cross-origin-opener-policy",
    b"strict-transport-security",
)


def _answer(app, path, params, **kwargs):
    status, headers, body = request(app, path, params, **kwargs)
    return status, headers.get(b"content-type"), body, [headers.get(h) for h in SECURITY_HEADERS]


def _incoming(to: str) -> dict:
    return {
        "AccountSid": ACCOUNT_SID,
        "CallSid": call_sid(),
        "CallStatus": "ringing",
        "Direction": "inbound",
        "From": "+14155550100",
        "To": to,
    }


def _cases(number: str) -> list[tuple[str, str, dict, dict]]:
    ok = status_params(call_sid(), "ringing", 0)
    other_account = status_params(call_sid(), "ringing", 0, AccountSid="AC" + "0" * 32)
    return [
        ("signed status", STATUS, ok, {}),
        ("duplicate", STATUS, ok, {}),
        ("unsigned", STATUS, ok, {"signature": None}),
        ("forged", STATUS, ok, {"signature": "forged"}),
        ("another account", STATUS, other_account, {}),
        ("no CallSid", STATUS, {k: v for k, v in ok.items() if k != "CallSid"}, {}),
        ("bad sequence", STATUS, {**ok, "CallSid": call_sid(), "SequenceNumber": "-1"}, {}),
        ("no CallStatus", STATUS, {**ok, "CallSid": call_sid(), "CallStatus": ""}, {}),
        ("signed query", f"{STATUS}?attempt=2", status_params(call_sid(), "ringing", 0), {}),
        ("JSON body", STATUS, ok, {"content_type": "application/json"}),
        ("incoming", "/twilio/voice/incoming", _incoming(number), {}),
        ("incoming, unknown number", "/twilio/voice/incoming", _incoming("+14155550000"), {}),
        (
            "dialed, no answer",
            "/twilio/voice/dialed",
            {**_incoming(number), "DialCallStatus": "no-answer"},
            {},
        ),
        (
            "voicemail",
            "/twilio/voice/voicemail",
            {**_incoming(number), "RecordingDuration": "0"},
            {},
        ),
        (
            "recording",
            "/twilio/voice/recording",
            {**ok, "RecordingSid": "RE" + "1" * 32, "RecordingStatus": "completed"},
            {},
        ),
        ("recording without sid", "/twilio/voice/recording", ok, {}),
    ]


# What an inbox row holds, but its id and when it was stored.
STORED = [
    f.name for f in TwilioCallback._meta.concrete_fields if f.name not in ("id", "verified_at")
]


def _sent(app, path, params, **kwargs):
    """Send the request to ``app``; return its answer and the inbox rows it stored."""
    before = list(TwilioCallback.objects.values_list("id", flat=True))
    answer = _answer(app, path, params, **kwargs)
    return answer, TwilioCallback.objects.exclude(id__in=before).order_by("id")


@pytest.mark.parametrize("secure", [False, True], ids=["http", "https behind a proxy"])
def test_every_answer_is_the_django_views_answer(acme, alice, bob, settings, secure):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proto = [("x-forwarded-proto", "https" if secure else "http")]
    number = factories.PhoneNumberFactory(company=acme, user=bob, phone_number="+14155559000")
    bob.phone = "+14155551234"
    bob.save()
    for name, path, params, kwargs in _cases(number.phone_number):
        fast, stored = _sent(application, path, params, headers=proto, **kwargs)
        fast_rows = list(stored.values(*STORED))
        # Gone again, so the Django views store the same signed request, not a duplicate of it.
        stored.delete()
        django, stored = _sent(django_asgi_app, path, params, headers=proto, **kwargs)
        django_rows = list(stored.values(*STORED))  # kept: the "duplicate" case finds it
        assert fast == django, name
        assert fast[0] in (204, 200, 400, 403), name
        assert (fast[3][0], fast[3][3] is not None) == (b"nosniff", secure), name
        assert fast_rows == django_rows, name
        accepted = fast[0] in (200, 204) and name != "duplicate"
        assert len(fast_rows) == (1 if accepted else 0), name
        for row in fast_rows:  # the raw callback, as it was sent, of the webhook's kind
            assert row["kind"] == ROUTES[path.split("?")[0]], name
            assert (row["call_sid"], row["params"]) == (params["CallSid"], params), name


def test_only_verified_callbacks_are_stored_once_each(acme, alice):
    params = status_params(call_sid(), "ringing", 0)
    assert request(application, STATUS, params, signature="forged")[0] == 403
    assert request(application, STATUS, params)[0] == 204
    assert request(application, STATUS, params)[0] == 204  # Twilio's retry: a duplicate
    row = TwilioCallback.objects.get()
    assert (row.kind, row.call_sid, row.params["CallStatus"]) == (
        CallbackKind.STATUS,
        params["CallSid"],
        "ringing",
    )


def test_the_answer_carries_the_request_id_and_security_headers():
    params = status_params(call_sid(), "ringing", 0)
    status, headers, body = request(
        application, STATUS, params, headers=[("x-request-id", "twilio-req-9")]
    )
    assert (status, body) == (204, b"")
    assert headers[b"x-request-id"] == b"twilio-req-9"
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert headers[b"content-length"] == b"0"
    assert b"set-cookie" not in headers and b"vary" not in headers
    # A request id that could forge a log line or a header is replaced by a fresh one.
    _, headers, _ = request(application, STATUS, params, headers=[("x-request-id", "a b\n")])
    assert headers[b"x-request-id"] not in (b"a b\n", b"") and len(headers[b"x-request-id"]) == 32


def test_a_verified_callback_is_never_redirected_away(settings):
    # Twilio does not follow a redirect: Django's https redirect would lose the callback. The
    # signature binds it to HUB_PUBLIC_URL whatever scheme or Host it came in on.
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["hub.example.test"]
    params = status_params(call_sid(), "ringing", 0)
    assert request(application, STATUS, params)[0] == 204
    assert TwilioCallback.objects.count() == 1


def test_a_callback_that_cannot_be_stored_is_503(monkeypatch, caplog):
    def database_down(**kwargs):
        raise OperationalError("the database went away")

    monkeypatch.setattr(views, "callback_store", database_down)
    status, _, body = request(
        application,
        STATUS,
        status_params(call_sid(), "ringing", 0),
        headers=[("x-request-id", "twilio-req-down")],
    )
    assert (status, body) == (503, b"The callback could not be stored; try again.")
    [record] = [r for r in caplog.records if "could not be stored" in r.getMessage()]
    assert "the database went away" in record.exc_text


def test_a_body_over_the_upload_limit_is_413_and_nothing_is_stored(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    params = status_params(call_sid(), "ringing", 0, Padding="x" * 2048)
    status, _, body = request(application, STATUS, params)
    assert (status, body) == (413, b"Request body too large.")
    assert not TwilioCallback.objects.exists()


def test_too_many_fields_is_400_and_nothing_is_stored(settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    status, _, _ = request(application, STATUS, status_params(call_sid(), "ringing", 0))
    assert status == 400
    assert not TwilioCallback.objects.exists()


def test_a_client_gone_before_its_body_arrived_stores_nothing():
    scope = {
        "type": "http",
        "method": "POST",
        "path": STATUS,
        "query_string": b"",
        "headers": [(b"content-type", FORM.encode())],
    }

    async def go():
        communicator = ApplicationCommunicator(application, scope)
        await communicator.send_input({"type": "http.request", "body": b"a=1", "more_body": True})
        await communicator.send_input({"type": "http.disconnect"})
        await communicator.wait(timeout=5)
        return await communicator.receive_nothing()

    assert async_to_sync(go)()
    assert not TwilioCallback.objects.exists()


class _Fallback:
    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope, receive, send) -> None:
        self.paths.append(f"{scope['method']} {scope['path']}")
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"django"})


def test_only_posts_to_the_five_inbox_webhooks_skip_django():
    fallback = _Fallback()
    app = TwilioWebhooks(fallback)
    for path in ROUTES:
        assert request(app, path, {}, signature=None)[0] == 403  # answered here: not signed

    async def get(path: str, method: str = "GET"):
        communicator = HttpCommunicator(app, method, path)
        response = await communicator.get_response(timeout=5)
        await communicator.wait(timeout=5)
        return response

    for method, path in [
        ("GET", STATUS),
        ("PUT", STATUS),
        ("POST", "/twilio/voice/outbound"),
        ("POST", "/twilio/voice/status/"),
        ("POST", "/admin/"),
    ]:
        assert async_to_sync(get)(path, method)["status"] == 299
    assert fallback.paths == [
        "GET /twilio/voice/status",
        "PUT /twilio/voice/status",
        "POST /twilio/voice/outbound",
        "POST /twilio/voice/status/",
        "POST /admin/",
    ]
