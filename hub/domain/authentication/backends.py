"""Log in with the e-mail address (case-insensitive), as the CRM does."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from hub.domain.authentication.models import User
from hub.domain.authentication.permissions import user_has_module_perms, user_has_perm


class EmailBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, email=None, **kwargs):
        login = (email or username or "").strip()
        if not login or password is None:
            return None
        user = User.objects.filter(email__iexact=login).first()
        if user is None:
            User().set_password(password)  # same work either way: no user-enumeration by timing
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    # Permissions come from the company roles (hub.domain.authentication.permissions), not
    # from Django's permission tables, which the shared schema does not have.
    def get_all_permissions(self, user_obj, obj=None):
        return set()

    def has_perm(self, user_obj, perm, obj=None):
        return user_has_perm(user=user_obj, perm=perm)

    def has_module_perms(self, user_obj, app_label):
        return user_has_module_perms(user=user_obj, app_label=app_label)
