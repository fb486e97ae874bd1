"""E-mail rules on received mail: each condition, and running them safely (rules_run)."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from hub.domain.crm.models import Activity
from hub.domain.emails.models import Email, EmailRule, EmailThread
from hub.domain.emails.rules import rules_due, rules_run
from hub.domain.emails.sync import mailbox_sync
from tests import factories
from tests.mail.rules_fixtures import (
    account_fixture,  # noqa: F401 (the account fixture)
    category,
    inbound,
    problem,
    received,
    rule_make,
    template_make,
)
from tests.mail.sync_fixtures import message

pytestmark = pytest.mark.django_db

CUSTOMER = {"set_category": "customer"}


@pytest.mark.parametrize(
    ("conditions", "fields", "matches"),
    [
        ({}, {}, True),
        ({"subject_contains": "ROCKET"}, {}, True),
        ({"subject_contains": ["invoice", "skates"]}, {}, True),
        ({"subject_contains": ["invoice", "refund"]}, {}, False),
        ({"body_contains": "how FAST"}, {}, True),
        ({"body_contains": "discount"}, {"body_html": "<p>Any <b>discount</b>?</p>"}, True),
        ({"body_contains": "discount"}, {}, False),
        ({"from_domain": "client.test"}, {}, True),
        ({"from_domain": ["@Client.Test"]}, {"from_email": "ann@eu.client.test"}, True),
        ({"from_domain": "client.test"}, {"from_email": "ann@notclient.test"}, False),
        ({"from_email": "ANN@client.test"}, {}, True),
        ({"from_email": ["bo@client.test"]}, {}, False),
        ({"participant_contains": "cc@partner.test"}, {"cc_emails": ["cc@partner.test"]}, True),
        ({"participant_contains": "partner.test"}, {"to_emails": ["x@sales.partner.test"]}, True),
        ({"participant_contains": ["partner.test", "z@zed.test"]}, {}, False),
        ({"has_attachment": True}, {"has_attachments": True}, True),
        ({"has_attachment": True}, {}, False),
        ({"has_attachment": False}, {}, True),
        ({"direction": "inbound"}, {}, True),
        ({"direction": ["outbound"]}, {}, False),
        ({"subject_contains": "rocket", "from_domain": "client.test"}, {}, True),
        ({"subject_contains": "rocket", "from_domain": "other.test"}, {}, False),
    ],
)
def test_each_condition_matches_what_it_says(account, alice, conditions, fields, matches):
    rule = rule_make(account.company, alice, conditions=conditions, actions=CUSTOMER)
    email = inbound(account, **fields)

    assert received(email) == (1 if matches else 0)

    assert category(email) == ("customer" if matches else "primary")
    assert problem(rule) is None


def test_rules_run_in_order_and_each_acts(account, alice):
    first = rule_make(account.company, alice, actions={"set_category": "lead"})
    rule_make(account.company, alice, actions={"create_task": True})
    email = inbound(account)

    assert received(email) == 2

    assert category(email) == "lead"
    assert Activity.objects.filter(company=account.company, activity_type="task").count() == 1
    assert problem(first) is None


def test_inactive_rules_and_rules_of_other_triggers_do_not_run(account, alice):
    rule_make(account.company, alice, actions=CUSTOMER, is_active=False)
    rule_make(account.company, alice, trigger="email_sent", actions=CUSTOMER)
    email = inbound(account)

    assert received(email) == 0
    assert category(email) == "primary"


def test_the_first_sync_imports_history_without_running_rules(imap_account, alice):
    rule_make(imap_account.company, alice, actions=CUSTOMER)
    email = inbound(imap_account)  # the account has never finished a sync

    assert received(email) == 0
    assert category(email) == "primary"


def test_a_globex_rule_never_sees_acmes_mail(account, alice, globex, charlie):
    globex_rule = rule_make(globex, charlie, actions={"notify_users": [charlie.pk]})
    email = inbound(account)

    # Asked with the wrong company, nothing runs (the e-mail is Acme's).
    assert rules_run(trigger="email_received", company_id=globex.pk, email=email) == 0
    # Run for Acme, Globex's rule is not among them.
    assert received(email) == 0
    assert not charlie.notifications.exists()
    assert problem(globex_rule) is None


@pytest.mark.parametrize(
    ("conditions", "actions", "expected"),
    [
        ('{"subject_contains": "x"}', CUSTOMER, "It holds an object written as text"),
        (["subject_contains"], CUSTOMER, "The conditions must be a JSON object"),
        ({}, "set_category", "The actions must be a JSON object"),
        ({"subjet_contains": "x"}, CUSTOMER, "Did you mean subject_contains?"),
        ({}, {"paint_it": "red"}, "Unknown action “paint_it”"),
        ({"subject_contains": 5}, CUSTOMER, "must be a text or a list of texts, not a number"),
        ({"has_attachment": "yes"}, CUSTOMER, "must be true or false, not a text"),
        ({"from_domain": "not a domain"}, CUSTOMER, "is not a domain like example.com"),
        ({"stage": "Proposal"}, CUSTOMER, "does not apply to email_received rules"),
        ({}, {"set_category": "vip"}, "must be one of primary, social"),
        ({}, {"notify_users": "1"}, "must be a list of user ids"),
        ({}, {"create_task": {"subject": "x", "due": 2}}, "unknown key “due”"),
        ({}, {"create_task": False}, "The rule has no actions"),
        ({}, {"send_template_reply": True}, "needs the rule's template"),
        ({}, {"add_tag": "vip"}, "the CRM has no tags"),
    ],
)
def test_a_bad_rule_is_reported_and_skipped_while_the_others_run(
    account, alice, conditions, actions, expected
):
    bad = rule_make(account.company, alice, conditions=conditions, actions=actions)
    good = rule_make(account.company, alice, actions=CUSTOMER)
    email = inbound(account)

    with transaction.atomic():
        assert received(email) == 1
        # The caller's transaction is intact: it reads and writes on.
        EmailThread.objects.filter(pk=email.thread_id).update(is_starred=True)

    assert category(email) == "customer"
    stored = problem(bad)
    assert stored is not None and expected in stored.message, stored and stored.message
    assert stored.occurrences == 1
    assert problem(good) is None


def test_a_problem_counts_its_occurrences_and_goes_once_the_rule_is_fixed(account, alice):
    rule = rule_make(account.company, alice, conditions={"subject_contains": 5}, actions=CUSTOMER)
    received(inbound(account))
    first = problem(rule)
    received(inbound(account))

    again = problem(rule)
    assert again is not None and again.occurrences == 2
    assert first is not None and again.last_seen_at > first.last_seen_at

    EmailRule.objects.filter(pk=rule.pk).update(conditions={"subject_contains": "nothing like it"})
    # Fixed: a run that does not match already shows the rule can run.
    assert received(inbound(account)) == 0
    assert problem(rule) is None


def test_a_deleted_template_is_reported_not_sent(account, alice):
    template = template_make(account.company, alice)
    rule = rule_make(
        account.company, alice, actions={"send_template_reply": True}, template=template
    )
    template.delete()

    assert received(inbound(account)) == 0
    stored = problem(rule)
    assert stored is not None and "needs the rule's template" in stored.message


def inbound_on_foreign_lead(account, other_company):
    """Mail in a thread pointing at another company's lead (a hand-made row): using it is
    refused."""
    email = inbound(account)
    foreign = factories.LeadFactory(company=other_company)
    EmailThread.objects.filter(pk=email.thread_id).update(lead=foreign)
    email.thread.refresh_from_db()
    return email, foreign


def test_a_rule_that_raises_is_rolled_back_alone_and_never_raises(account, alice, globex):
    email, foreign = inbound_on_foreign_lead(account, globex)
    failing = rule_make(
        account.company, alice, actions={"set_category": "deal", "create_task": True}
    )
    other = rule_make(account.company, alice, actions={"notify_users": [alice.pk]})

    with transaction.atomic():
        acted = received(email)
        # The caller's transaction goes on (on PostgreSQL, an error outside a savepoint would
        # have aborted it).
        assert EmailThread.objects.filter(pk=email.thread_id).exists()

    assert acted == 1
    assert alice.notifications.count() == 1
    stored = problem(failing)
    assert stored is not None
    assert stored.message == (
        f"On e-mail {email.pk}: the rule failed: The lead belongs to another company."
    )
    assert problem(other) is None
    # The failing rule's first action (the category) was rolled back with it.
    assert category(email) == "primary"
    assert not Activity.objects.filter(lead=foreign).exists()


def test_a_run_problem_stays_until_the_rule_runs_clean(account, alice, globex):
    email, _ = inbound_on_foreign_lead(account, globex)
    rule = rule_make(
        account.company,
        alice,
        conditions={"subject_contains": "rocket"},
        actions={"create_task": True},
    )
    received(email)
    assert problem(rule) is not None

    # A message the rule does not match has not shown the problem gone.
    received(inbound(account, subject="Lunch?"))
    assert problem(rule) is not None

    assert received(inbound(account)) == 1
    assert problem(rule) is None


# --- what a run with nothing to do costs (the sync asks for every message) --------------------


def statements(captured, word: str = "") -> list[str]:
    return [q["sql"] for q in captured.captured_queries if word in q["sql"].upper()]


def test_with_no_rule_to_run_a_run_is_one_read_and_no_savepoint(account, alice):
    rule_make(account.company, alice, actions=CUSTOMER, is_active=False)
    rule_make(account.company, alice, trigger="email_sent", actions=CUSTOMER)
    email = inbound(account)

    with CaptureQueriesContext(connection) as captured:
        assert received(email) == 0

    assert len(captured) == 1 and not statements(captured, "SAVEPOINT")


def test_mail_of_a_first_sync_costs_no_query(imap_account, alice, django_assert_num_queries):
    rule_make(imap_account.company, alice, actions=CUSTOMER)
    email = inbound(imap_account)  # the account has never finished a sync

    with django_assert_num_queries(0):
        assert received(email) == 0
        assert not rules_due(
            trigger="email_received", company_id=imap_account.company_id, account=imap_account
        )


def test_each_rule_that_runs_has_one_savepoint_and_the_run_none_of_its_own(account, alice):
    def savepoints(rules: int) -> int:
        EmailRule.objects.all().delete()
        for _ in range(rules):
            rule_make(account.company, alice, actions={"create_task": True})
        email = inbound(account)
        with CaptureQueriesContext(connection) as captured:
            assert received(email) == rules
        return len(statements(captured, "SAVEPOINT ")) - len(statements(captured, "RELEASE"))

    one = savepoints(1)
    assert one >= 1
    assert savepoints(3) == 3 * one


def test_rules_due_says_whether_any_active_rule_of_the_trigger_can_run(
    account, alice, globex, charlie, django_assert_num_queries
):
    def due(trigger: str = "email_received") -> bool:
        with django_assert_num_queries(1):
            return rules_due(trigger=trigger, company_id=account.company_id, account=account)

    rule_make(globex, charlie, actions=CUSTOMER)  # another company's
    rule_make(account.company, alice, actions=CUSTOMER, is_active=False)
    rule_make(account.company, alice, trigger="lead_created", actions={"create_task": True})
    assert not due()
    assert due("lead_created")

    rule_make(account.company, alice, actions=CUSTOMER)
    assert due()
    assert not due("email_sent")


def test_a_sync_asks_for_rules_once_a_batch_and_runs_them_only_when_there_are(
    account, mailbox, alice
):
    def rule_reads_of_a_sync(new: int) -> int:
        for n in range(new):
            subject = f"Order {Email.objects.count() + n} question"
            mailbox.append(message(subject=subject, sender=f"c{n}@client.test"))
        with CaptureQueriesContext(connection) as captured:
            assert mailbox_sync(account=account).new == new
        return len(statements(captured, '"EMAILS_EMAILRULE"'))

    assert rule_reads_of_a_sync(4) == 1  # no rule: the batch's one question, nothing per message
    rule_make(account.company, alice, conditions={"subject_contains": "order 5"}, actions=CUSTOMER)
    assert rule_reads_of_a_sync(3) == 1 + 3  # a rule: each new message runs it
    assert category(Email.objects.get(subject="Order 5 question")) == "customer"
    assert category(Email.objects.get(subject="Order 4 question")) == "primary"


def test_synced_mail_is_linked_before_its_rules_run(account, mailbox, alice):
    lead = factories.LeadFactory(company=account.company, email="ann@client.test")
    rule_make(account.company, alice, actions={"create_task": True})
    mailbox.append(message(subject="About the order", sender="Ann <ann@client.test>"))

    assert mailbox_sync(account=account).new == 1

    [task] = Activity.objects.filter(company=account.company, activity_type="task")
    assert task.lead_id == lead.id  # the rule saw the thread's lead
