"""Company scoping for the admin console.

Superusers see everything. Other staff see, pick and save only rows of the companies where
they hold an active membership: each admin names the path from its model to the company
(``company``, ``pipeline__company``, ``customer__companies__company``…) or overrides
:meth:`ScopedAdminMixin.scope_queryset`. Foreign-key choices, autocomplete results and
related list filters follow the scope of the target model's own admin, so a form can never
offer another tenant's row. What a staff member may do with the rows (view, change…) comes
from their company role (``hub.domain.authentication.permissions``), company by company: a
member may view the rows of all their companies but change, delete or add only rows of the
companies where their role there allows it (a support agent of one company who is the CEO of
another is a support agent in the first).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered
from django.contrib.admin.utils import get_fields_from_path
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models
from django.db.models.fields import AutoFieldMixin
from django.http import HttpRequest, HttpResponse

from hub.console.admin.listing import ListingMedia, company_labelled
from hub.domain.authentication.models import Company
from hub.domain.authentication.permissions import writable_company_ids
from hub.domain.authentication.selectors import memberships_active


def company_ids(request: HttpRequest) -> tuple[int, ...]:
    """Return the ids of the companies where the request's user is an active member."""
    cached = getattr(request, "_hub_company_ids", None)
    user_id = request.user.pk
    if user_id is None:
        return ()
    if cached is None:
        cached = tuple(
            memberships_active()
            .filter(user_id=user_id)
            .order_by("company_id")
            .values_list("company_id", flat=True)
        )
        request._hub_company_ids = cached  # type: ignore[attr-defined]
    return cached


def write_company_ids(request: HttpRequest, app_label: str) -> tuple[int, ...]:
    """Return the ids of the companies where the user's role there may change ``app_label``."""
    cache = request.__dict__.setdefault("_hub_write_company_ids", {})
    if app_label not in cache:
        user = request.user
        cache[app_label] = (
            writable_company_ids(user=user, app_label=app_label)  # type: ignore[arg-type]
            if user.pk is not None
            else ()
        )
    return cache[app_label]


def _crosses_many(model: type[models.Model], path: str) -> bool:
    return any(f.many_to_many or f.one_to_many for f in get_fields_from_path(model, path))


def scope_to_companies(queryset: models.QuerySet, path: str, ids: Iterable[int]) -> models.QuerySet:
    """Keep the rows whose ``path`` leads to one of the companies ``ids``, each row once."""
    lookup = {f"{path}__in": list(ids)}
    if _crosses_many(queryset.model, path):
        # A multi-valued path would repeat rows; match on the primary key instead.
        return queryset.filter(pk__in=queryset.model._default_manager.filter(**lookup).values("pk"))
    return queryset.filter(**lookup)


def scoped_choices(
    admin_site: admin.AdminSite,
    model: type[models.Model],
    request: HttpRequest,
    queryset: models.QuerySet,
) -> models.QuerySet:
    """Limit ``queryset`` (rows of ``model``) to what the request's user may pick."""
    if request.user.is_superuser:
        return queryset
    try:
        model_admin = admin_site.get_model_admin(model)
    except NotRegistered:
        return queryset.none()
    if isinstance(model_admin, ScopedAdminMixin):
        return model_admin.scope_queryset(request, queryset)
    return queryset.none()


class ScopedRelatedFieldListFilter(admin.RelatedOnlyFieldListFilter):
    """The related values that occur in the rows shown and that the user may pick themselves.

    A row shared by several companies (a customer's profile) can point at rows another company
    owns (its tags); those are neither named nor usable as a filter here.
    """

    def field_choices(self, field, request, model_admin):
        shown = (
            model_admin.get_queryset(request)
            .distinct()
            .values_list(f"{self.field_path}__pk", flat=True)
        )
        target = field.related_model
        allowed = scoped_choices(
            model_admin.admin_site, target, request, target._default_manager.all()
        )
        ordering = self.field_admin_ordering(field, request, model_admin)
        choices = field.get_choices(
            include_blank=False,
            limit_choices_to=models.Q(pk__in=shown) & models.Q(pk__in=allowed.values("pk")),
            ordering=ordering,
        )
        return company_labelled(choices, self._companies(model_admin.admin_site, target, choices))

    @staticmethod
    def _companies(site: admin.AdminSite, target: type[models.Model], choices) -> dict:
        """The company name of each choice, where the target row belongs to one company."""
        path = getattr(site._registry.get(target), "company_path", None)
        try:
            if not path or path == "id" or _crosses_many(target, path):
                return {}
        except FieldDoesNotExist:
            return {}  # an admin that scopes its own way (users: by membership)
        rows = target._default_manager.filter(pk__in=[pk for pk, _ in choices])
        return dict(rows.values_list("pk", f"{path}__company_name"))

    def queryset(self, request, queryset):
        if self.lookup_val and not request.user.is_superuser:
            # Filtering by another company's row would tell which rows point at it.
            picked = {str(value) for value in self.lookup_val}
            if not picked <= {str(pk) for pk, _ in self.lookup_choices}:
                return queryset.none()
        return super().queryset(request, queryset)


