"""A loopback fake of the Slack Web API and of ``response_url``, for the real slack_sdk client.

It answers as Slack does: ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}`` with HTTP
200, bearer-token auth, ``users.info`` over GET, JSON or form POSTs; a response URL takes a JSON
message and answers ``ok`` (or 404 ``expired_url`` once it is expired).
"""

from __future__ import annotations

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

    def _send(self, handler, status: int, body: dict[str, Any] | str) -> None:
        data = (json.dumps(body) if isinstance(body, dict) else body).encode()
        handler.send_response(status)
        kind = "application/json" if isinstance(body, dict) else "text/plain"
        handler.send_header("Content-Type", f"{kind}; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path = urlsplit(handler.path).path
        body = self._read(handler, method)
        auth = handler.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else body.get("token")
        seen = Seen(method, path, token, body)
        with self._changed:
            self.arrived.append(seen)
            self._changed.notify_all()
        if path in self.delays:
            time.sleep(self.delays[path])  # a slow Slack, as the hub sees it
        status, answer = self._answer(path, method, token, body)
        # The hub may have given up waiting, as it should when Slack is too slow.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._send(handler, status, answer)
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
        if method_name == "chat.postEphemeral":
            if not body.get("channel") or not body.get("user"):
                return 200, {"ok": False, "error": "channel_not_found"}
            return 200, {"ok": True, "message_ts": "1700000000.000100"}
        return 200, {"ok": False, "error": "unknown_method"}
