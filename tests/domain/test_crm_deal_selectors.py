"""Reads for the Slack commands: deal and lead pages, pipelines, sums, and reading typed names."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from hub.domain.authentication.models import CompanyUser
from hub.domain.authentication.services import company_user_add
from hub.domain.crm import deal_selectors
from hub.domain.crm.deal_selectors import (
    deal_get,
    deal_list,
    lead_get,
    lead_list,
    lead_status_match,
    member_match,
    pipeline_default,
    pipeline_stages,
    pipeline_summary,
    stage_match,
)
from hub.domain.crm.models import DealStage, Pipeline
from tests import factories


@pytest.fixture
def dave(acme):
    """Acme support staff: sees only what is assigned to them."""
    user = factories.UserFactory(first_name="Dave", last_name="Desk", email="dave@acme.test")
    company_user_add(company=acme, user=user, role="support_staff")
    return user


def _stages(company) -> dict[str, DealStage]:
    return {s.name: s for s in DealStage.objects.filter(pipeline__company=company)}


def _deal(company, stage: str, **fields):
    stage_row = _stages(company)[stage]
    fields.setdefault("probability", stage_row.probability)
    return factories.DealFactory(company=company, stage=stage_row, **fields)


# -- deal_list and deal_get --------------------------------------------------------------------


def test_deal_list_orders_by_closing_date_nulls_last_then_value_then_id(acme, alice):
    late = _deal(acme, "Proposal", title="late", expected_close_date=date(2031, 5, 1))
    soon = _deal(acme, "Proposal", title="soon", expected_close_date=date(2030, 1, 1))
    big = _deal(acme, "Proposal", title="big", value=Decimal("9000"))
    small_a = _deal(acme, "Proposal", title="small a", value=Decimal("10"))
    small_b = _deal(acme, "Proposal", title="small b", value=Decimal("10"))

    page = deal_list(user=alice, company=acme)

    assert page.deals == [soon, late, big, small_a, small_b]
    assert page.total == 5


def test_deal_list_counts_all_before_the_limit_and_pages_with_offset(acme, alice):
    deals = [_deal(acme, "Proposal", value=Decimal(1000 - n)) for n in range(7)]

    first = deal_list(user=alice, company=acme, limit=3)
    last = deal_list(user=alice, company=acme, limit=3, offset=6)

    assert (first.deals, first.total) == (deals[:3], 7)
    assert (last.deals, last.total) == (deals[6:], 7)
    assert deal_list(user=alice, company=acme, limit=-5, offset=-2) == deal_selectors.DealPage(
        [], 7
    )


def test_deal_list_filters_by_status_stage_and_owner(acme, alice, bob):
    open_mine = _deal(acme, "Proposal", assigned_to=bob)
    open_other = _deal(acme, "Negotiation", assigned_to=alice)
    won = _deal(acme, "Closed Won", status="won")
    stages = _stages(acme)

    assert deal_list(user=alice, company=acme).deals == [open_mine, open_other]
    assert deal_list(user=alice, company=acme, status="won").deals == [won]
    assert len(deal_list(user=alice, company=acme, status=None).deals) == 3
    assert deal_list(user=alice, company=acme, stage=stages["Negotiation"]).deals == [open_other]
    assert deal_list(user=bob, company=acme, mine=True).deals == [open_mine]


def test_deal_list_closing_this_month_uses_the_companys_time_zone(acme, alice, monkeypatch):
    # 23:30 on 31 January in UTC is already 1 February in Tokyo.
    moment = datetime(2025, 1, 31, 23, 30, tzinfo=UTC)
    monkeypatch.setattr(deal_selectors, "timezone", SimpleNamespace(now=lambda: moment))
    january = _deal(acme, "Proposal", title="jan", expected_close_date=date(2025, 1, 31))
    february = _deal(acme, "Proposal", title="feb", expected_close_date=date(2025, 2, 28))
    _deal(acme, "Proposal", title="march", expected_close_date=date(2025, 3, 1))
    _deal(acme, "Proposal", title="undated")

    assert deal_list(user=alice, company=acme, closing_this_month=True).deals == [january]
    acme.timezone = "Asia/Tokyo"
    assert deal_list(user=alice, company=acme, closing_this_month=True).deals == [february]
    acme.timezone = "Mars/Olympus_Mons"  # not a zone: the settings' TIME_ZONE (UTC)
    assert deal_list(user=alice, company=acme, closing_this_month=True).deals == [january]


def test_deal_list_shows_a_limited_member_only_their_deals_and_an_outsider_none(
    acme, alice, dave, charlie, globex
):
    theirs = _deal(acme, "Proposal", assigned_to=dave)
    _deal(acme, "Proposal", assigned_to=alice)
    _deal(globex, "Proposal")

    assert deal_list(user=dave, company=acme) == deal_selectors.DealPage([theirs], 1)
    assert deal_list(user=charlie, company=acme) == deal_selectors.DealPage([], 0)
    assert deal_list(user=alice, company=acme).total == 2


def test_deal_list_loads_its_page_in_three_queries_at_most(
    acme, alice, django_assert_max_num_queries
):
    for n in range(12):
        _deal(acme, "Proposal", assigned_to=alice, value=Decimal(n + 1))

    # The membership, the page, and its count (the page is full).
    with django_assert_max_num_queries(3):
        page = deal_list(user=alice, company=acme, limit=10)
        labels = [
            (d.stage.name, d.pipeline.name, d.assigned_to.email, d.company.company_name)
            for d in page.deals
        ]

    assert len(labels) == 10
    assert page.total == 12


def test_deal_get_returns_only_a_visible_deal_with_its_relations(
    acme, alice, dave, charlie, django_assert_num_queries
):
    deal = _deal(acme, "Negotiation", assigned_to=alice)

    with django_assert_num_queries(2):  # the membership, then the deal with its relations
        found = deal_get(user=alice, company=acme, deal_id=deal.id)
        assert (found.stage.name, found.pipeline.is_default, found.assigned_to) == (
            "Negotiation",
            True,
            alice,
        )
        assert found.company.company_name == "Acme"
    assert deal_get(user=dave, company=acme, deal_id=deal.id) is None
    assert deal_get(user=charlie, company=acme, deal_id=deal.id) is None


def test_deal_get_of_another_companys_or_an_impossible_id_is_none(acme, globex, alice):
    other = _deal(globex, "Proposal")

    for deal_id in (other.id, 0, -1, 2**31, 10**30):
        assert deal_get(user=alice, company=acme, deal_id=deal_id) is None


# -- lead_list and lead_get --------------------------------------------------------------------


def test_lead_list_shows_the_open_leads_newest_first_unless_a_status_is_asked(acme, alice):
    new = factories.LeadFactory(company=acme, status="new")
    contacted = factories.LeadFactory(company=acme, status="contacted")
    qualified = factories.LeadFactory(company=acme, status="qualified")
    lost = factories.LeadFactory(company=acme, status="unqualified")
    factories.LeadFactory(company=acme, status="converted")

    assert lead_list(user=alice, company=acme).leads == [qualified, contacted, new]
    assert lead_list(user=alice, company=acme, status="unqualified").leads == [lost]
    page = lead_list(user=alice, company=acme, limit=2)
    assert (page.leads, page.total) == ([qualified, contacted], 3)


def test_lead_list_and_get_are_scoped_to_what_the_member_may_see(
    acme, globex, alice, bob, dave, charlie
):
    theirs = factories.LeadFactory(company=acme, assigned_to=dave)
    bobs = factories.LeadFactory(company=acme, assigned_to=bob)
    foreign = factories.LeadFactory(company=globex)

    assert lead_list(user=dave, company=acme).leads == [theirs]
    assert lead_list(user=bob, company=acme, mine=True).leads == [bobs]
    assert lead_list(user=charlie, company=acme).total == 0
    assert lead_get(user=dave, company=acme, lead_id=theirs.id) == theirs
    assert lead_get(user=dave, company=acme, lead_id=bobs.id) is None
    assert lead_get(user=alice, company=acme, lead_id=foreign.id) is None
    assert lead_get(user=alice, company=acme, lead_id=2**40) is None


# -- pipelines ---------------------------------------------------------------------------------


def test_pipeline_default_and_its_active_stages_in_order(acme, alice, globex):
    pipeline = pipeline_default(company=acme)
    DealStage.objects.filter(pipeline=pipeline, name="Qualification").update(is_active=False)

    assert pipeline.company == acme and pipeline.is_default
    assert [s.name for s in pipeline_stages(pipeline=pipeline)] == [
        "Prospecting",
        "Proposal",
        "Negotiation",
        "Closed Won",
        "Closed Lost",
    ]
    assert pipeline_default(company=globex).company == globex


def test_pipeline_default_falls_back_to_an_active_pipeline(acme, alice):
    Pipeline.objects.filter(company=acme).update(is_default=False)
    other = Pipeline.objects.create(company=acme, name="Renewals", created_by=alice)
    Pipeline.objects.filter(company=acme).exclude(pk=other.pk).update(is_active=False)

    assert pipeline_default(company=acme) == other
    other.is_active = False
    other.save()
    assert pipeline_default(company=acme) is None


# -- pipeline_summary --------------------------------------------------------------------------


def test_the_summary_sums_the_main_currency_by_stage_and_keeps_others_apart(
    acme, alice, django_assert_max_num_queries
):
    # The deal's own probability weighs it, not its stage's.
    _deal(acme, "Proposal", value=Decimal("1000.00"), probability=50)
    _deal(acme, "Proposal", value=Decimal("333.33"), probability=33)
    _deal(acme, "Negotiation", value=Decimal("2000.00"), probability=80)
    _deal(acme, "Negotiation", value=Decimal("500.00"), currency="EUR")
    _deal(acme, "Proposal", value=Decimal("700.00"), currency="GBP")
    _deal(acme, "Closed Won", value=Decimal("99999.00"), status="won")

    # The pipeline, the company's currency, the membership, the sums, the stages.
    with django_assert_max_num_queries(5):
        summary = pipeline_summary(user=alice, company=acme)

    rows = {row.stage.name: (row.count, row.total, row.weighted) for row in summary.stages}
    assert summary.currency == "USD"
    assert list(rows) == [
        "Prospecting",
        "Qualification",
        "Proposal",
        "Negotiation",
        "Closed Won",
        "Closed Lost",
    ]
    assert rows["Prospecting"] == (0, Decimal("0.00"), Decimal("0.00"))
    # 333.33 × 33 % = 109.9989 → 110.00 with the 500.00 of the other deal.
    assert rows["Proposal"] == (3, Decimal("1333.33"), Decimal("610.00"))
    assert rows["Negotiation"] == (2, Decimal("2000.00"), Decimal("1600.00"))
    assert rows["Closed Won"] == (0, Decimal("0.00"), Decimal("0.00"))
    assert (summary.count, summary.total, summary.weighted) == (
        5,
        Decimal("3333.33"),
        Decimal("2210.00"),
    )
    assert summary.other_currencies == {"EUR": Decimal("500.00"), "GBP": Decimal("700.00")}


def test_the_summarys_currency_is_the_one_most_of_the_companys_deals_use(acme, alice):
    _deal(acme, "Proposal", value=Decimal("10"), currency="EUR")
    _deal(acme, "Proposal", value=Decimal("20"), currency="EUR")
    _deal(acme, "Proposal", value=Decimal("40"))

    summary = pipeline_summary(user=alice, company=acme)

    assert (summary.currency, summary.total, summary.other_currencies) == (
        "EUR",
        Decimal("30.00"),
        {"USD": Decimal("40.00")},
    )


def test_the_summary_counts_only_what_the_member_may_see(acme, globex, alice, dave, charlie):
    _deal(acme, "Proposal", value=Decimal("100"), assigned_to=dave)
    _deal(acme, "Proposal", value=Decimal("900"))
    _deal(globex, "Proposal", value=Decimal("5000"))

    assert pipeline_summary(user=alice, company=acme).total == Decimal("1000.00")
    assert pipeline_summary(user=dave, company=acme).total == Decimal("100.00")
    outsider = pipeline_summary(user=charlie, company=acme)
    assert (outsider.count, outsider.total) == (0, Decimal("0.00"))
    assert all(row.count == 0 for row in outsider.stages)


def test_the_summary_of_another_companys_pipeline_shows_nothing_of_it(acme, globex, alice):
    summary = pipeline_summary(user=alice, company=acme, pipeline=pipeline_default(company=globex))

    assert (summary.pipeline, summary.stages, summary.count) == (None, [], 0)


def test_the_summary_lists_an_inactive_stage_only_while_it_holds_deals(acme, alice):
    _deal(acme, "Qualification", value=Decimal("50"))
    DealStage.objects.filter(pipeline__company=acme, name="Qualification").update(is_active=False)
    DealStage.objects.filter(pipeline__company=acme, name="Closed Lost").update(is_active=False)

    names = [row.stage.name for row in pipeline_summary(user=alice, company=acme).stages]

    assert "Qualification" in names
    assert "Closed Lost" not in names


# -- reading what a member typed ---------------------------------------------------------------


@pytest.fixture
def stages(acme):
    return pipeline_stages(pipeline=pipeline_default(company=acme))


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Negotiation", "Negotiation"),
        ("  negotiation ", "Negotiation"),
        ("closed won", "Closed Won"),
        ("closedwon", "Closed Won"),
        ("Closed-Won", "Closed Won"),
        ("CLOSED_LOST", "Closed Lost"),
        ("neg", "Negotiation"),  # unique prefix
        ("won", "Closed Won"),  # a word of the name
        ("negotation", "Negotiation"),  # a typo
        ("prospectng", "Prospecting"),
        ("Pröposal", "Proposal"),  # accents do not matter
    ],
)
def test_stage_match_finds_one_stage(stages, text, name):
    match = stage_match(stages=stages, text=text)

    assert match.found is not None and match.found.name == name
    assert match.candidates == []


def test_stage_match_offers_candidates_when_ambiguous_and_nothing_for_nonsense(stages):
    ambiguous = stage_match(stages=stages, text="closed")

    assert ambiguous.found is None
    assert [s.name for s in ambiguous.candidates] == ["Closed Won", "Closed Lost"]
    misspelt = stage_match(stages=stages, text="closd")  # as near to either
    assert [s.name for s in misspelt.candidates] == ["Closed Won", "Closed Lost"]
    for text in ("zebra", "", "  ", "--", "\x00", "x" * 10_000):
        assert stage_match(stages=stages, text=text) == deal_selectors.Match(None, [])


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Qualified", "qualified"),
        ("qual", "qualified"),
        ("UNQ", "unqualified"),
        ("contacted", "contacted"),
        ("contcted", "contacted"),
        ("new", "new"),
    ],
)
def test_lead_status_match(text, found):
    assert lead_status_match(text=text) == deal_selectors.Match(found, [])


@pytest.mark.parametrize("text", ["converted", "convert", "convertd", "banana", ""])
def test_lead_status_match_never_offers_converted(text):
    assert lead_status_match(text=text).found is None
    assert "converted" not in lead_status_match(text=text).candidates


@pytest.fixture
def team(acme, alice):
    # alice's factory name is random; a fixed one cannot collide with the names matched here.
    alice.first_name, alice.last_name = "Alice", "Ceo"
    alice.save(update_fields=["first_name", "last_name"])

    def member(first, last, email, role="sales_manager"):
        user = factories.UserFactory(
            first_name=first, last_name=last, email=email, username=email.split("@")[0]
        )
        company_user_add(company=acme, user=user, role=role)
        return user

    return {
        "jose": member("José", "Núñez", "jnunez@acme.test"),
        "alex_s": member("Alex", "Smith", "asmith@acme.test"),
        "alex_j": member("Alex", "Jones", "ajones@acme.test"),
        "maria": member("Maria", "Lopez", "maria.lopez@acme.test", role="support_staff"),
    }


@pytest.mark.parametrize(
    ("text", "who"),
    [
        ("José Núñez", "jose"),
        ("jose", "jose"),  # accents and case do not matter
        ("@jnunez", "jose"),  # username, as a Slack mention is typed
        ("JNUNEZ@acme.test", "jose"),
        ("maria.lopez", "maria"),  # the e-mail's local part
        ("Lopez", "maria"),
        ("alex s", "alex_s"),  # a unique prefix of a full name
        ("Mari", "maria"),
        ("Alex Jnes", "alex_j"),  # a typo
        ("asmith", "alex_s"),
    ],
)
def test_member_match_finds_one_member(acme, team, text, who):
    assert member_match(company=acme, text=text) == deal_selectors.Match(team[who], [])


def test_member_match_offers_the_namesakes_and_nothing_for_nonsense(acme, team):
    both = member_match(company=acme, text="@alex")

    assert both.found is None
    assert set(both.candidates) == {team["alex_s"], team["alex_j"]}
    for text in ("zzzz", "@", "", "\x00", "jnunes@acme.test"):
        assert member_match(company=acme, text=text) == deal_selectors.Match(None, [])


def test_member_match_knows_only_the_companys_active_members(acme, team, charlie, globex):
    CompanyUser.objects.filter(user=team["jose"]).update(is_active=False)

    assert member_match(company=acme, text="José Núñez") == deal_selectors.Match(None, [])
    assert member_match(company=acme, text="@jnunez") == deal_selectors.Match(None, [])
    assert member_match(company=acme, text=charlie.email).found is None
    assert member_match(company=globex, text=charlie.email).found == charlie
    assert member_match(company=globex, text="Lopez").found is None


def test_member_match_is_one_query(acme, team, django_assert_num_queries):
    with django_assert_num_queries(1):
        member_match(company=acme, text="Alex Smyth")


def test_a_status_misspelt_by_one_letter_is_taken_when_clearly_nearest():
    """Qualified (0.94) is clearly nearer "qualifed" than Unqualified (0.84)."""
    match = lead_status_match(text="qualifed")
    assert (match.found, match.candidates) == ("qualified", [])
