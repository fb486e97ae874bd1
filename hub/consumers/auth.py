"""Session authentication for console pages, skipped for token clients.

Browsers on console pages carry the Django session cookie; the session middleware attaches
their session to the scope, and the consumer loads its user (``session_user``) once the socket
is open. Loading it there rather than in Channels' ``AuthMiddleware`` lets the consumer bound
the database read in time and answer an outage with a close the browser retries (1013); in the
middleware it would fail or stall the handshake. Clients without a session cookie authenticate
with a token frame, so they bypass the session middleware (and the per-connection copies of the
scope it makes).
"""

from __future__ import annotations

from types import SimpleNamespace

from channels.db import database_sync_to_async
from channels.sessions import SessionMiddlewareStack
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.models import AnonymousUser

_ANONYMOUS = AnonymousUser()


class HubAuthMiddleware:
    def __init__(self, inner) -> None:
        self.inner = inner
        self.with_session = SessionMiddlewareStack(inner)
        self.cookie = settings.SESSION_COOKIE_NAME.encode()

    async def __call__(self, scope, receive, send):
        for name, value in scope.get("headers", ()):
            if name == b"cookie" and self.cookie in value:
                return await self.with_session(scope, receive, send)
        scope["user"] = _ANONYMOUS
        return await self.inner(scope, receive, send)


HubAuthMiddlewareStack = HubAuthMiddleware


def _session_user(scope):
    # Django's own check (the session's user, its backend and session hash), as Channels'
    # get_user does; it reads only ``request.session``.
    return get_user(SimpleNamespace(session=scope["session"]))  # type: ignore[arg-type]


# On any worker thread: a database that hangs must not hold the thread Django's views share.
session_user = database_sync_to_async(_session_user, thread_sensitive=False)
