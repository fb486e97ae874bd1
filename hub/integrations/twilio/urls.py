from django.urls import path

from hub.integrations.twilio import views

app_name = "twilio"

urlpatterns = [
    path("voice/status", views.voice_status, name="voice-status"),
    path("voice/recording", views.voice_recording, name="voice-recording"),
    path("voice/incoming", views.voice_incoming, name="voice-incoming"),
    path("voice/dialed", views.voice_dialed, name="voice-dialed"),
    path("voice/voicemail", views.voice_voicemail, name="voice-voicemail"),
    path("voice/outbound", views.voice_outbound, name="voice-outbound"),
]
