"""Users, companies (tenants), team membership, customers and invitations (``authentication_*``)."""

from __future__ import annotations

import re
import uuid
from typing import ClassVar

from django.contrib import auth
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.utils import timezone

from hub.domain.authentication.passwords import password_validate
from hub.domain.common import choices_check


class AccountType(models.TextChoices):
    COMPANY = "company", "Company"
    CUSTOMER = "customer", "Customer"


class Role(models.TextChoices):
    CEO = "ceo", "CEO"
    MANAGER = "manager", "Manager"
    SALES_MANAGER = "sales_manager", "Sales manager"
    SUPPORT_STAFF = "support_staff", "Support staff"


class Department(models.TextChoices):
    SALES = "sales", "Sales"
    SUPPORT = "support", "Support"
    MARKETING = "marketing", "Marketing"
    MANAGEMENT = "management", "Management"


class Industry(models.TextChoices):
    TECHNOLOGY = "technology", "Technology"
    HEALTHCARE = "healthcare", "Healthcare"
    FINANCE = "finance", "Finance"
    RETAIL = "retail", "Retail"
    MANUFACTURING = "manufacturing", "Manufacturing"
    OTHER = "other", "Other"


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    EXPIRED = "expired", "Expired"


class CustomerStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    BLOCKED = "blocked", "Blocked"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(
        self,
        email: str,
        password: str | None = None,
        *,
        account_type: str = AccountType.COMPANY,
        first_name: str = "",
        last_name: str = "",
        **fields,
    ) -> User:
        """Create a user who logs in by e-mail; the username is derived from the address.

        The rules live here, where Django's own commands (createsuperuser) reach them too;
        the hub's code calls ``hub.domain.authentication.services.user_create``.
        """
        email = self.normalize_email((email or "").strip()).lower()
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError({"email": "Enter a valid e-mail address."}) from None
        if self.filter(email__iexact=email).exists():
            raise ValidationError({"email": "A user with this e-mail address already exists."})
        password_validate(password=password)
        user = self.model(
            email=email,
            username=fields.pop("username", None) or self._username_from_email(email),
            account_type=account_type,
            first_name=first_name,
            last_name=last_name,
            **fields,
        )
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def _username_from_email(self, email: str) -> str:
        base = re.sub(r"[^\w.@+-]", "", email.split("@", 1)[0])[:140] or "user"
        candidate, suffix = base, 1
        while self.filter(username=candidate).exists():
            suffix += 1
            candidate = f"{base}{suffix}"
        return candidate

    def create_superuser(self, email: str, password: str | None = None, **fields) -> User:
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser):
    """A person: a company team member or a customer. Logs in with the e-mail address.

    The CRM's ``AbstractUser`` columns are declared here one by one (no groups or permission
    tables: the shared schema has none); admin permissions follow the company role instead.
    """

    id = models.AutoField(primary_key=True)
    username = models.CharField(
        max_length=150, unique=True, validators=[UnicodeUsernameValidator()]
    )
    email = models.EmailField(max_length=254, unique=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    account_type = models.CharField(
        max_length=16, choices=AccountType.choices, default=AccountType.COMPANY, db_index=True
    )
    phone = models.CharField(max_length=32, null=True, blank=True)
    is_verified = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    is_superuser = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        db_table = "authentication_user"
        constraints = [choices_check("authentication_user", "account_type", AccountType)]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email

    def get_short_name(self) -> str:
        return self.first_name or self.email

    # Admin permissions: superusers may do anything; staff act within their companies by role.
    # Asked of the authentication backends, as Django's PermissionsMixin does:
    # hub.domain.authentication.backends.EmailBackend answers from the company roles.
    def has_perm(self, perm: str, obj: models.Model | None = None) -> bool:
        return any(
            backend.has_perm(self, perm, obj)
            for backend in auth.get_backends()
            if hasattr(backend, "has_perm")
        )

    def has_perms(self, perm_list, obj: models.Model | None = None) -> bool:
        return all(self.has_perm(perm, obj) for perm in perm_list)

    def has_module_perms(self, app_label: str) -> bool:
        return any(
            backend.has_module_perms(self, app_label)
            for backend in auth.get_backends()
            if hasattr(backend, "has_module_perms")
        )


class Company(models.Model):
    id = models.AutoField(primary_key=True)
    company_name = models.CharField(max_length=255)
    logo = models.ImageField(upload_to="company_logos/", null=True, blank=True)
    website = models.URLField(max_length=200, null=True, blank=True)
    industry = models.CharField(
        max_length=32, choices=Industry.choices, null=True, blank=True, db_index=True
    )
    description = models.TextField(null=True, blank=True)
    phone = models.CharField(max_length=32, null=True, blank=True)
    employee_count = models.PositiveIntegerField(null=True, blank=True)
    address = models.TextField(null=True, blank=True)
    city = models.CharField(max_length=100, null=True, blank=True)
    country = models.CharField(max_length=100, null=True, blank=True)
    timezone = models.CharField(max_length=100, null=True, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="companies_created")
    is_active = models.BooleanField(default=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "authentication_company"
        verbose_name_plural = "companies"
        constraints = [choices_check("authentication_company", "industry", Industry, nullable=True)]

    def __str__(self) -> str:
        return self.company_name


class CompanyUser(models.Model):
    id = models.AutoField(primary_key=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="members")
    role = models.CharField(max_length=32, choices=Role.choices, db_index=True)
    department = models.CharField(
        max_length=32, choices=Department.choices, null=True, blank=True, db_index=True
    )
    invited_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    joined_at = models.DateTimeField(default=timezone.now)
    is_active = models.BooleanField(default=True)
    can_invite_users = models.BooleanField(default=False)
    can_manage_deals = models.BooleanField(default=False)
    can_view_reports = models.BooleanField(default=False)
    can_manage_customers = models.BooleanField(default=False)

    class Meta:
        db_table = "authentication_companyuser"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "company"], name="authentication_companyuser_user_company_uniq"
            ),
            choices_check("authentication_companyuser", "role", Role),
            choices_check("authentication_companyuser", "department", Department, nullable=True),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.company} ({self.role})"


