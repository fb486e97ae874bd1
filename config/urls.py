from django.contrib import admin
from django.urls import include, path

from hub.ops import views as ops_views

admin.site.site_header = "Hub console"
admin.site.site_title = "Hub console"
admin.site.index_title = "CRM data and live pages"

urlpatterns = [
    path("healthz", ops_views.healthz, name="healthz"),
    path("metrics", ops_views.metrics_view, name="metrics"),
    path("favicon.ico", ops_views.favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("twilio/", include("hub.integrations.twilio.urls")),
    path("slack/", include("hub.bots.urls")),
    path("mail/", include("hub.integrations.mail.urls")),
    path("", include("hub.console.urls")),
]
