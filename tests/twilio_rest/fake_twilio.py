"""A loopback fake of Twilio's REST API (the Calls resource), for the real twilio-python client.

It speaks the 2010-04-01 API as Twilio does: HTTP basic auth with the account sid and auth
token, form-encoded POSTs, JSON answers with RFC 2822 dates and string numbers, paged lists with
``next_page_uri``, and Twilio's error body (``code``, ``message``, ``more_info``, ``status``).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

ACCOUNT_SID = "AC" + "f" * 32
AUTH_TOKEN = "fake-auth-token-0123456789abcdef"
API = "/2010-04-01"
_CALLS = re.compile(rf"^{API}/Accounts/(?P<account>AC\w+)/Calls(?:/(?P<sid>CA\w+))?\.json$")


def rfc2822(value: datetime | None) -> str | None:
    return format_datetime(value.astimezone(UTC), usegmt=False) if value else None


def _start(call: dict) -> datetime:
    return call["_start"] or call["_created"]


class FakeTwilio:
    """Calls kept in memory; ``errors`` maps a To number to (http status, code, message)."""

    def __init__(self) -> None:
        self.account_sid = ACCOUNT_SID
        self.auth_token = AUTH_TOKEN
        self.calls: dict[str, dict] = {}
        self.requests: list[tuple[str, str, dict]] = []
        self.errors: dict[str, tuple[int, int, str]] = {}
        self.delay_seconds = 0.0
        self.on_create: Callable[[dict], None] | None = None
        self.next_sid: str | None = None  # the sid the next created call gets
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeTwilio:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- state ------------------------------------------------------------------------------
    def add_call(
        self,
        *,
        to: str,
        from_: str,
        status: str = "completed",
        direction: str = "inbound",
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        duration: int | None = None,
        price: str | None = None,
        parent_call_sid: str | None = None,
        sid: str | None = None,
    ) -> dict:
        now = datetime.now(UTC)
        call = {
            "sid": sid or "CA" + secrets.token_hex(16),
            "to": to,
            "from": from_,
            "status": status,
            "direction": direction,
            "parent_call_sid": parent_call_sid,
            "duration": duration,
            "price": price,
            "_start": start_time,
            "_end": end_time,
            "_created": start_time or now,
        }
        with self._lock:
            self.calls[call["sid"]] = call
        return call

    def update_call(self, sid: str, **fields) -> None:
        with self._lock:
            call = self.calls[sid]
            for name, value in fields.items():
                call[
                    {"start_time": "_start", "end_time": "_end", "from_": "from"}.get(name, name)
                ] = value

    def render(self, call: dict) -> dict:
        uri = f"{API}/Accounts/{self.account_sid}/Calls/{call['sid']}.json"
        return {
            "sid": call["sid"],
            "account_sid": self.account_sid,
            "date_created": rfc2822(call["_created"]),
            "date_updated": rfc2822(call["_created"]),
            "parent_call_sid": call["parent_call_sid"],
            "to": call["to"],
            "to_formatted": call["to"],
            "from": call["from"],
            "from_formatted": call["from"],
            "phone_number_sid": None,
            "status": call["status"],
            "start_time": rfc2822(call["_start"]),
            "end_time": rfc2822(call["_end"]),
            "duration": None if call["duration"] is None else str(call["duration"]),
            "price": call["price"],
            "price_unit": "USD",
            "direction": call["direction"],
            "answered_by": None,
            "api_version": "2010-04-01",
            "forwarded_from": None,
            "group_sid": None,
            "caller_name": None,
            "queue_time": "0",
            "trunk_sid": None,
            "uri": uri,
            "subresource_uris": {
                "notifications": uri.replace(".json", "/Notifications.json"),
                "recordings": uri.replace(".json", "/Recordings.json"),
            },
        }

    # --- HTTP -------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                fake._serve(self, "GET")

            def do_POST(self) -> None:
                fake._serve(self, "POST")

        return Handler

    def _answer(self, handler: BaseHTTPRequestHandler, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _error(self, handler, status: int, code: int, message: str) -> None:
        self._answer(
            handler,
            status,
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
        )

    def _authorized(self, handler) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return handler.headers.get("Authorization") == f"Basic {expected}"

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        form: dict = {}
        if method == "POST":
            length = int(handler.headers.get("Content-Length") or 0)
            raw = parse_qs(handler.rfile.read(length).decode())
            form = {k: v if len(v) > 1 else v[0] for k, v in raw.items()}
        self.requests.append((method, parts.path, form or query))
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        if not self._authorized(handler):
            return self._error(handler, 401, 20003, "Authenticate")
        match = _CALLS.match(parts.path)
        if not match or match["account"] != self.account_sid:
            return self._error(
                handler, 404, 20404, f"The requested resource {parts.path} was not found"
            )
        if method == "POST" and not match["sid"]:
            return self._create(handler, form)
        if method == "GET" and match["sid"]:
            call = self.calls.get(match["sid"])
            if call is None:
                return self._error(
                    handler, 404, 20404, f"The requested resource {parts.path} was not found"
                )
            return self._answer(handler, 200, self.render(call))
        if method == "GET":
            return self._list(handler, parts.path, query)
        return self._error(handler, 405, 20004, "Method not allowed")

    def _create(self, handler, form: dict) -> None:
        to, from_ = form.get("To", ""), form.get("From", "")
        if to in self.errors:
            status, code, message = self.errors[to]
            return self._error(handler, status, code, message)
        if not re.fullmatch(r"\+[1-9]\d{6,14}", to):
            return self._error(
                handler, 400, 21211, f"The 'To' number {to} is not a valid phone number."
            )
        if not form.get("Url"):
            return self._error(handler, 400, 21205, "Url parameter is required.")
        if self.on_create:
            self.on_create(form | {"Sid": self.next_sid})
        sid, self.next_sid = self.next_sid, None
        call = self.add_call(to=to, from_=from_, status="queued", direction="outbound-api", sid=sid)
        call["_start"] = None
        call["request"] = form
        return self._answer(handler, 201, self.render(call))

    def _list(self, handler, path: str, query: dict) -> None:
        after = _parse_when(query.get("StartTime>"))
        before = _parse_when(query.get("StartTime<"))
        with self._lock:
            found = [
                c
                for c in self.calls.values()
                if (not query.get("To") or c["to"] == query["To"])
                and (not query.get("From") or c["from"] == query["From"])
                and (after is None or _start(c) >= after)
                and (before is None or _start(c) < before)
            ]
        found.sort(key=_start, reverse=True)
        size = int(query.get("PageSize", 50))
        page = int(query.get("Page", 0))
        rows = found[page * size : (page + 1) * size]
        base = {k: v for k, v in query.items() if k not in ("Page", "PageToken")}

        def uri(n: int) -> str:
            return f"{path}?{urlencode(base | {'Page': n, 'PageToken': f'PA{n}'})}"

        more = (page + 1) * size < len(found)
        self._answer(
            handler,
            200,
            {
                "calls": [self.render(c) for c in rows],
                "page": page,
                "page_size": size,
                "start": page * size,
                "end": page * size + max(len(rows) - 1, 0),
                "uri": uri(page),
                "first_page_uri": uri(0),
                "previous_page_uri": uri(page - 1) if page else None,
                "next_page_uri": uri(page + 1) if more else None,
            },
        )


def _parse_when(value: str | None) -> datetime | None:
    if not value:
        return None
    if len(value) == 10:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
