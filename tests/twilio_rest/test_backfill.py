"""Backfill of a company's calls for a date range from the loopback fake of Twilio's REST API."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from hub.domain.authentication.models import CompanyUser
from hub.domain.calls import reconcile
from hub.domain.calls.models import Call, CallStatus, PhoneNumber
from hub.domain.calls.reconcile import calls_backfill
from tests import factories

pytestmark = pytest.mark.django_db

ACME_NUMBER = "+14155550100"
GLOBEX_NUMBER = "+14155550200"
CUSTOMER = "+14155550199"


def _at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


@pytest.fixture
def numbers(acme, alice, globex, charlie):
    rows = (
        factories.PhoneNumberFactory(company=acme, user=alice, phone_number=ACME_NUMBER),
        factories.PhoneNumberFactory(company=globex, user=charlie, phone_number=GLOBEX_NUMBER),
    )
    # Bought before any call of the log: the log is theirs in full.
    PhoneNumber.objects.filter(pk__in=[row.pk for row in rows]).update(
        purchased_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    for row in rows:
        row.refresh_from_db()
    return rows


@pytest.fixture
def twilio_log(fake_twilio, numbers):
    """Calls in Twilio's log: acme's in March (and one before), a <Dial> leg, globex's."""
    add = fake_twilio.add_call
    calls = {
        "inbound": add(
            to=ACME_NUMBER,
            from_=CUSTOMER,
            start_time=_at(2),
            end_time=_at(2) + timedelta(seconds=61),
            duration=61,
            price="-0.0085",
        ),
        "outbound": add(
            to=CUSTOMER,
            from_=ACME_NUMBER,
            status="no-answer",
            direction="outbound-api",
            start_time=_at(3),
        ),
        "busy": add(to=ACME_NUMBER, from_="+14155550177", status="busy", start_time=_at(31, 23)),
        "too_early": add(
            to=ACME_NUMBER, from_=CUSTOMER, start_time=datetime(2026, 2, 28, 23, 59, tzinfo=UTC)
        ),
        "too_late": add(
            to=ACME_NUMBER, from_=CUSTOMER, start_time=datetime(2026, 4, 1, tzinfo=UTC)
        ),
        "globex": add(to=GLOBEX_NUMBER, from_=CUSTOMER, start_time=_at(4)),
    }
    calls["leg"] = add(
        to="+14155550188",
        from_=ACME_NUMBER,
        direction="outbound-dial",
        parent_call_sid=calls["inbound"]["sid"],
        start_time=_at(2),
    )
    return calls


def _rows(company) -> list[tuple]:
    return list(
        Call.objects.filter(company=company)
        .order_by("twilio_call_sid")
        .values_list(
            "id",
            "twilio_call_sid",
            "direction",
            "status",
            "from_number",
            "to_number",
            "duration",
            "price",
            "start_time",
            "user_id",
            "phone_number_id",
        )
    )


def test_backfill_creates_the_missing_calls_of_the_range_and_is_idempotent(
    twilio_settings, fake_twilio, twilio_log, monkeypatch, acme, alice, numbers
):
    monkeypatch.setattr(reconcile, "BACKFILL_PAGE_SIZE", 1)  # several pages per number

    first = calls_backfill(company=acme, since=date(2026, 3, 1), until=date(2026, 3, 31))

    assert (first.listed, first.created, first.skipped, first.other_company) == (4, 3, 1, 0)
    assert any(q.get("Page") == "1" for m, _, q in fake_twilio.requests if m == "GET")
    rows = {sid: rest for _, sid, *rest in _rows(acme)}
    assert set(rows) == {twilio_log[k]["sid"] for k in ("inbound", "outbound", "busy")}
    inbound = Call.objects.get(twilio_call_sid=twilio_log["inbound"]["sid"])
    assert (inbound.direction, inbound.status, inbound.from_number, inbound.to_number) == (
        "Inbound",
        CallStatus.COMPLETED,
        CUSTOMER,
        ACME_NUMBER,
    )
    assert (inbound.duration, str(inbound.price), inbound.start_time) == (61, "-0.0085", _at(2))
    assert (inbound.user, inbound.phone_number) == (alice, numbers[0])
    outbound = Call.objects.get(twilio_call_sid=twilio_log["outbound"]["sid"])
    assert (outbound.direction, outbound.status) == ("Outbound", CallStatus.NO_ANSWER)
    snapshot = _rows(acme)

    again = calls_backfill(company=acme, since=date(2026, 3, 1), until=date(2026, 3, 31))

    assert (again.created, again.corrected, again.unchanged) == (0, 0, 3)
    assert _rows(acme) == snapshot


def test_backfill_corrects_a_stored_call_but_never_regresses_a_final_one(
    twilio_settings, fake_twilio, twilio_log, acme
):
    ringing = factories.CallFactory(
        company=acme, twilio_call_sid=twilio_log["inbound"]["sid"], status=CallStatus.RINGING
    )
    fake_twilio.update_call(twilio_log["busy"]["sid"], status="in-progress")
    final = factories.CallFactory(
        company=acme, twilio_call_sid=twilio_log["busy"]["sid"], status=CallStatus.COMPLETED
    )

    summary = calls_backfill(company=acme, since=date(2026, 3, 1), until=date(2026, 3, 31))

    assert (summary.created, summary.corrected) == (1, 2)
    ringing.refresh_from_db()
    final.refresh_from_db()
    assert (ringing.status, ringing.duration) == (CallStatus.COMPLETED, 61)
    assert final.status == CallStatus.COMPLETED  # Twilio's "in-progress" did not move it back
    assert final.start_time == _at(31, 23)  # the timing it lacked was still taken


