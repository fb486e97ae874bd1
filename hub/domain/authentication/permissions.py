"""What a console (admin) user may do: superusers anything; staff act by their company role.

The shared schema has no Django permission tables, so a staff member's rights come from
their active memberships: every member may view their companies' data; ``ceo`` and
``manager`` may change it; ``sales_manager`` may change CRM, calls and customers data;
``support_staff`` may change customers and issues; only ``ceo`` and ``manager`` may change a
company's Slack installation and user links. Querysets are company-scoped in the admin.

The rights hold per company: a role lets its holder change the rows of the company where they
hold it, not those of their other companies (:func:`writable_company_ids`, used by the admin
for every row it writes). :func:`user_has_perm` answers whether some company allows the action.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.domain.authentication.models import Role
from hub.domain.authentication.selectors import member_active_q

if TYPE_CHECKING:
    from hub.domain.authentication.models import User

CONSOLE_APPS = frozenset(
    {
        "authentication",
        "crm",
        "customers",
        "emails",
        "calls",
        "notifications",
        "issues",
        "hub_slack",  # the Slack installations, user links and /call requests of a company
    }
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


def company_roles(user: User) -> dict[int, frozenset[str]]:
    """Return the user's roles in each company where they hold an active membership."""
    cached = getattr(user, "_hub_company_roles", None)
    if cached is None:
        by_company: dict[int, set[str]] = {}
        rows = user.memberships.filter(member_active_q()).values_list("company_id", "role")
        for company_id, role in rows:
            by_company.setdefault(company_id, set()).add(role)
        cached = {company_id: frozenset(roles) for company_id, roles in by_company.items()}
        user._hub_company_roles = cached  # type: ignore[attr-defined]
    return cached


def _roles(user: User) -> set[str]:
    return {role for roles in company_roles(user).values() for role in roles}


def _writes(roles: frozenset[str] | set[str], app_label: str) -> bool:
    return any(app_label in _WRITABLE_APPS.get(role, frozenset()) for role in roles)


def writable_company_ids(*, user: User, app_label: str) -> tuple[int, ...]:
    """Return the ids of the companies where the user's own role may change ``app_label`` data."""
    if not user.is_active or not user.is_staff or app_label not in CONSOLE_APPS:
        return ()
    return tuple(
        sorted(
            company_id
            for company_id, roles in company_roles(user).items()
            if _writes(roles, app_label)
        )
    )


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
    return _writes(roles, app_label)
