"""``/lead`` from Slack: every sub-command through signed requests, its usage on a mistake, the
permission refusal, and an outsider workspace that can neither see nor change Acme's leads."""

# ruff: noqa: F811 (the fixtures imported from lead_fixtures are these tests' arguments)
from __future__ import annotations

import pytest
from django.db import DatabaseError

from hub.bots import lead_messages as msg
from hub.bots import leads
from hub.domain.crm.models import Activity, Deal, Lead, LeadStatus
from tests import factories
from tests.slack.lead_fixtures import (  # noqa: F401 (fixtures)
    BOB_SLACK,
    ack,
    block_text,
    bob_slack,
    charlie_slack,
    elements,
    globex_lead,
    jane,
    lead_alice,
    named_alice,
    named_bob,
    sam,
    sam_slack,
)

pytestmark = pytest.mark.django_db(transaction=True)


def lead_cmd(user, text: str) -> dict:
    return ack(user.command(text, command="/lead"))


def said(user, text: str) -> str:
    body = lead_cmd(user, text)
    assert body["response_type"] == "ephemeral"
    return body["text"]


# -- help and usage ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "help", "HELP", "help nonsense"])
def test_help_lists_every_command(lead_alice, text):
    assert said(lead_alice, text) == msg.HELP
    for sub in ("list", "show", "assign", "status", "convert", "note", "new"):
        assert f"`/lead {sub}" in msg.HELP


@pytest.mark.parametrize("sub", ["list", "show", "assign", "status", "convert", "note", "new"])
def test_each_command_explains_itself(lead_alice, sub):
    assert said(lead_alice, f"{sub} help") == msg.USAGE[sub]
    assert said(lead_alice, f"help {sub}") == msg.USAGE[sub]


def test_an_unknown_command_suggests_the_nearest(lead_alice):
    text = said(lead_alice, "lsit")
    assert text.startswith("`/lead` has no command “lsit”. Did you mean `list`?")
    assert said(lead_alice, "frobnicate <!channel>").startswith(
        "`/lead` has no command “frobnicate”.\n"
    )


@pytest.mark.parametrize(
    ("text", "usage"),
    [
        ("show", "show"),
        ("assign 7", "assign"),
        ("assign", "assign"),
        ("status 7", "status"),
        ("convert", "convert"),
        ("note 7", "note"),
        ("note", "note"),
    ],
)
def test_a_missing_argument_shows_the_usage(lead_alice, text, usage):
    assert said(lead_alice, text) == msg.USAGE[usage]


def test_a_word_where_an_id_belongs_is_echoed_escaped(lead_alice):
    text = said(lead_alice, "show <!channel>&")
    assert text == f"“&lt;!channel&gt;&amp;” is not a lead's number or link. {msg.USAGE['show']}"
    assert said(lead_alice, "convert abc").startswith("“abc” is not a lead's number or link.")


def test_text_escaped_by_slack_is_echoed_escaped_once(lead_alice, jane):
    # With should_escape, Slack sends a typed "<b> & co" as "&lt;b&gt; &amp; co".
    text = said(lead_alice, f"status {jane.pk} &lt;b&gt; &amp; co")
    assert text.startswith("No lead status “&lt;b&gt; &amp; co”.")


def test_an_error_is_answered_in_words_and_changes_nothing(lead_alice, jane, monkeypatch):
    def broken(**kwargs):
        raise DatabaseError("the database went away")

    monkeypatch.setattr(leads.sel, "lead_get", broken)

    assert said(lead_alice, f"status {jane.pk} qualified") == msg.HUB_ERROR
    jane.refresh_from_db()
    assert jane.status == LeadStatus.NEW


def test_a_queue_that_does_not_answer_is_said_so(lead_alice, jane, monkeypatch):
    def down(**kwargs):
        raise ConnectionError("the broker is down")

    monkeypatch.setattr(leads.slack_lead_assign, "send", down)

    assert said(lead_alice, f"assign {jane.pk} <@{BOB_SLACK}|bob>") == msg.QUEUE_DOWN


def test_nul_bytes_and_huge_ids_are_answered_not_crashed_on(lead_alice, jane):
    assert (
        said(lead_alice, "show 99999999999999999")
        == "No lead #99999999999999999 in Acme that you can see."
    )
    assert said(lead_alice, f"note {jane.pk} hi\x00 there") == f"Note added to #{jane.pk} Jane Doe."
    assert Activity.objects.get(lead=jane).description == "hi there"
    assert said(lead_alice, "show \x00") == msg.USAGE["show"]
    assert said(lead_alice, "\x00\x00") == msg.HELP


# -- list --------------------------------------------------------------------------------------