def test_backfill_of_one_company_never_touches_anothers_rows(
    twilio_settings, fake_twilio, twilio_log, acme, globex
):
    # A sid stored for globex that also shows up on acme's number (a number that changed hands).
    shared = fake_twilio.add_call(to=ACME_NUMBER, from_=CUSTOMER, start_time=_at(5))
    theirs = factories.CallFactory(
        company=globex, twilio_call_sid=shared["sid"], status=CallStatus.RINGING
    )
    globex_before = _rows(globex)

    summary = calls_backfill(company=acme, since=date(2026, 3, 1), until=date(2026, 3, 31))

    assert summary.other_company == 1
    assert _rows(globex) == globex_before
    theirs.refresh_from_db()
    assert (theirs.company, theirs.status) == (globex, CallStatus.RINGING)
    assert not Call.objects.filter(company=acme, twilio_call_sid=shared["sid"]).exists()
    assert not Call.objects.filter(twilio_call_sid=twilio_log["globex"]["sid"]).exists()


def test_the_command_prints_progress_and_a_summary(twilio_settings, twilio_log, acme):
    out = StringIO()

    call_command(
        "twilio_backfill",
        "--company",
        str(acme.pk),
        "--since",
        "2026-03-01",
        "--until",
        "2026-03-31",
        stdout=out,
    )

    text = out.getvalue()
    assert f"{ACME_NUMBER}: asking Twilio for calls from 2026-03-01 to 2026-03-31" in text
    assert f"{twilio_log['inbound']['sid']} completed: created" in text
    assert "done: listed 4, created 3, corrected 0, unchanged 0, skipped 1, other company 0" in text
    assert Call.objects.filter(company=acme).count() == 3


def test_the_command_finds_the_company_by_name(twilio_settings, twilio_log, acme):
    call_command(
        "twilio_backfill",
        "--company",
        "acme",
        "--since",
        "2026-03-02",
        "--until",
        "2026-03-02",
        stdout=StringIO(),
    )

    assert list(Call.objects.values_list("twilio_call_sid", flat=True)) == [
        twilio_log["inbound"]["sid"]
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--company", "999999", "--since", "2026-03-01", "--until", "2026-03-02"], "no company"),
        (["--company", "acme", "--since", "March", "--until", "2026-03-02"], "not a date"),
        (
            ["--company", "acme", "--since", "2026-03-02", "--until", "2026-03-01"],
            "before its start",
        ),
    ],
)
def test_the_command_explains_bad_arguments(twilio_settings, acme, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("twilio_backfill", *args, stdout=StringIO())


def test_the_command_explains_twilio_unreachable(twilio_settings, closed_port, numbers, acme):
    twilio_settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{closed_port}"

    with pytest.raises(CommandError, match=r"^Twilio: cannot reach Twilio at .*connection refused"):
        call_command(
            "twilio_backfill",
            "--company",
            "acme",
            "--since",
            "2026-03-01",
            "--until",
            "2026-03-02",
            stdout=StringIO(),
        )


@pytest.mark.parametrize("left", ["removed", "deactivated"])
def test_a_former_members_number_backfills_calls_given_to_no_one(
    twilio_settings, twilio_log, acme, alice, numbers, left
):
    memberships = CompanyUser.objects.filter(company=acme, user=alice)
    if left == "removed":
        memberships.delete()
    else:
        memberships.update(is_active=False)

    summary = calls_backfill(company=acme, since=date(2026, 3, 2), until=date(2026, 3, 2))

    assert summary.created == 1
    call = Call.objects.get(twilio_call_sid=twilio_log["inbound"]["sid"])
    assert (call.user, call.phone_number) == (None, numbers[0])


def test_backfilled_calls_are_matched_to_the_lead_with_that_number(
    twilio_settings, twilio_log, acme
):
    lead = factories.LeadFactory(company=acme, phone="(415) 555-0199")

    calls_backfill(company=acme, since=date(2026, 3, 2), until=date(2026, 3, 3))

    assert {c.lead_id for c in Call.objects.filter(company=acme)} == {lead.id}


def test_a_number_that_changed_hands_brings_no_one_elses_calls(
    twilio_settings, fake_twilio, acme, alice, globex, charlie
):
    # Acme had +1 415 555 0300 until 10 March; Globex bought it on 20 March.
    passed_on = factories.PhoneNumberFactory(
        company=acme, user=alice, phone_number="+14155550300", is_active=False
    )
    taken = factories.PhoneNumberFactory(company=globex, user=charlie, phone_number="+14155550300")
    PhoneNumber.objects.filter(pk=passed_on.pk).update(purchased_at=_at(1, 0))
    PhoneNumber.objects.filter(pk=taken.pk).update(purchased_at=_at(20, 0))
    add = fake_twilio.add_call
    add(to="+14155550300", from_=CUSTOMER, start_time=_at(5))  # Acme's
    add(to="+14155550300", from_=CUSTOMER, start_time=_at(18))  # between owners
    globex_era = add(to="+14155550300", from_=CUSTOMER, start_time=_at(25))

    acme_summary = calls_backfill(company=acme, since=date(2026, 3, 1), until=date(2026, 3, 31))

    # Globex holds the number now: Acme's backfill does not take its calls (nor ask for them).
    assert acme_summary.created == 0
    assert not Call.objects.filter(company=acme).exists()
    assert not any(
        "+14155550300" in str(q.values()) for m, _, q in fake_twilio.requests if m == "GET"
    )

    globex_summary = calls_backfill(company=globex, since=date(2026, 3, 1), until=date(2026, 3, 31))

    # Globex gets the calls of its own time with the number, not Acme's from before.
    assert (globex_summary.created, globex_summary.skipped) == (1, 2)
    assert set(Call.objects.values_list("twilio_call_sid", "company_id")) == {
        (globex_era["sid"], globex.id)
    }
