"""What a console (admin) user may do: superusers anything; staff act by their company role.

The shared schema has no Django permission tables, so a staff member's rights come from
their active memberships: every member may view their companies' data; ``ceo`` and
``manager`` may change it; ``sales_manager`` may change CRM, calls and customers data;
``support_staff`` may change customers and issues. Querysets are company-scoped in the admin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.domain.authentication.models import Role

if TYPE_CHECKING:
    from hub.domain.authentication.models import User

CONSOLE_APPS = frozenset(
    {"authentication", "crm", "customers", "emails", "calls", "notifications", "issues"}
)
_WRITABLE_APPS: dict[str, frozenset[str]] = {
    Role.CEO: CONSOLE_APPS,
    Role.MANAGER: CONSOLE_APPS,
    Role.SALES_MANAGER: frozenset({"crm", "calls", "customers", "emails"}),
    Role.SUPPORT_STAFF: frozenset({"customers", "issues"}),
}
# Only superusers administer people and tenants themselves or the hub's own tables.
_SUPERUSER_ONLY_MODELS = frozenset(
    {"authentication.user", "authentication.company", "events.event"}
)


def _roles(user: User) -> set[str]:
    cached = getattr(user, "_hub_roles", None)
    if cached is None:
        cached = set(
            user.memberships.filter(is_active=True, company__is_active=True).values_list(
                "role", flat=True
            )
        )
        user._hub_roles = cached  # type: ignore[attr-defined]
    return cached


def user_has_module_perms(*, user: User, app_label: str) -> bool:
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    return user.is_staff and app_label in CONSOLE_APPS and bool(_roles(user))


def user_has_perm(*, user: User, perm: str) -> bool:
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    if not user.is_staff or "." not in perm:
        return False
    app_label, codename = perm.split(".", 1)
    action, _, model = codename.partition("_")
    if f"{app_label}.{model}" in _SUPERUSER_ONLY_MODELS or app_label not in CONSOLE_APPS:
        return False
    roles = _roles(user)
    if action == "view":
        return bool(roles)
    return any(app_label in _WRITABLE_APPS.get(role, frozenset()) for role in roles)