def test_list_shows_the_open_leads_newest_first(lead_alice, acme, jane):
    factories.LeadFactory(company=acme, first_name="Ulla", last_name="Un", status="unqualified")
    newer = factories.LeadFactory(company=acme, first_name="Nina", last_name="New")

    body = lead_cmd(lead_alice, "list")

    assert body["response_type"] == "ephemeral"
    assert body["text"].splitlines() == [
        "*Open leads* (2)",
        f"• #{newer.pk} Nina New · New",
        f"• #{jane.pk} Jane Doe (Initech) · New",
    ]
    assert set(elements(body["blocks"])) == {f"lead_show:{newer.pk}", f"lead_show:{jane.pk}"}


def test_list_by_status_is_fuzzy_and_mine_filters(lead_alice, acme, alice, jane):
    factories.LeadFactory(company=acme, first_name="Quinn", last_name="Q", status="qualified")
    mine = factories.LeadFactory(
        company=acme, first_name="Mo", last_name="Mine", status="qualified", assigned_to=alice
    )

    assert said(lead_alice, "list Qualified").startswith("*Qualified leads* (2)")
    assert said(lead_alice, "list qual").startswith("*Qualified leads* (2)")
    assert said(lead_alice, "list contcted") == "Contacted leads: none."
    assert said(lead_alice, "list mine").splitlines() == [
        "*Your open leads* (1)",
        f"• #{mine.pk} Mo Mine · Qualified",
    ]
    assert said(lead_alice, "list mine contacted") == "Your contacted leads: none."
    assert said(lead_alice, "list converted") == "Converted leads: none."
    assert said(lead_alice, "list bogus").startswith("No lead status “bogus”.")


def test_list_pages_ten_at_a_time(lead_alice, acme):
    for n in range(13):
        factories.LeadFactory(company=acme, first_name=f"L{n:02d}", last_name="Lead")

    body = lead_cmd(lead_alice, "list")

    assert body["text"].splitlines()[0] == "*Open leads*: 1–10 of 13"
    assert len(body["text"].splitlines()) == 11
    [next_button] = [e for e in elements(body["blocks"]).values() if e["text"]["text"] == "Next 10"]
    assert next_button["action_id"] == "lead_page:10"


def test_list_share_posts_in_the_channel(lead_alice, jane):
    body = lead_cmd(lead_alice, "list share")
    assert body["response_type"] == "in_channel"
    assert body["text"].startswith("*Open leads* (1)")


# -- show --------------------------------------------------------------------------------------


def test_show_renders_the_card(lead_alice, jane, named_bob):
    jane.assigned_to = named_bob
    jane.save()

    body = lead_cmd(lead_alice, f"show {jane.pk}")

    assert body["response_type"] == "ephemeral"
    assert body["text"] == f"#{jane.pk} Jane Doe (Initech) · New"
    card = block_text(body["blocks"])
    for part in (
        f"#{jane.pk} Jane Doe",
        "CTO at Initech",
        "*Status*\nNew",
        "*Assigned to*\nBob Builder",
        "*Source*\nWebsite",
        "*Estimated value*\n12,500",
        "*E-mail*\njane@initech.test",
        "*Phone*\n+14155550123",
    ):
        assert part in card
    actions = elements(body["blocks"])
    assert set(actions) >= {
        f"lead_status:{jane.pk}",
        f"lead_assign:{jane.pk}",
        f"lead_convert:{jane.pk}",
        f"call_pick:lead:{jane.pk}",
    }
    assert actions[f"call_pick:lead:{jane.pk}"]["value"] == f"lead:{jane.pk}"
    status = actions[f"lead_status:{jane.pk}"]
    assert [o["value"] for o in status["options"]] == [
        "new",
        "contacted",
        "qualified",
        "unqualified",
    ]
    assert status["initial_option"]["value"] == "new"
    assert actions[f"lead_assign:{jane.pk}"]["type"] == "users_select"


@pytest.mark.parametrize(
    "written",
    [
        "{id}",
        "#{id}",
        "http://127.0.0.1:8000/admin/crm/lead/{id}/change/",
        "<https://crm.example.com/leads/{id}/|Jane's page>",
        "https://crm.example.com/leads/{id}",
    ],
)
def test_a_lead_may_be_named_by_id_or_link(lead_alice, jane, written):
    assert said(lead_alice, f"show {written.format(id=jane.pk)}").startswith(f"#{jane.pk} Jane Doe")


def test_a_bare_id_shows_the_card_and_share_posts_it(lead_alice, jane):
    assert said(lead_alice, f"{jane.pk}").startswith(f"#{jane.pk} Jane Doe")
    body = lead_cmd(lead_alice, f"show {jane.pk} share")
    assert body["response_type"] == "in_channel"
    assert body["text"].startswith(f"#{jane.pk} Jane Doe")


def test_a_link_to_a_deal_is_not_a_lead(lead_alice, jane):
    assert said(lead_alice, f"show https://crm.example.com/deals/{jane.pk}").startswith(
        "“https://crm.example.com/deals/"
    )


