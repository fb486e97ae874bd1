from __future__ import annotations

from hub.domain.authentication.models import CompanyUser, Role
from hub.domain.authentication.services import company_create
from hub.domain.crm.models import DealStage, Pipeline
from hub.domain.crm.services import pipeline_create_default
from tests import factories

EXPECTED_STAGES = [
    ("Prospecting", 10),
    ("Qualification", 25),
    ("Proposal", 50),
    ("Negotiation", 75),
    ("Closed Won", 100),
    ("Closed Lost", 0),
]


def _stages(pipeline: Pipeline) -> list[tuple[str, int]]:
    return list(pipeline.stages.order_by("order").values_list("name", "probability"))


def test_company_create_gives_one_default_sales_pipeline(db):
    founder = factories.UserFactory()

    company = company_create(company_name="Initech", created_by=founder)

    pipeline = Pipeline.objects.get(company=company)
    assert pipeline.name == "Sales Pipeline"
    assert pipeline.is_default
    assert pipeline.created_by == founder
    assert _stages(pipeline) == EXPECTED_STAGES


def test_default_stages_are_numbered_in_order(db):
    company = company_create(company_name="Initech", created_by=factories.UserFactory())

    orders = list(
        DealStage.objects.filter(pipeline__company=company)
        .order_by("order")
        .values_list("order", flat=True)
    )
    assert orders == sorted(set(orders))
    assert len(orders) == 6


def test_pipeline_create_default_again_returns_the_existing_one(db):
    company = company_create(company_name="Initech", created_by=factories.UserFactory())
    first = Pipeline.objects.get(company=company, is_default=True)

    again = pipeline_create_default(company=company)

    assert again == first
    assert Pipeline.objects.filter(company=company).count() == 1
    assert DealStage.objects.filter(pipeline__company=company).count() == 6


def test_company_create_makes_the_creator_its_ceo(db):
    founder = factories.UserFactory()

    company = company_create(company_name="Initech", created_by=founder)

    membership = CompanyUser.objects.get(company=company)
    assert membership.user == founder
    assert membership.role == Role.CEO
    assert membership.can_invite_users and membership.can_manage_deals
    assert membership.can_view_reports and membership.can_manage_customers


def test_each_company_gets_its_own_pipeline(acme, globex):
    assert _stages(acme.pipelines.get(is_default=True)) == EXPECTED_STAGES
    assert _stages(globex.pipelines.get(is_default=True)) == EXPECTED_STAGES
    assert acme.pipelines.get().id != globex.pipelines.get().id
