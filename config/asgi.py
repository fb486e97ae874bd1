"""ASGI entry point: HTTP through Django (Twilio's inbox webhooks ahead of it), websockets through Channels."""

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
from hub.integrations.twilio.asgi import TwilioWebhooks

application = ProtocolTypeRouter(
    {
        # Twilio's inbox webhooks skip Django's request handling (hub/integrations/twilio/asgi.py).
        "http": TwilioWebhooks(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(
            HubAuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
