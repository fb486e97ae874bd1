from django.urls import path

from hub.consumers.hub import HubConsumer

websocket_urlpatterns = [path("ws/", HubConsumer.as_asgi())]
