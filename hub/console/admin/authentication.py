"""Console pages for users, companies, memberships, customers and invitations."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q

from hub.console.admin.base import (
    ReadOnlyInlineMixin,
    ScopedAdminMixin,
    ScopedInline,
    ScopedModelAdmin,
    adopt,
    company_ids,
    save_with_services,
)
from hub.console.admin.listing import clipped, time_column
from hub.domain.authentication.models import (
    Company,
    CompanyUser,
    Customer,
    CustomerCompany,
    User,
    UserInvitation,
)
from hub.domain.authentication.passwords import MIN_PASSWORD_LENGTH, password_validate
from hub.domain.authentication.services import (
    company_create,
    company_user_add,
    company_user_set_role,
    customer_company_verify,
    invitation_create,
    user_create,
)

# Users hold no groups or permissions (the shared schema has no such tables; rights come from
# company roles), so the stock Group page would only manage rows nothing reads.
if admin.site.is_registered(Group):
    admin.site.unregister(Group)

MEMBER_FLAGS = ("can_invite_users", "can_manage_deals", "can_view_reports", "can_manage_customers")


class UserAddForm(forms.ModelForm):
    """Create a user the way the domain does (``user_create``): e-mail login, ≥ 8 characters."""

    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=f"At least {MIN_PASSWORD_LENGTH} characters.",
    )
    password2 = forms.CharField(
        label="Password confirmation",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    class Meta:
        model = User
        fields = ("email", "first_name", "last_name", "account_type")

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"].strip()).lower()
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError("A user with this e-mail address already exists.")
        return email

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", "The two passwords do not match.")
        elif password1:
            try:
                password_validate(password=password1)
            except ValidationError as error:
                self.add_error("password1", error.message_dict["password"])
        return cleaned

    def save(self, commit: bool = True) -> User:
        # The service writes the row whatever ``commit`` says: the admin's add view commits.
        data = self.cleaned_data
        self.instance = user_create(
            email=data["email"],
            password=data["password1"],
            account_type=data["account_type"],
            first_name=data["first_name"],
            last_name=data["last_name"],
        )
        return self.instance

    def save_m2m(self) -> None:
        """Nothing to do: a user has no many-to-many fields (no groups, no permissions)."""


class UserChangeForm(auth_forms.UserChangeForm):
    class Meta(auth_forms.UserChangeForm.Meta):
        model = User
        fields = "__all__"


class MembershipInline(ReadOnlyInlineMixin, ScopedInline, admin.TabularInline):
    model = CompanyUser
    fk_name = "user"
    fields = ("company", "role", "department", "is_active", "joined_at")
    verbose_name_plural = "company memberships"


@admin.register(User)
class UserAdmin(ScopedAdminMixin, auth_admin.UserAdmin):
    form = UserChangeForm
    add_form = UserAddForm
    list_display = (
        "email",
        "full_name",
        "account_type",
        "is_active",
        "is_staff",
        "is_superuser",
        "last_login",
        "date_joined",
    )
    list_filter = ("account_type", "is_active", "is_staff", "is_superuser", "is_verified")
    search_fields = ("email", "username", "first_name", "last_name", "phone")
    ordering = ("email",)
    date_hierarchy = "date_joined"
    filter_horizontal = ()
    readonly_fields = ("id", "last_login", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("id", "email", "username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "phone")}),
        (
            "Account",
            {"fields": ("account_type", "is_verified", "is_active", "is_staff", "is_superuser")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined", "created_at", "updated_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "email",
                    "first_name",
                    "last_name",
                    "account_type",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    inlines = (MembershipInline,)

    @admin.display(description="name", ordering="last_name")
    def full_name(self, user: User) -> str:
        return f"{user.first_name} {user.last_name}".strip()

    def has_autocomplete_permission(self, request) -> bool:
        """Any member may pick people (assignees, owners) of their companies in a form."""
        return request.user.is_superuser or (request.user.is_staff and bool(company_ids(request)))

    def has_view_permission(self, request, obj=None):
        # The picker's search (the autocomplete view) lists the people of the user's companies
        # (get_queryset scopes it); the user pages themselves stay with superusers.
        if obj is None and _is_autocomplete(request):
            return self.has_autocomplete_permission(request)
        return super().has_view_permission(request, obj)

    def scope_to(self, request, queryset, ids):
        # Staff may pick the members and the customers of their companies, nobody else.
        ids = list(ids)
        members = Q(memberships__company__in=ids) | Q(customer__companies__company__in=ids)
        return queryset.filter(pk__in=User.objects.filter(members).values("pk"))

    def row_in_companies(self, request, obj, ids) -> bool:
        return False  # only superusers administer people

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    def write(self, request, obj, form, change) -> None:
        if change:  # on add, UserAddForm.save already created the user through the service
            obj.save()


def _is_autocomplete(request) -> bool:
    match = getattr(request, "resolver_match", None)
    return match is not None and match.view_name == "admin:autocomplete"


@admin.register(Company)
class CompanyAdmin(ScopedModelAdmin):
    company_path = "id"
    list_display = (
        "company_name",
        "industry",
        "city",
        "country",
        "employee_count",
        "is_active",
        "created_by",
        "created_at",
    )
    list_filter = ("is_active", "industry", "country")
    search_fields = ("company_name", "website", "city", "country", "phone")
    list_select_related = ("created_by",)
    date_hierarchy = "created_at"
    autocomplete_fields = ("created_by",)
    ordering = ("company_name",)

    def write(self, request, obj, form, change) -> None:
        if change:
            obj.save()
            return
        # The service also makes the creator the CEO member and gives the default pipeline.
        fields = {
            name: getattr(obj, name)
            for name in form.cleaned_data
            if name not in ("company_name", "created_by")
        }
        adopt(
            obj, company_create(company_name=obj.company_name, created_by=obj.created_by, **fields)
        )


@admin.register(CompanyUser)
class CompanyUserAdmin(ScopedModelAdmin):
    list_display = (
        "user",
        "company",
        "role",
        "department",
        "is_active",
        "can_invite_users",
        "can_manage_deals",
        "can_view_reports",
        "can_manage_customers",
        "joined_at",
    )
    list_filter = ("role", "department", "is_active", "company")
    search_fields = (
        "user__email",
        "user__first_name",
        "user__last_name",
        "company__company_name",
    )
    list_select_related = ("user", "company")
    autocomplete_fields = ("user", "invited_by")
    date_hierarchy = "joined_at"
    # The role's default permissions apply on joining; edit them afterwards.
    add_fields = ("user", "company", "role", "department")

    def write(self, request, obj, form, change) -> None:
        if not change:
            membership = company_user_add(
                company=obj.company,
                user=obj.user,
                role=obj.role,
                department=obj.department,
                invited_by=request.user,
            )
            adopt(obj, membership)
            return
        if "role" not in form.changed_data:
            obj.save()
            return
        # A new role brings its default permissions, unless the form set them explicitly.
        explicit = {name: getattr(obj, name) for name in MEMBER_FLAGS if name in form.changed_data}
        company_user_set_role(membership=obj, role=obj.role)
        if explicit:
            for name, value in explicit.items():
                setattr(obj, name, value)
            obj.save(update_fields=list(explicit))


@admin.register(Customer)
class CustomerAdmin(ScopedModelAdmin):
    company_path = "companies__company"
    list_display = (
        "__str__",
        "email",
        "city",
        "country",
        "company",
        time_column("created_at", "created"),
    )
    search_fields = ("user__email", "user__first_name", "user__last_name", "city", "country")
    list_filter = ("country", "companies__company")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)
    date_hierarchy = "created_at"

    @admin.display(ordering="user__email")
    def email(self, customer: Customer) -> str:
        return clipped(customer.user.email)

    @admin.display(description="companies")
    def company(self, customer: Customer) -> str:
        # The companies the user may see (a customer of several is the same person in each).
        links = customer.shown_links  # type: ignore[attr-defined]
        return clipped(", ".join(link.company.company_name for link in links))

    def get_queryset(self, request):
        links = CustomerCompany.objects.select_related("company").order_by("company__company_name")
        if not request.user.is_superuser:
            links = links.filter(company_id__in=company_ids(request))
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("companies", queryset=links, to_attr="shown_links"))
        )

    def has_add_permission(self, request):
        # A customer joins a company through its link (CustomerCompany); a customer row of no
        # company would be invisible to the staff member who created it.
        return request.user.is_superuser


@admin.register(CustomerCompany)
class CustomerCompanyAdmin(ScopedModelAdmin):
    list_display = (
        "customer",
        "company",
        "verified",
        "customer_status",
        "customer_since",
        "account_manager",
        "created_at",
    )
    list_filter = ("verified", "customer_status", "company")
    search_fields = (
        "customer__user__email",
        "customer__user__first_name",
        "customer__user__last_name",
        "company__company_name",
    )
    list_select_related = ("customer__user", "company", "account_manager")
    autocomplete_fields = ("customer", "added_by", "account_manager")
    readonly_fields = ("verified_at", "customer_since")
    date_hierarchy = "created_at"
    current_user_fields = ("added_by",)

    def write(self, request, obj, form, change) -> None:
        # verified_at and customer_since are set by the service, the first time only.
        save_with_services(
            obj,
            form,
            {
                "verified": lambda verified: (
                    customer_company_verify(link=obj) if verified else _unverify(obj)
                )
            },
        )


def _unverify(link: CustomerCompany) -> None:
    link.verified = False
    link.save(update_fields=["verified"])


@admin.register(UserInvitation)
class UserInvitationAdmin(ScopedModelAdmin):
    list_display = (
        "email",
        "company",
        "role",
        "status",
        "invited_by",
        "expires_at",
        "created_at",
        "accepted_at",
    )
    list_filter = ("status", "role", "company")
    search_fields = ("email", "company__company_name")
    list_select_related = ("company", "invited_by")
    autocomplete_fields = ("invited_by",)
    readonly_fields = ("invitation_token", "expires_at", "accepted_at")
    date_hierarchy = "created_at"
    current_user_fields = ("invited_by",)
    # The token, the expiry (7 days) and the inviter come from the service.
    add_fields = ("company", "email", "role")

    def write(self, request, obj, form, change) -> None:
        if change:
            obj.save()
            return
        invitation = invitation_create(
            company=obj.company, email=obj.email, role=obj.role, invited_by=request.user
        )
        adopt(obj, invitation)
