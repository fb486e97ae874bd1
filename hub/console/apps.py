from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "hub.console"
    label = "hub_console"

    def ready(self) -> None:
        # Lazy: django.contrib.admin's site needs the app registry ready.
        from django.contrib import admin

        admin.site.site_header = "The hub"
        admin.site.site_title = "The hub"
        # The admin index links the live pages (an app's admin/index.html would lose to
        # django.contrib.admin's own, which comes first in INSTALLED_APPS).
        admin.site.index_template = "hub/console/admin_index.html"
