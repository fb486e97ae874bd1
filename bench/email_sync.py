"""How fast the hub syncs a mailbox: a first sync of a 5,000-message mailbox in a real Dovecot,
and an incremental sync with nothing new, against a plain ``imaplib`` loop in the same run.

The baseline only fetches and parses: ``imaplib`` logs in, selects INBOX, ``UID SEARCH ALL``,
``UID FETCH`` in batches of the hub's batch size (``BODY.PEEK[]``) and parses each message with
``email.message_from_bytes(policy=policy.default)``, reading its text body. The hub does
everything a sync does (``mailbox_sync``: lease, sync log, cursors, parsing, identity, threads,
CRM linking, rules, attachments, the ``email.created`` events from the triggers), on a scratch
PostgreSQL database where three quarters of the senders are leads, deals' contacts or
customers. Baseline and hub alternate (``--repeat``); each hub first sync is on a new
account of the same mailbox. The incremental sync's time is the median of five runs, the first
sync of 100's the median of three. Not a test: it measures.

Targets (issue #12): first sync ≥ 0.5× the baseline's messages/s; an incremental sync with
nothing new < 0.1× the time of a first sync of 100 messages. The load average before each run
is printed: other work on the machine (a test suite) slows both sides, the short incremental
sync most.

``--large-mb N`` also syncs, in a child process, a mailbox holding one N MB message (and a
small one) and prints the child's peak RSS: with ``HUB_EMAIL_MESSAGE_MAX_BYTES`` (25 MiB by
default) below N, the message is never fetched whole.

    .venv/bin/python bench/email_sync.py                  # 5,000 messages, --repeat 3
    .venv/bin/python bench/email_sync.py --messages 1000 --repeat 1
    .venv/bin/python bench/email_sync.py --messages 100 --repeat 1 --large-mb 70
"""

from __future__ import annotations

import argparse
import imaplib
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))
from fanout import free_port  # noqa: E402
from twilio_callbacks import env_for, prepare_database  # noqa: E402

from tests.mail.dovecot import Dovecot  # noqa: E402

PEOPLE = [f"customer{i}@client{i % 40}.test" for i in range(200)]


def corpus(count: int, owner: str) -> list[bytes]:
    """``count`` messages like a sales inbox: threads of replies, some HTML, some attachments."""
    now = datetime.now(UTC)
    messages: list[bytes] = []
    parents: list[str] = []
    for i in range(count):
        msg = EmailMessage()
        sender = PEOPLE[i % len(PEOPLE)]
        msg["From"] = f"Customer {i % len(PEOPLE)} <{sender}>"
        msg["To"] = owner
        if i % 7 == 0:
            msg["Cc"] = PEOPLE[(i + 3) % len(PEOPLE)]
        msg["Date"] = format_datetime(now - timedelta(minutes=count - i))
        msg["Message-ID"] = make_msgid(idstring=f"bench{i}", domain="client.test")
        if parents and i % 3 == 0:
            parent = parents[(i * 7) % len(parents)]
            msg["In-Reply-To"] = parent
            msg["References"] = parent
            msg["Subject"] = f"Re: Order {(i * 7) % len(parents)} question"
        else:
            msg["Subject"] = f"Order {len(parents)} question"
            parents.append(msg["Message-ID"])
        text = (
            f"Hello,\n\nAbout order {i}: could you send the updated quote? "
            "We would like to go ahead this month.\n\n" + "Regards,\nA customer\n" * 3
        )
        msg.set_content(text)
        if i % 4 == 0:
            msg.add_alternative(f"<html><body><p>{text}</p></body></html>", subtype="html")
        if i % 25 == 0:
            msg.add_attachment(
                os.urandom(20_000), maintype="application", subtype="pdf", filename=f"q{i}.pdf"
            )
        messages.append(msg.as_bytes())
    return messages


