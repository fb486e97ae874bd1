"""A loopback fake of the Slack Web API and of ``response_url``, for the real slack_sdk client.

It answers as Slack does: ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}`` with HTTP
200, bearer-token auth, ``users.info`` over GET, JSON or form POSTs; a response URL takes a JSON
message and answers ``ok`` (or 404 ``expired_url`` once it is expired).

Every request is recorded (``calls_to``). ``queue(method, ...)`` makes the next request to a
method answer something else once (a 429 with ``Retry-After``, an error such as
``not_in_channel``); ``answers[method] = fn(body) -> dict`` replaces a method's answer for good.
The usual write methods (``chat.postMessage``, ``views.open``/``update``/``publish``,
``chat.unfurl``, ``conversations.open``, ``chat.update``) answer ``ok`` with plausible fields.
``oauth.v2.access`` exchanges a code registered in ``oauth_codes`` (no bearer token needed).
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Seen:
    method: str
    path: str
    token: str | None
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)  # when it reached the fake


class FakeSlack:
    """``tokens`` maps a bot token to its workspace (team id, team name, bot user id);
    ``users`` maps a Slack user id to its e-mail (None: Slack shares none)."""

    def __init__(self) -> None:
        self.tokens: dict[str, tuple[str, str, str]] = {}
        self.users: dict[str, str | None] = {}
        self.expired: set[str] = set()
        self.delays: dict[str, float] = {}  # path -> seconds before answering
        # method -> answers to give once each, first in first out: (status, body, headers)
        self.queued: dict[str, list[tuple[int, Any, dict[str, str]]]] = {}
        self.answers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
        # oauth.v2.access: code -> the answer (client_id/secret checked against oauth_client)
        self.oauth_codes: dict[str, dict[str, Any]] = {}
        self.oauth_client: tuple[str, str] = ("", "")
        self._ts = 0
        self.requests: list[Seen] = []  # each once answered
        self.arrived: list[Seen] = []  # each as it came in, before any delay
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, key: str) -> str:
        return f"{self.url}/response/{key}"

    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def queue(
        self,
        method: str,
        *,
        status: int = 200,
        body: Any = None,
        error: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Make the next request to ``method`` (e.g. ``chat.postMessage``) answer this, once.

        ``retry_after``: a 429 with that ``Retry-After``, as Slack rate-limits. ``error``: HTTP
        200 ``{"ok": false, "error": error}``.
        """
        headers: dict[str, str] = {}
        if retry_after is not None:
            status = 429
            headers["Retry-After"] = str(retry_after)
            body = body if body is not None else {"ok": False, "error": "ratelimited"}
        elif error is not None:
            body = {"ok": False, "error": error}
        with self._changed:
            self.queued.setdefault(method, []).append((status, body or {"ok": True}, headers))

    def api_calls(self, method: str) -> list[Seen]:
        """The requests to a Web API method (e.g. ``chat.postMessage``), as they arrived.

        Read on arrival, not once answered: the hub may have its answer (and a test its
        turn) a moment before the fake has recorded the answer as sent.
        """
        return self.arrivals(f"/api/{method}")

    # --- what was asked -------------------------------------------------------------------
    def calls_to(self, path: str) -> list[Seen]:
        with self._changed:
            return [seen for seen in self.requests if seen.path == path]

    def arrivals(self, path: str) -> list[Seen]:
        """The requests to ``path`` as they came in, answered or still held back by a delay."""
        with self._changed:
            return [seen for seen in self.arrived if seen.path == path]

    def responses(self, key: str) -> list[dict[str, Any]]:
        return [seen.body for seen in self.calls_to(f"/response/{key}")]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked on every request); return it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (result := predicate()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"fake Slack: condition not met in {timeout} s")
                self._changed.wait(remaining)
        return result

    # --- HTTP -----------------------------------------------------------------------------
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

    def _read(self, handler: BaseHTTPRequestHandler, method: str) -> dict[str, Any]:
        parts = urlsplit(handler.path)
        body: dict[str, Any] = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if method == "POST":
            raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0)).decode()
            if handler.headers.get("Content-Type", "").startswith("application/json"):
                body |= json.loads(raw or "{}")
            else:
                body |= {k: v[-1] for k, v in parse_qs(raw).items()}
        return body

    def _send(
        self,
        handler,
        status: int,
        body: dict[str, Any] | str,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = (json.dumps(body) if isinstance(body, dict) else body).encode()
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        kind = "application/json" if isinstance(body, dict) else "text/plain"
        handler.send_header("Content-Type", f"{kind}; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path = urlsplit(handler.path).path
        body = self._read(handler, method)
        auth = handler.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            # oauth.v2.access: slack_sdk sends the client id and secret as Basic auth.
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            body |= {"client_id": client_id, "client_secret": secret}
            auth = ""
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else body.get("token")
        seen = Seen(method, path, token, body)
        with self._changed:
            self.arrived.append(seen)
            self._changed.notify_all()
        if path in self.delays:
            time.sleep(self.delays[path])  # a slow Slack, as the hub sees it
        headers: dict[str, str] = {}
        with self._changed:
            canned = self.queued.get(path.removeprefix("/api/"))
            once = canned.pop(0) if canned else None
        if once is not None:
            status, answer, headers = once
        else:
            status, answer = self._answer(path, method, token, body)
        # The hub may have given up waiting, as it should when Slack is too slow.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._send(handler, status, answer, headers)
        # Recorded once answered, so a waiter sees the request's outcome in the hub too.
        with self._changed:
            self.requests.append(seen)
            self._changed.notify_all()

    def _answer(self, path: str, method: str, token: str | None, body: dict) -> tuple[int, Any]:
        if path.startswith("/response/"):
            if method != "POST":
                return 405, "method_not_allowed"
            if path.removeprefix("/response/") in self.expired:
                return 404, "expired_url"
            return 200, "ok"
        method_name = path.removeprefix("/api/")
        if method_name == "oauth.v2.access":
            return 200, self._oauth_access(body)
        if token not in self.tokens:
            return 200, {"ok": False, "error": "not_authed" if not token else "invalid_auth"}
        team_id, team, bot_user_id = self.tokens[token]
        if method_name == "auth.test":
            return 200, {"ok": True, "team_id": team_id, "team": team, "user_id": bot_user_id}
        if method_name == "users.info":
            user_id = body.get("user", "")
            if user_id not in self.users:
                return 200, {"ok": False, "error": "user_not_found"}
            profile = {"real_name": user_id}
            if self.users[user_id] is not None:
                profile["email"] = self.users[user_id]
            return 200, {
                "ok": True,
                "user": {"id": user_id, "team_id": team_id, "profile": profile},
            }
        if method_name in self.answers:
            return 200, self.answers[method_name](body)
        if method_name == "chat.postEphemeral":
            if not body.get("channel") or not body.get("user"):
                return 200, {"ok": False, "error": "channel_not_found"}
            return 200, {"ok": True, "message_ts": "1700000000.000100"}
        if method_name == "users.lookupByEmail":
            email = str(body.get("email", "")).lower()
            for user_id, known in self.users.items():
                if known and known.lower() == email:
                    return 200, {"ok": True, "user": {"id": user_id, "team_id": team_id}}
            return 200, {"ok": False, "error": "users_not_found"}
        if method_name == "conversations.open":
            users = str(body.get("users", ""))
            if not users:
                return 200, {"ok": False, "error": "no_user"}
            return 200, {"ok": True, "channel": {"id": "D" + users.split(",")[0][1:]}}
        if method_name in ("chat.postMessage", "chat.update"):
            if not body.get("channel"):
                return 200, {"ok": False, "error": "channel_not_found"}
            return 200, {"ok": True, "channel": body["channel"], "ts": self._next_ts()}
        if method_name in ("views.open", "views.update", "views.publish", "views.push"):
            return 200, {"ok": True, "view": {"id": "V" + self._next_ts().replace(".", "")}}
        if method_name == "chat.unfurl":
            return 200, {"ok": True}
        return 200, {"ok": False, "error": "unknown_method"}

    def _next_ts(self) -> str:
        with self._changed:
            self._ts += 1
            return f"1700000000.{self._ts:06d}"

    def _oauth_access(self, body: dict[str, Any]) -> dict[str, Any]:
        """``oauth.v2.access``: the client's id and secret (form or Basic auth) and a known code."""
        client_id, secret = body.get("client_id", ""), body.get("client_secret", "")
        if (client_id, secret) != self.oauth_client or not client_id:
            return {
                "ok": False,
                "error": "invalid_client_id" if not secret else "bad_client_secret",
            }
        code = body.get("code", "")
        answer = self.oauth_codes.pop(code, None)
        if answer is None:
            return {"ok": False, "error": "invalid_code"}
        return {"ok": True, **answer}
