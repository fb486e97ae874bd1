from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from hub.domain.crm.models import Deal, LeadStatus
from hub.domain.crm.services import lead_convert
from tests import factories


@pytest.fixture
def lead(acme, bob):
    return factories.LeadFactory(
        company=acme,
        first_name="Road",
        last_name="Runner",
        email="beep@desert.test",
        phone="+14155550123",
        company_name="Desert Co",
        estimated_value=Decimal("1500.00"),
        assigned_to=bob,
    )


def test_converting_creates_a_deal_in_the_default_pipelines_first_stage(acme, alice, bob, lead):
    deal = lead_convert(lead=lead, by=alice)

    deal.refresh_from_db()
    assert deal.company == acme
    assert deal.pipeline == acme.pipelines.get(is_default=True)
    assert deal.stage == deal.pipeline.stages.order_by("order").first()
    assert (deal.stage.name, deal.probability) == ("Prospecting", 10)
    assert deal.lead == lead
    assert deal.created_by == alice
    assert deal.assigned_to == bob


def test_the_deal_carries_the_leads_contact_and_value(alice, lead):
    deal = lead_convert(lead=lead, by=alice)

    assert (deal.contact_name, deal.contact_email, deal.contact_phone) == (
        "Road Runner",
        "beep@desert.test",
        "+14155550123",
    )
    assert deal.company_name == "Desert Co"
    assert deal.value == Decimal("1500.00")
    assert deal.title == "Desert Co deal"


def test_title_and_value_may_be_given(alice, lead):
    deal = lead_convert(lead=lead, by=alice, title="Seed contract", value=Decimal("0"))

    assert (deal.title, deal.value) == ("Seed contract", Decimal("0"))


def test_the_lead_is_marked_converted(alice, lead):
    before = timezone.now()

    deal = lead_convert(lead=lead, by=alice)

    lead.refresh_from_db()
    assert lead.status == LeadStatus.CONVERTED
    assert lead.converted_to_deal == deal
    assert before <= lead.converted_at <= timezone.now()


def test_a_lead_without_company_name_or_value(acme, alice):
    lead = factories.LeadFactory(
        company=acme, first_name="Solo", last_name="Person", company_name=None
    )

    deal = lead_convert(lead=lead, by=alice)

    assert (deal.company_name, deal.title, deal.value) == (
        "Solo Person",
        "Solo Person deal",
        Decimal("0"),
    )


def test_converting_twice_is_refused(alice, lead):
    first = lead_convert(lead=lead, by=alice)

    with pytest.raises(ValidationError) as excinfo:
        lead_convert(lead=lead, by=alice)

    assert "already been converted" in excinfo.value.message_dict["status"][0]
    assert list(Deal.objects.all()) == [first]
    lead.refresh_from_db()
    assert lead.converted_to_deal == first


def test_the_deal_stays_in_the_leads_company(acme, globex, alice, charlie):
    acme_lead = factories.LeadFactory(company=acme)
    globex_lead = factories.LeadFactory(company=globex)

    acme_deal = lead_convert(lead=acme_lead, by=alice)
    globex_deal = lead_convert(lead=globex_lead, by=charlie)

    assert acme_deal.company == acme and acme_deal.pipeline.company == acme
    assert globex_deal.company == globex and globex_deal.stage.pipeline.company == globex


def test_conversion_appends_deal_created_and_lead_updated(acme, alice, bob, lead, events):
    deal = lead_convert(lead=lead, by=alice)

    created, updated = events.new()
    assert (created.type, created.company_id, created.user_id) == ("deal.created", acme.id, bob.id)
    assert created.payload["id"] == deal.id
    assert (updated.type, updated.company_id, updated.user_id) == ("lead.updated", acme.id, bob.id)
    assert updated.audience == "deal_managers"
    assert updated.payload["changed"] == ["status"]
    assert updated.payload["status"] == "converted"


def test_a_refused_conversion_appends_nothing(alice, lead, events):
    lead_convert(lead=lead, by=alice)
    events.mark()

    with pytest.raises(ValidationError):
        lead_convert(lead=lead, by=alice)

    assert events.new() == []
