"""ASGI entry point: HTTP through Django, websockets through Channels."""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from config.env import EnvError

try:
    from django.core.asgi import get_asgi_application

    django_asgi_app = get_asgi_application()
except EnvError as exc:
    sys.stderr.write(f"configuration error: {exc}\n")
    sys.exit(2)

from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator

from hub.consumers.auth import HubAuthMiddlewareStack
from hub.consumers.routing import websocket_urlpatterns

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            HubAuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
