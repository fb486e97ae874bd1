from django.urls import path
from django.views.generic import RedirectView

from hub.console import event_log, inbox, ops_page, pipeline, views

app_name = "console"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False), name="home"),
    path("console/", RedirectView.as_view(pattern_name="console:calls"), name="index"),
    path("console/calls/", views.call_board, name="calls"),
    path("console/calls/dial/", views.call_dial, name="call-dial"),
    path("console/notifications/", views.notifications, name="notifications"),
    path("console/events/", event_log.page, name="events"),
    path("console/deals/", pipeline.page, name="deals"),
    path("console/deals/<int:deal_id>/move/", pipeline.move, name="deal-move"),
    path("console/ops/", ops_page.page, name="ops"),
    path("console/inbox/", inbox.inbox, name="inbox"),
    path("console/inbox/<int:thread_id>/", inbox.thread, name="inbox-thread"),
    path("console/inbox/<int:thread_id>/reply/", inbox.reply, name="inbox-reply"),
    path("console/inbox/compose/", inbox.compose, name="inbox-compose"),
    path(
        "console/inbox/attachments/<int:attachment_id>/",
        inbox.attachment,
        name="inbox-attachment",
    ),
]