def test_a_member_without_deal_rights_sees_only_their_leads_without_buttons(
    sam_slack, sam, acme, jane
):
    theirs = factories.LeadFactory(company=acme, first_name="Sue", last_name="S", assigned_to=sam)

    assert said(sam_slack, f"show {jane.pk}") == f"No lead #{jane.pk} in Acme that you can see."
    body = lead_cmd(sam_slack, f"show {theirs.pk}")
    assert body["text"].startswith(f"#{theirs.pk} Sue S")
    assert elements(body["blocks"]) == {}
    assert said(sam_slack, "list").splitlines() == [
        "*Open leads* (1)",
        f"• #{theirs.pk} Sue S · New",
    ]


# -- assign ------------------------------------------------------------------------------------


def test_assign_by_name_is_fuzzy(lead_alice, jane, named_bob):
    body = lead_cmd(lead_alice, f"assign {jane.pk} bob")

    assert body["text"] == f"#{jane.pk} Jane Doe is now assigned to Bob Builder."
    assert "*Assigned to*\nBob Builder" in block_text(body["blocks"])
    jane.refresh_from_db()
    assert jane.assigned_to == named_bob


def test_assign_by_at_name_me_and_nobody(lead_alice, jane, named_bob, named_alice):
    assert said(lead_alice, f"assign {jane.pk} @bob builder").endswith("assigned to Bob Builder.")
    assert said(lead_alice, f"assign {jane.pk} @bob").endswith("already; nothing changed.")
    assert said(lead_alice, f"assign {jane.pk} me").endswith("assigned to Alice Archer.")
    assert said(lead_alice, f"assign {jane.pk} nobody") == f"#{jane.pk} Jane Doe is now unassigned."
    jane.refresh_from_db()
    assert jane.assigned_to is None


def test_assign_to_no_one_or_several(lead_alice, acme, jane, named_bob):
    factories.CompanyUserFactory(
        company=acme, user=factories.UserFactory(first_name="Bobby", last_name="Tables")
    )
    assert said(lead_alice, f"assign {jane.pk} zed").startswith(
        "No active member of Acme matches “zed”."
    )
    text = said(lead_alice, f"assign {jane.pk} bo")
    assert text.startswith("“bo” could be several members. Did you mean ")
    assert "Bob Builder" in text and "Bobby Tables" in text
    jane.refresh_from_db()
    assert jane.assigned_to is None


def test_assign_by_mention_asks_slack_in_an_actor(
    lead_alice, bob_slack, jane, named_bob, worker, fake_slack
):
    def asked_about_bob():
        return [c for c in fake_slack.api_calls("users.info") if c.body.get("user") == BOB_SLACK]

    text = said(lead_alice, f"assign {jane.pk} <@{BOB_SLACK}|bob>")

    assert text == f"Assigning #{jane.pk} Jane Doe to <@{BOB_SLACK}>…"
    assert asked_about_bob() == []  # not before the answer
    jane.refresh_from_db()
    assert jane.assigned_to is None
    worker.drain()

    jane.refresh_from_db()
    assert jane.assigned_to == named_bob
    assert len(asked_about_bob()) == 1
    [reply] = fake_slack.responses(lead_alice.last_key)
    assert reply["text"] == f"#{jane.pk} Jane Doe is now assigned to Bob Builder."
    assert reply["response_type"] == "ephemeral"
    assert "*Assigned to*\nBob Builder" in block_text(reply["blocks"])


def test_a_mentioned_slack_user_who_is_not_a_member_is_refused(
    lead_alice, jane, worker, fake_slack
):
    fake_slack.users["USTRANGER"] = "stranger@elsewhere.test"
    said(lead_alice, f"assign {jane.pk} <@USTRANGER|stranger>")
    worker.drain()

    [reply] = fake_slack.responses(lead_alice.last_key)
    assert reply["text"] == (
        "<@USTRANGER> cannot be given leads: the hub found no active member of Acme with "
        "their Slack e-mail address."
    )
    jane.refresh_from_db()
    assert jane.assigned_to is None


# -- status ------------------------------------------------------------------------------------


def test_status_is_fuzzy(lead_alice, jane):
    assert said(lead_alice, f"status {jane.pk} contcted").endswith("is now Contacted (was New).")
    body = lead_cmd(lead_alice, f"status {jane.pk} QUAL")

    assert body["text"] == f"#{jane.pk} Jane Doe is now Qualified (was Contacted)."
    assert "*Status*\nQualified" in block_text(body["blocks"])
    jane.refresh_from_db()
    assert jane.status == LeadStatus.QUALIFIED
    assert said(lead_alice, f"status #{jane.pk} Qualified").endswith("already; nothing changed.")


