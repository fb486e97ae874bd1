"""A real SMTP server for the tests: aiosmtpd on a loopback port that keeps what it is sent.

``refuse`` makes it answer the next ``RCPT``/``DATA`` with a given reply (a 4xx the hub must
retry, a 5xx it must not), so sending's failures are tested against a real conversation.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.changed:
            if self.replies:
                return self.replies.pop(0)
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
            )
            self.changed.notify_all()
        return "250 OK"


class SmtpServer:
    """``SmtpServer.start(credentials={login: password})``; ``received`` holds every message taken."""

    def __init__(self, *, credentials: dict[str, str] | None = None) -> None:
        self.host = "127.0.0.1"
        with socket.socket() as s:
            s.bind((self.host, 0))
            self.port = s.getsockname()[1]
        # AUTH is required when credentials are given: login → password (add more at any time).
        self.credentials = credentials
        self.handler = _Handler()
        auth: dict[str, Any] = {}
        if credentials is not None:
            auth = {
                "authenticator": self._authenticate,
                "auth_require_tls": False,  # loopback only
                "auth_required": True,
            }
        self.controller = Controller(self.handler, hostname=self.host, port=self.port, **auth)

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and self.credentials is not None
            and self.credentials.get(auth_data.login.decode()) == auth_data.password.decode()
        )
        return AuthResult(success=ok, handled=False)

    @classmethod
    def start(cls, **kwargs) -> SmtpServer:
        server = cls(**kwargs)
        server.controller.start()
        return server

    def stop(self) -> None:
        self.controller.stop()

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def refuse(self, *replies: str) -> None:
        """Answer the next messages' DATA with these replies, in order ("451 try later")."""
        with self.handler.changed:
            self.handler.replies.extend(replies)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self.handler.changed:
            if not self.handler.changed.wait_for(
                lambda: len(self.handler.received) >= count, timeout=timeout
            ):
                raise AssertionError(
                    f"the SMTP server took {len(self.handler.received)} messages, not {count}"
                )
            return list(self.handler.received)