def crm_records(company, owner) -> None:
    """Make a quarter of the senders leads, a quarter deals' contacts and a quarter customers,
    so that CRM linking finds (and writes) links, as in a sales inbox."""
    from hub.domain.authentication.models import Customer, CustomerCompany, User
    from hub.domain.crm.models import Deal, Lead
    from hub.domain.crm.services import pipeline_create_default

    pipeline = pipeline_create_default(company=company)
    stage = pipeline.stages.order_by("order")[0]
    people = list(enumerate(PEOPLE))
    Lead.objects.bulk_create(
        Lead(
            company=company,
            created_by=owner,
            first_name="L",
            last_name=str(i),
            email=address,
            lead_source="website",
        )
        for i, address in people
        if i % 4 == 0
    )
    Deal.objects.bulk_create(
        Deal(
            company=company,
            pipeline=pipeline,
            stage=stage,
            created_by=owner,
            title=f"Deal {i}",
            value=1000,
            contact_name=f"Contact {i}",
            contact_email=address,
            company_name="Client",
            probability=stage.probability,
        )
        for i, address in people
        if i % 4 == 1
    )
    users = [
        User(email=address, username=f"customer{i}", account_type="customer")
        for i, address in people
        if i % 4 == 2
    ]
    for user in users:
        user.set_unusable_password()
    User.objects.bulk_create(users)
    customers = Customer.objects.bulk_create(Customer(user=user) for user in users)
    CustomerCompany.objects.bulk_create(
        CustomerCompany(customer=customer, company=company) for customer in customers
    )


def load(server: Dovecot, user: str, messages: list[bytes]) -> None:
    with server.client(user) as imap:
        for raw in messages:
            imap.append("INBOX", raw)


def baseline(server: Dovecot, user: str, batch: int) -> tuple[int, float]:
    """Fetch and parse every INBOX message with imaplib; (messages, seconds)."""
    started = time.perf_counter()
    imap = imaplib.IMAP4(server.host, server.port)
    imap.login(user, server.users[user])
    imap.select("INBOX", readonly=True)
    _, data = imap.uid("SEARCH", "ALL")
    uids = data[0].decode().split()
    parsed = 0
    for start in range(0, len(uids), batch):
        chunk = ",".join(uids[start : start + batch])
        _, rows = imap.uid("FETCH", chunk, "(BODY.PEEK[])")
        for row in rows:
            if isinstance(row, tuple):
                message = message_from_bytes(row[1], policy=policy.default)
                body = message.get_body(("plain", "html"))
                if body is not None:
                    body.get_content()
                parsed += 1
    imap.logout()
    return parsed, time.perf_counter() - started


