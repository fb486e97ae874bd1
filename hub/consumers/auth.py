"""Session authentication for console pages, skipped for token clients.

Browsers on console pages carry the Django session cookie; the session and auth middleware
resolve the user from it. Clients without a session cookie authenticate with a token frame,
so they bypass that middleware (and the per-connection copies of the scope it makes).
"""

from __future__ import annotations

from channels.auth import AuthMiddlewareStack
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

_ANONYMOUS = AnonymousUser()


class HubAuthMiddleware:
    def __init__(self, inner) -> None:
        self.inner = inner
        self.with_session = AuthMiddlewareStack(inner)
        self.cookie = settings.SESSION_COOKIE_NAME.encode()

    async def __call__(self, scope, receive, send):
        for name, value in scope.get("headers", ()):
            if name == b"cookie" and self.cookie in value:
                return await self.with_session(scope, receive, send)
        scope["user"] = _ANONYMOUS
        return await self.inner(scope, receive, send)


HubAuthMiddlewareStack = HubAuthMiddleware
