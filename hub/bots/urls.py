from django.urls import path

from hub.bots import views

app_name = "slack"

urlpatterns = [
    path("events", views.slack_events, name="events"),
]
