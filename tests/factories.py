"""factory_boy factories for the shared tables (tests build rows directly; services are tested)."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.utils import timezone

from hub.domain.authentication.models import (
    Company,
    CompanyUser,
    Customer,
    CustomerCompany,
    Role,
    User,
)
from hub.domain.calls.models import Call, CallDirection, PhoneNumber
from hub.domain.crm.models import Deal, Lead
from hub.domain.crm.services import pipeline_create_default
from hub.domain.emails.models import Email, EmailAccount
from hub.domain.notifications.models import Notification

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company
        skip_postgeneration_save = True

    company_name = factory.Sequence(lambda n: f"Company {n}")
    created_by = factory.SubFactory(UserFactory)

    @factory.post_generation
    def pipeline(obj, create, extracted, **kwargs):
        if create:
            pipeline_create_default(company=obj)


class CompanyUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CompanyUser

    user = factory.SubFactory(UserFactory)
    company = factory.SubFactory(CompanyFactory)
    role = Role.SALES_MANAGER
    can_manage_deals = True


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    user = factory.SubFactory(UserFactory, account_type="customer")


class CustomerCompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerCompany

    customer = factory.SubFactory(CustomerFactory)
    company = factory.SubFactory(CompanyFactory)


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    company = factory.SubFactory(CompanyFactory)
    created_by = factory.SelfAttribute("company.created_by")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"lead{n}@prospect.test")
    lead_source = "website"


class DealFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deal

    company = factory.SubFactory(CompanyFactory)
    created_by = factory.SelfAttribute("company.created_by")
    pipeline = factory.LazyAttribute(lambda o: o.company.pipelines.get(is_default=True))
    stage = factory.LazyAttribute(lambda o: o.pipeline.stages.order_by("order").first())
    probability = factory.LazyAttribute(lambda o: o.stage.probability)
    title = factory.Sequence(lambda n: f"Deal {n}")
    value = Decimal("1000.00")
    contact_name = "Pat Contact"
    contact_email = "pat@client.test"
    company_name = "Client Ltd"


class PhoneNumberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PhoneNumber

    company = factory.SubFactory(CompanyFactory)
    user = factory.SelfAttribute("company.created_by")
    phone_number = factory.Sequence(lambda n: f"+1415555{n:04d}")
    country_code = "US"
    number_type = "VoIP"
    twilio_phone_sid = factory.Sequence(lambda n: f"PN{n:032d}")


class CallFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Call

    company = factory.SubFactory(CompanyFactory)
    direction = CallDirection.INBOUND
    from_number = "+14155550100"
    to_number = "+14155550199"
    twilio_call_sid = factory.Sequence(lambda n: f"CA{n:032d}")


class EmailAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EmailAccount

    company = factory.SubFactory(CompanyFactory)
    user = factory.SelfAttribute("company.created_by")
    email = factory.Sequence(lambda n: f"inbox{n}@company.test")
    provider = "imap"
    username = factory.SelfAttribute("email")
    password = "not-a-real-token"


class EmailFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Email

    email_account = factory.SubFactory(EmailAccountFactory)
    message_id = factory.Sequence(lambda n: f"<msg{n}@mail.test>")
    from_email = "sender@mail.test"
    subject = "Hello"
    body_text = "Hi there"
    direction = "inbound"
    sent_at = factory.LazyFunction(timezone.now)


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    user = factory.SubFactory(UserFactory)
    title = "Heads up"
    message = "Something happened"