@pytest.mark.parametrize("word", ["converted", "Convert", "conversion"])
def test_status_converted_is_refused_with_a_hint(lead_alice, jane, word):
    text = said(lead_alice, f"status {jane.pk} {word}")
    assert text == (
        "A lead becomes Converted only by converting it, which creates its deal: "
        f"`/lead convert {jane.pk}`."
    )
    jane.refresh_from_db()
    assert jane.status == LeadStatus.NEW


def test_an_unknown_status_lists_the_statuses(lead_alice, jane):
    text = said(lead_alice, f"status {jane.pk} <b>bogus")
    assert text.startswith("No lead status “&lt;b&gt;bogus”. The statuses: New, Contacted")
    jane.refresh_from_db()
    assert jane.status == LeadStatus.NEW


# -- convert -----------------------------------------------------------------------------------


def test_convert_makes_a_deal_in_the_default_pipelines_first_stage(lead_alice, acme, jane):
    body = lead_cmd(lead_alice, f"convert {jane.pk}")

    deal = Deal.objects.get()
    assert (deal.company, deal.lead, deal.stage.name) == (acme, jane, "Prospecting")
    assert deal.pipeline.is_default
    assert body["text"] == f"#{jane.pk} Jane Doe is converted: deal #{deal.pk}, in Prospecting."
    assert f"#{deal.pk}" in block_text(body["blocks"])
    jane.refresh_from_db()
    assert (jane.status, jane.converted_to_deal) == (LeadStatus.CONVERTED, deal)


def test_converting_twice_names_the_deal(lead_alice, jane):
    lead_cmd(lead_alice, f"convert {jane.pk}")
    deal = Deal.objects.get()

    assert said(lead_alice, f"convert {jane.pk}") == (
        f"#{jane.pk} Jane Doe was converted already, to deal #{deal.pk} "
        f"(`/deal show {deal.pk}`); nothing changed."
    )
    assert said(lead_alice, f"status {jane.pk} new").startswith(
        f"#{jane.pk} Jane Doe was converted to deal #{deal.pk}, so its status stays Converted"
    )
    assert Deal.objects.count() == 1


def test_convert_without_a_default_pipeline_says_so(lead_alice, acme, jane):
    acme.pipelines.all().delete()
    assert said(lead_alice, f"convert {jane.pk}") == msg.NO_PIPELINE
    jane.refresh_from_db()
    assert jane.status == LeadStatus.NEW


# -- note --------------------------------------------------------------------------------------


def test_note_adds_an_activity(lead_alice, alice, jane):
    assert said(lead_alice, f"note {jane.pk} Called; keen on <the> demo") == (
        f"Note added to #{jane.pk} Jane Doe."
    )
    note = Activity.objects.get()
    assert (note.lead, note.user, note.activity_type) == (jane, alice, "note")
    assert note.description == "Called; keen on <the> demo"


# -- the permission refusal and the outsider ---------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["status {id} qualified", "assign {id} me", "convert {id}", "note {id} hello", "new"],
)
def test_a_member_without_deal_rights_changes_nothing(sam_slack, sam, jane, text):
    jane.assigned_to = sam  # visible to them, still not theirs to change
    jane.save()

    answer = said(sam_slack, text.format(id=jane.pk))

    assert answer.startswith("You cannot change deals or leads in Acme")
    jane.refresh_from_db()
    assert (jane.status, jane.assigned_to) == (LeadStatus.NEW, sam)
    assert not Deal.objects.exists() and not Activity.objects.exists()


@pytest.mark.parametrize(
    "text",
    [
        "show {id}",
        "show https://crm.example.com/leads/{id}/",
        "status {id} qualified",
        "assign {id} me",
        "convert {id}",
        "note {id} sneaky",
    ],
)
def test_an_outsider_workspace_cannot_see_or_change_acme_leads(
    charlie_slack, lead_alice, jane, text
):
    answer = said(charlie_slack, text.format(id=jane.pk))

    assert answer == f"No lead #{jane.pk} in Globex that you can see."
    jane.refresh_from_db()
    assert (jane.status, jane.assigned_to, jane.company.company_name) == (
        LeadStatus.NEW,
        None,
        "Acme",
    )
    assert not Deal.objects.exists() and not Activity.objects.exists()


def test_an_outsider_lists_only_their_own_leads(charlie_slack, jane, globex_lead):
    assert said(charlie_slack, "list").splitlines() == [
        "*Open leads* (1)",
        f"• #{globex_lead.pk} Gina Globex · New",
    ]
    assert Lead.objects.count() == 2


def test_several_close_statuses_are_offered():
    assert msg.status_unknown("<qualifd>", ["qualified", "unqualified"]) == (
        "“&lt;qualifd&gt;” could be several statuses. Did you mean Qualified or Unqualified?"
    )