def audit_fields(model: type[models.Model], *, with_pk: bool = True) -> list[str]:
    """Return the columns the database or Django fills in: generated ids and timestamps."""
    return [
        f.name
        for f in model._meta.concrete_fields
        if (with_pk and f.primary_key and (isinstance(f, AutoFieldMixin) or not f.editable))
        or getattr(f, "auto_now", False)
        or getattr(f, "auto_now_add", False)
    ]


def adopt(obj: models.Model, saved: models.Model) -> models.Model:
    """Make the admin's instance mirror the row a service created, so the admin can go on."""
    for field in saved._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False
    obj._state.db = saved._state.db
    return obj


def save_with_services(
    obj: models.Model, form: Any, services: dict[str, Callable[[Any], object]]
) -> None:
    """Save the form's plain edits, then hand each changed watched field to its service.

    The watched fields are put back to their stored values for the plain save, so the only
    write that changes them is the service's (which checks the rules and records the event).
    """
    changed = {name: getattr(obj, name) for name in services if name in form.changed_data}
    if changed and obj._state.adding:
        for name in changed:
            field = obj._meta.get_field(name)
            assert isinstance(field, models.Field)
            setattr(obj, name, field.get_default())
    elif changed:
        stored = type(obj)._default_manager.get(pk=obj.pk)
        for name in changed:
            setattr(obj, name, getattr(stored, name))
    obj.save()
    for name, value in changed.items():
        services[name](value)


class ScopedFormMixin:
    """Foreign-key choices and autocompletes limited to what the user may pick."""

    admin_site: admin.AdminSite
    formfield_overrides: ClassVar[Mapping[type[models.Field], Mapping[str, Any]]] = {
        models.URLField: {"assume_scheme": "https"}
    }

    def get_field_queryset(self, db, db_field, request):
        queryset = super().get_field_queryset(db, db_field, request)  # type: ignore[misc]
        if request is None or request.user.is_superuser:
            return queryset
        model = db_field.remote_field.model
        if queryset is None:
            queryset = model._default_manager.using(db)
        return scoped_choices(self.admin_site, model, request, queryset)

    def get_autocomplete_fields(self, request):
        fields = super().get_autocomplete_fields(request)  # type: ignore[misc]
        if request.user.is_superuser:
            return fields
        # The autocomplete view answers only those who may view the target; for the others
        # (staff and users, say) the field falls back to a select of the scoped choices.
        return [name for name in fields if self._may_view_target(request, name)]

    def _may_view_target(self, request, name: str) -> bool:
        model = self.model._meta.get_field(name).remote_field.model  # type: ignore[attr-defined]
        try:
            target = self.admin_site.get_model_admin(model)
        except NotRegistered:
            return False
        may_search = getattr(target, "has_autocomplete_permission", target.has_view_permission)
        return may_search(request)


