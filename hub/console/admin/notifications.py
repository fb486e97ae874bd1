"""Console page for notifications: staff see only their own; superusers see everyone's."""

from __future__ import annotations

from django.contrib import admin, messages

from hub.console.admin.base import ScopedAdminMixin, ScopedModelAdmin, adopt
from hub.console.admin.listing import clipped, person_column, time_column
from hub.domain.authentication.models import User
from hub.domain.notifications.models import Notification
from hub.domain.notifications.services import notification_create, notification_mark_read


@admin.register(Notification)
class NotificationAdmin(ScopedModelAdmin):
    list_display = (
        "headline",
        person_column("user"),
        "type",
        "is_read",
        "related_object_type",
        time_column("created_at", "created"),
    )
    list_filter = ("type", "is_read", "related_object_type", "user__memberships__company")
    search_fields = ("title", "message", "user__email")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    current_user_fields = ("user",)
    actions = ("mark_read",)

    @admin.display(description="title", ordering="title")
    def headline(self, notification: Notification) -> str:
        return clipped(notification.title, wide=True)

    def shows_companies(self, request) -> bool:
        # Staff see only their own notifications: the company filter serves superusers.
        return request.user.is_superuser

    def scope_queryset(self, request, queryset):
        if request.user.is_superuser:
            return queryset
        return queryset.filter(user_id=request.user.pk)

    def _users_of(self, request, ids):
        """The members and customers of the companies ``ids``."""
        user_admin = self.admin_site.get_model_admin(User)
        assert isinstance(user_admin, ScopedAdminMixin)
        return user_admin.scope_to(request, User.objects.all(), ids)

    def scope_to(self, request, queryset, ids):
        # Addressed to a member or customer of one of the companies ``ids``.
        return queryset.filter(user__in=self._users_of(request, ids))

    def row_in_companies(self, request, obj, ids) -> bool:
        return self._users_of(request, ids).filter(pk=obj.user_id).exists()

    def write(self, request, obj, form, change) -> None:
        if not change:
            notification = notification_create(
                user=obj.user,
                title=obj.title,
                message=obj.message,
                type=obj.type,
                related_object_type=obj.related_object_type,
                related_object_id=obj.related_object_id,
            )
            is_read = obj.is_read
            adopt(obj, notification)
            if is_read:
                notification_mark_read(user=obj.user, notification_id=obj.pk)
                obj.is_read = True
            return
        if form.changed_data == ["is_read"] and obj.is_read:
            notification_mark_read(user=obj.user, notification_id=obj.pk)
            return
        obj.save()

    @admin.action(description="Mark selected notifications read", permissions=("change",))
    def mark_read(self, request, queryset):
        marked = 0
        for notification in queryset.filter(is_read=False).select_related("user"):
            notification_mark_read(user=notification.user, notification_id=notification.pk)
            marked += 1
        self.message_user(request, f"{marked} notification(s) marked read.", messages.SUCCESS)