def big_message(megabytes: int, owner: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = PEOPLE[0], owner, f"A {megabytes} MB file"
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(idstring="large", domain="client.test")
    msg.set_content("Here is the file.\n")
    msg.add_attachment(
        os.urandom(megabytes * 10**6 * 3 // 4),  # base64 makes it N MB on the wire
        maintype="application",
        subtype="octet-stream",
        filename="large.bin",
    )
    return msg.as_bytes()


def synced_in_child(account_id: int) -> float:
    """Sync the account in a new process (this one's peak RSS is already high); its peak, MB."""
    code = (
        "import django; django.setup()\n"
        "from hub.domain.emails.models import EmailAccount\n"
        "from hub.domain.emails.sync import mailbox_sync\n"
        f"result = mailbox_sync(account=EmailAccount.objects.get(pk={account_id}))\n"
        "assert result.status == 'completed' and result.new == 2, result\n"
        # VmHWM: this process's peak since its exec (ru_maxrss would carry the parent's over).
        "print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True
    )
    return int(done.stdout.split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--large-mb", type=int, default=0, help="also sync one N MB message")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hub_bench_mail"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()

    env = env_for(SimpleNamespace(**vars(args)), free_port())
    env["EMAIL_ENCRYPTION_KEY"] = "q1Vd0dJ2m1nP9l1Rk0m9C0Qh7zv8bq6Q2S5o0lq3cQ8="
    owner_id = prepare_database(env)
    os.environ.update(env)
    os.chdir(ROOT)
    import django

    django.setup()
    from django.conf import settings

    from hub.domain.authentication.models import Company, User
    from hub.domain.emails.models import Email, EmailAccount
    from hub.domain.emails.services import email_account_create
    from hub.domain.emails.sync import mailbox_sync

    server = Dovecot.start()
    try:
        big, small = "big@bench.test", "small@bench.test"
        server.user_add(big)
        server.user_add(small)
        print(f"loading {args.messages} messages into Dovecot over APPEND…", flush=True)
        t0 = time.perf_counter()
        load(server, big, corpus(args.messages, big))
        load(server, small, corpus(100, small))
        print(f"  loaded in {time.perf_counter() - t0:.1f} s", flush=True)

        owner = User.objects.get(pk=owner_id)
        company = Company.objects.get(created_by=owner)
        crm_records(company, owner)

        def account(address: str) -> EmailAccount:
            EmailAccount.objects.filter(company=company, email=address).delete()
            return email_account_create(
                company=company,
                user=owner,
                email=address,
                provider="imap",
                username=address,
                password=server.users[address],
                imap_host=server.host,
                imap_port=server.port,
            )

        def hub_first(address: str) -> tuple[EmailAccount, float]:
            acct = account(address)
            started = time.perf_counter()
            mailbox_sync(account=acct)
            seconds = time.perf_counter() - started
            return acct, seconds

        rows = []
        for run in range(1, args.repeat + 1):
            load_avg = os.getloadavg()[0]
            n, base_s = baseline(server, big, settings.HUB_EMAIL_SYNC_BATCH_SIZE)
            acct, hub_s = hub_first(big)
            stored = Email.objects.filter(email_account=acct).count()
            assert stored == args.messages, f"the hub stored {stored} of {args.messages}"
            incremental = []
            for _ in range(5):
                started = time.perf_counter()
                mailbox_sync(account=acct)
                incremental.append(time.perf_counter() - started)
            # The median of three, as the incremental's is of five: one ~0.2 s sample is noisy.
            first100 = statistics.median(hub_first(small)[1] for _ in range(3))
            row = {
                "run": run,
                "load": load_avg,
                "baseline_rate": n / base_s,
                "hub_rate": args.messages / hub_s,
                "incremental_s": statistics.median(incremental),
                "first100_s": first100,
            }
            row["rate_ratio"] = row["hub_rate"] / row["baseline_rate"]
            row["incremental_ratio"] = row["incremental_s"] / row["first100_s"]
            rows.append(row)
            print(
                f"run {run} (load {load_avg:.2f}): baseline {row['baseline_rate']:.0f} msg/s, "
                f"hub first sync {row['hub_rate']:.0f} msg/s ({row['rate_ratio']:.2f}×); "
                f"incremental, nothing new {row['incremental_s'] * 1000:.1f} ms "
                f"= {row['incremental_ratio']:.3f}× a first sync of 100 "
                f"({row['first100_s'] * 1000:.0f} ms)",
                flush=True,
            )
        rate = statistics.median(r["rate_ratio"] for r in rows)
        inc = statistics.median(r["incremental_ratio"] for r in rows)
        print(
            f"\nmedian over {len(rows)} runs: first sync {rate:.2f}× the baseline's rate "
            f"(target ≥ 0.5×: {'met' if rate >= 0.5 else 'MISSED'}); incremental with nothing "
            f"new {inc:.3f}× a first sync of 100 (target < 0.1×: "
            f"{'met' if inc < 0.1 else 'MISSED'})"
        )
        if args.large_mb:
            large = "large@bench.test"
            server.user_add(large)
            load(server, large, [big_message(args.large_mb, large), *corpus(1, large)])
            peak_mb = synced_in_child(account(large).pk)
            print(
                f"\na mailbox with one {args.large_mb} MB message: the sync's process peaked at "
                f"{peak_mb:.0f} MB RSS (HUB_EMAIL_MESSAGE_MAX_BYTES "
                f"{settings.HUB_EMAIL_MESSAGE_MAX_BYTES / 2**20:g} MiB)"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