class ScopedAdminMixin(ScopedFormMixin):
    """A ModelAdmin whose rows, choices and saves are limited to the user's companies."""

    company_path: str = "company"
    # The fields of the add form, when the service of the write fills in the others.
    add_fields: tuple[str, ...] = ()
    # Foreign keys to users that default to the person filling in the add form.
    current_user_fields: tuple[str, ...] = ("created_by",)
    Media = ListingMedia

    def shows_companies(self, request: HttpRequest) -> bool:
        """Whether rows of several companies can be listed (else a Company column is noise)."""
        return request.user.is_superuser or len(company_ids(request)) > 1

    def get_list_display(self, request):
        shown = super().get_list_display(request)  # type: ignore[misc]
        if self.shows_companies(request):
            return shown
        return [item for item in shown if getattr(item, "__name__", item) != "company"]

    def scope_queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        if request.user.is_superuser:
            return queryset
        return self.scope_to(request, queryset, company_ids(request))

    def scope_to(
        self, request: HttpRequest, queryset: models.QuerySet, ids: Iterable[int]
    ) -> models.QuerySet:
        """Keep the rows of ``queryset`` that belong to one of the companies ``ids``."""
        return scope_to_companies(queryset, self.company_path, ids)

    def write_ids(self, request: HttpRequest) -> tuple[int, ...]:
        """The companies whose rows of this admin the user's role there lets them write."""
        return write_company_ids(request, self.model._meta.app_label)  # type: ignore[attr-defined]

    def write_queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        """Limit ``queryset`` to the rows the user may change or delete."""
        if request.user.is_superuser:
            return queryset
        return self.scope_to(
            request, self.scope_queryset(request, queryset), self.write_ids(request)
        )

    def row_in_scope(self, request: HttpRequest, obj: models.Model) -> bool:
        """Whether ``obj``, as the form left it, belongs to one of the user's companies."""
        return self.row_in_companies(request, obj, company_ids(request))

    def row_writable(self, request: HttpRequest, obj: models.Model) -> bool:
        """Whether ``obj``, as the form left it, belongs to a company the user may write in."""
        return self.row_in_companies(request, obj, self.write_ids(request))

    def row_in_companies(
        self, request: HttpRequest, obj: models.Model, ids: tuple[int, ...]
    ) -> bool:
        """Whether ``obj``, as the form left it, belongs to one of the companies ``ids``."""
        head, _, rest = self.company_path.partition("__")
        field = obj._meta.get_field(head)
        if getattr(field, "primary_key", False):
            return obj.pk in ids
        if field.concrete and (field.many_to_one or field.one_to_one):
            value = getattr(obj, field.attname)
            if value is None:
                return False
            if not rest:
                return value in ids
            target = field.related_model
            assert isinstance(target, type)
            return scope_to_companies(target._default_manager.filter(pk=value), rest, ids).exists()
        if obj.pk is None:
            return False
        return scope_to_companies(
            type(obj)._default_manager.filter(pk=obj.pk), self.company_path, ids
        ).exists()

    def stored_row_writable(self, request: HttpRequest, obj: models.Model) -> bool:
        """Whether the stored row ``obj`` is one the user may change or delete (cached)."""
        if obj.pk is None:
            return False
        cache = request.__dict__.setdefault("_hub_writable_rows", {})
        key = (obj._meta.label, obj.pk)
        if key not in cache:
            rows = type(obj)._default_manager.filter(pk=obj.pk)
            cache[key] = self.write_queryset(request, rows).exists()
        return cache[key]

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)  # type: ignore[misc]
        if not allowed or obj is None or request.user.is_superuser:
            return allowed
        return self.stored_row_writable(request, obj)

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)  # type: ignore[misc]
        if not allowed or obj is None or request.user.is_superuser:
            return allowed
        return self.stored_row_writable(request, obj)

    def delete_model(self, request, obj) -> None:
        if not request.user.is_superuser and not self.stored_row_writable(request, obj):
            raise PermissionDenied
        super().delete_model(request, obj)  # type: ignore[misc]

    def delete_queryset(self, request, queryset) -> None:
        if not request.user.is_superuser:
            outside = queryset.exclude(pk__in=self.write_queryset(request, queryset).values("pk"))
            if outside.exists():
                raise PermissionDenied
        super().delete_queryset(request, queryset)  # type: ignore[misc]

    def response_action(
        self, request: HttpRequest, queryset: models.QuerySet, *args: Any, **kwargs: Any
    ) -> HttpResponse | None:
        # An action that writes (change, delete…) runs on the selected rows the user may write.
        if not request.user.is_superuser:
            action = self.get_actions(request).get(request.POST.get("action", ""))  # type: ignore[attr-defined]
            needed = set(getattr(action[0], "allowed_permissions", ()) if action else ())
            if needed - {"view"}:
                queryset = self.write_queryset(request, queryset)
        return super().response_action(request, queryset, *args, **kwargs)  # type: ignore[misc]

    def _get_list_editable_queryset(self, request, prefix):
        queryset = super()._get_list_editable_queryset(request, prefix)  # type: ignore[misc]
        return self.write_queryset(request, queryset)

    def get_queryset(self, request):
        return self.scope_queryset(request, super().get_queryset(request))  # type: ignore[misc]

    def get_list_filter(self, request):
        # A plain related filter would list every company's rows (names of other tenants);
        # offer only the values that occur in the rows this user sees.
        items = super().get_list_filter(request)  # type: ignore[misc]
        if not self.shows_companies(request):
            items = [item for item in items if not self._names_company(item)]
        return [self._scoped_filter(item) for item in items]

    def _names_company(self, item) -> bool:
        if not isinstance(item, str):
            return getattr(item, "parameter_name", None) == "company"
        field = get_fields_from_path(self.model, item)[-1]  # type: ignore[attr-defined]
        return getattr(field, "related_model", None) is Company

    def _scoped_filter(self, item):
        if isinstance(item, str) and get_fields_from_path(self.model, item)[-1].is_relation:  # type: ignore[attr-defined]
            return (item, ScopedRelatedFieldListFilter)
        return item

    def get_fields(self, request, obj=None):
        if obj is None and self.add_fields:
            return self.add_fields
        return super().get_fields(request, obj)  # type: ignore[misc]

    def get_ordering(self, request):
        # Newest first unless told otherwise; never unordered (pagination, autocomplete).
        ordering = super().get_ordering(request)  # type: ignore[misc]
        return ordering or self.model._meta.ordering or ("-pk",)  # type: ignore[attr-defined]

    def get_readonly_fields(self, request, obj=None):
        declared = tuple(super().get_readonly_fields(request, obj))  # type: ignore[misc]
        if obj is None:
            return declared
        return tuple(dict.fromkeys([*audit_fields(self.model), *declared]))  # type: ignore[attr-defined]

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)  # type: ignore[misc]
        names = {f.name for f in self.model._meta.get_fields()}  # type: ignore[attr-defined]
        for name in self.current_user_fields:
            if name in names:
                initial.setdefault(name, request.user.pk)
        if "company" in names and not request.user.is_superuser:
            ids = self.write_ids(request)
            if len(ids) == 1:
                initial.setdefault("company", ids[0])
        return initial

    def get_field_queryset(self, db, db_field, request):
        queryset = super().get_field_queryset(db, db_field, request)
        if (
            request is not None
            and not request.user.is_superuser
            and db_field.name == self.company_path
            and db_field.remote_field.model is Company
        ):
            # The company a row is written to: one where the user's role allows the write.
            queryset = queryset.filter(pk__in=self.write_ids(request))
        return queryset

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser and not (
            self.row_in_scope(request, obj) and self.row_writable(request, obj)
        ):
            raise PermissionDenied
        self.write(request, obj, form, change)

    def write(self, request, obj, form, change) -> None:
        """Store the row: a plain save, or the domain service of the write where one exists."""
        obj.save()


