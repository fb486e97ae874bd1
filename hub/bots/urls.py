from django.urls import path

from hub.bots import install, views

app_name = "slack"

urlpatterns = [
    path("events", views.slack_events, name="events"),
    path("install", install.slack_install, name="install"),
    path("oauth_redirect", install.slack_oauth_redirect, name="oauth_redirect"),
]