class Customer(models.Model):
    id = models.AutoField(primary_key=True)
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="customer")
    profile_picture = models.ImageField(upload_to="customer_profiles/", null=True, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    address = models.TextField(null=True, blank=True)
    city = models.CharField(max_length=100, null=True, blank=True)
    country = models.CharField(max_length=100, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "authentication_customer"

    def __str__(self) -> str:
        return self.user.get_full_name()


class CustomerCompany(models.Model):
    id = models.AutoField(primary_key=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="companies")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="customers")
    verified = models.BooleanField(default=False, db_index=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    added_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    customer_since = models.DateTimeField(null=True, blank=True)
    customer_status = models.CharField(
        max_length=20, choices=CustomerStatus.choices, default=CustomerStatus.ACTIVE
    )
    account_manager = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    notes = models.TextField(blank=True, default="")

    class Meta:
        db_table = "authentication_customercompany"
        verbose_name_plural = "customer companies"
        constraints = [
            choices_check("authentication_customercompany", "customer_status", CustomerStatus)
        ]

    def __str__(self) -> str:
        return f"{self.customer} ↔ {self.company}"


def _new_invitation_token() -> str:
    return str(uuid.uuid4())


class UserInvitation(models.Model):
    id = models.AutoField(primary_key=True)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(db_index=True)
    role = models.CharField(max_length=32, choices=Role.choices)
    invited_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    invitation_token = models.CharField(max_length=100, unique=True, default=_new_invitation_token)
    status = models.CharField(
        max_length=16,
        choices=InvitationStatus.choices,
        default=InvitationStatus.PENDING,
        db_index=True,
    )
    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "authentication_userinvitation"
        constraints = [
            choices_check("authentication_userinvitation", "role", Role),
            choices_check("authentication_userinvitation", "status", InvitationStatus),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.company} ({self.status})"