class ScopedModelAdmin(ScopedAdminMixin, admin.ModelAdmin):
    pass


class ScopedInline(ScopedFormMixin):
    """An inline whose foreign-key choices follow the user's scope (rows follow the parent)."""

    extra = 0
    show_change_link = True

    def _parent_writable(self, request, obj) -> bool:
        if obj is None or obj.pk is None or request.user.is_superuser:
            return True
        parent_admin = self.admin_site._registry.get(type(obj))  # type: ignore[attr-defined]
        if isinstance(parent_admin, ScopedAdminMixin):
            return parent_admin.stored_row_writable(request, obj)
        return True

    def has_add_permission(self, request, obj=None):
        allowed = super().has_add_permission(request, obj)  # type: ignore[misc]
        return allowed and self._parent_writable(request, obj)

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)  # type: ignore[misc]
        return allowed and self._parent_writable(request, obj)

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)  # type: ignore[misc]
        return allowed and self._parent_writable(request, obj)

    def get_readonly_fields(self, request, obj=None):
        declared = tuple(super().get_readonly_fields(request, obj))  # type: ignore[misc]
        timestamps = audit_fields(self.model, with_pk=False)  # type: ignore[attr-defined]
        return tuple(dict.fromkeys([*declared, *timestamps]))


class ScopedTabularInline(ScopedInline, admin.TabularInline):
    pass


class ReadOnlyInlineMixin:
    """Shows the children of a row; they are written through their own admin (and service)."""

    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdminMixin:
    """Rows written only by the hub itself (workers, services): viewable, never edited here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class SuperuserOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The hub's own tables: read-only, and only for superusers."""

    Media = ListingMedia

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.none()

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser
