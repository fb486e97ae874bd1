"""The Slack app as deployed: a web process (daphne), a worker (``manage.py rundramatiq``) on a
Redis broker, the scheduler (``manage.py hub_scheduler``) and the relay of ``live_hub``, all on
the test database, with ``SLACK_API_URL`` pointing at a loopback fake of Slack in the test process.

Test modules import what they use from here (``from tests.live.slack_live_fixtures import …``);
tests ask for the fixtures by name (``slack_hub``, ``acme_slack``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis
from cryptography.fernet import Fernet
from django.conf import settings

from hub.domain.events.models import Event, RelayCursor
from hub.integrations.slack.alerts import CURSOR, slack_alerts_configure
from hub.integrations.slack.models import SlackInstallation
from hub.integrations.slack.services import slack_installation_register, slack_user_link_add
from tests import factories
from tests.live.conftest import ROOT, LiveHub, free_port
from tests.slack.conftest import ACME_TEAM, ACME_TOKEN, SIGNING_SECRET, signature
from tests.slack.fake_slack import FakeSlack, Seen

ALERTS_CHANNEL = "C0ALERTS1"
ALICE_SLACK = "UALICE01"
#: The queues of the hub's actors (hub/workers): cleared from the broker's database at the end.
QUEUES = ("slack", "twilio", "default")

T = TypeVar("T")


def broker_url() -> str:
    """A Redis database of its own for the broker, so no other worker on the server takes these
    messages (tests/twilio/test_live.py uses ``8 + pid % 8``: this run picks another one)."""
    parts = urllib.parse.urlsplit(settings.REDIS_URL)
    return parts._replace(path=f"/{8 + (os.getpid() + 4) % 8}").geturl()


@dataclass
class SlackHub:
    """The processes, the fake Slack they call, and where their logs go."""

    web: LiveHub
    fake: FakeSlack
    encryption_key: str
    logs: Path
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.web.ports[0]}/slack/events"

    def log_tail(self, chars: int = 3000) -> str:
        parts = []
        for path in sorted(self.logs.glob("*.log")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)

    def wait(self, condition: Callable[[], T], *, what: str, timeout: float = 15) -> T:
        """Poll ``condition()`` until truthy; fail naming ``what``, with the processes' logs."""
        deadline = time.monotonic() + timeout
        while not (result := condition()):
            if time.monotonic() > deadline:
                for proc in self.procs:
                    if proc.poll() is not None:
                        what += f" ({proc.args[2:4]} exited with {proc.returncode})"
                pytest.fail(f"timed out after {timeout} s waiting for {what}\n{self.log_tail()}")
            time.sleep(0.05)
        return result


def _manage(hub: SlackHub, name: str, *args: str) -> subprocess.Popen:
    log = (hub.logs / f"{name}.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=hub.web.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        # Its own process group: the worker forks worker processes, stopped with it.
        start_new_session=True,
    )
    log.close()  # the child holds its own copy
    hub.procs.append(proc)
    return proc


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            # The group is the one started for this process (start_new_session).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _broker_clear() -> None:
    r = redis.Redis.from_url(broker_url())
    try:
        for queue in QUEUES:
            for key in r.scan_iter(f"dramatiq:{queue}*"):
                r.delete(key)
    finally:
        r.close()


@pytest.fixture(scope="module")
def slack_hub(live_hub, tmp_path_factory) -> Iterator[SlackHub]:
    """daphne, a worker and the scheduler with the Slack settings, beside ``live_hub``'s relay."""
    fake = FakeSlack().start()
    fake.tokens[ACME_TOKEN] = (ACME_TEAM, "Acme Slack", "UBOTACME")
    key = Fernet.generate_key().decode()
    env = live_hub.env | {
        "DRAMATIQ_BROKER_URL": broker_url(),
        "SLACK_API_URL": fake.api_url,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "EMAIL_ENCRYPTION_KEY": key,  # the bot token, stored encrypted by the test process
        "HUB_SLACK_ALERTS_INTERVAL_SECONDS": "0.5",
        "SLACK_HTTP_TIMEOUT_SECONDS": "5",
        # Each test registers Acme's workspace anew (a new row, the last one deleted with the
        # database); daphne must not answer from the row it kept from the test before.
        "HUB_SLACK_INSTALLATION_CACHE_SECONDS": "0",
    }
    hub = SlackHub(
        web=LiveHub(env=env, ports=[free_port()]),
        fake=fake,
        encryption_key=key,
        logs=tmp_path_factory.mktemp("slack-live"),
    )
    _broker_clear()
    try:
        # As the Procfile starts them (fewer worker threads: the test needs few).
        _manage(hub, "worker", "rundramatiq", "--processes", "1", "--threads", "4")
        _manage(hub, "scheduler", "hub_scheduler")
        hub.web.start_daphne(hub.web.ports[0])
        yield hub
    finally:
        _stop(hub.procs)
        _stop(hub.web.procs)
        fake.stop()
        _broker_clear()


@dataclass
class AcmeSlack:
    """Acme's workspace, its alerts channel, and alice (its CEO) linked as ``ALICE_SLACK``."""

    installation: SlackInstallation
    alice: Any
    hub: SlackHub


@pytest.fixture
def acme_slack(slack_hub, settings, acme, alice) -> AcmeSlack:
    """Registered as an admin would; returns once the alerts collector has placed its cursor,
    so every change the test makes from then on is one it will turn into alerts."""
    settings.EMAIL_ENCRYPTION_KEYS = [slack_hub.encryption_key]
    installation = slack_installation_register(
        team_id=ACME_TEAM, company=acme, bot_token=ACME_TOKEN, bot_user_id="UBOTACME"
    )
    slack_alerts_configure(installation=installation, channel_id=ALERTS_CHANNEL)
    slack_user_link_add(
        installation=installation, slack_user_id=ALICE_SLACK, user=alice, email=alice.email
    )
    # The database is emptied after each test: the first collect run after that places it anew.
    slack_hub.wait(
        lambda: RelayCursor.objects.filter(name=CURSOR).exists(),
        what="the scheduler's first slack_alerts_collect run on the worker",
        timeout=30,
    )
    return AcmeSlack(installation=installation, alice=alice, hub=slack_hub)


# -- what Slack sends, as Slack sends it -------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: bytes
    seconds: float

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


def command_body(fake: FakeSlack, text: str, *, command: str = "/deal") -> str:
    """The form body of a slash command as Slack posts it."""
    return urllib.parse.urlencode(
        {
            "token": "deprecated-verification-token",
            "team_id": ACME_TEAM,
            "team_domain": "acme",
            "channel_id": "C0SALES01",
            "channel_name": "sales",
            "user_id": ALICE_SLACK,
            "user_name": "alice",
            "command": command,
            "text": text,
            "api_app_id": "A0HUB0001",
            "is_enterprise_install": "false",
            "response_url": fake.response_url(uuid.uuid4().hex),
            "trigger_id": f"{uuid.uuid4().int % 10**10}.123.abc",
        }
    )


def slack_post(
    hub: SlackHub,
    body: str,
    *,
    timestamp: str | None = None,
    secret: str = SIGNING_SECRET,
    signed_body: str | None = None,
) -> Reply:
    """POST ``body`` to daphne's /slack/events with Slack's headers, signed with ``secret``
    (over ``signed_body`` when given: a body changed after it was signed)."""
    timestamp = timestamp or str(int(time.time()))
    request = urllib.request.Request(  # noqa: S310 - loopback
        hub.events_url,
        data=body.encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature(
                body if signed_body is None else signed_body, timestamp, secret
            ),
        },
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    return Reply(status, raw, time.monotonic() - started)


# -- what reached Slack, and the worker's progress ---------------------------------------------


def alert_posts(fake: FakeSlack, deal) -> list[Seen]:
    """The chat.postMessage requests to the alerts channel about ``deal`` (refused ones too)."""
    named = f"#{deal.pk} {deal.title}"
    return [
        seen
        for seen in fake.api_calls("chat.postMessage")
        if seen.body.get("channel") == ALERTS_CHANNEL and named in str(seen.body.get("text"))
    ]


def collect_runs(hub: SlackHub, user, count: int = 2) -> None:
    """Return after ``count`` more slack_alerts_collect runs (each one's deliveries enqueued).

    Each time, a notification is committed; once the relay has logged its event, a collect run
    that started after it moves the collector's cursor past it. Read from the database, as the
    worker leaves it; no sleeping for a guessed while.
    """
    for _ in range(count):
        title = f"collect marker {uuid.uuid4().hex}"
        factories.NotificationFactory(user=user, title=title)
        marker = hub.wait(
            lambda t=title: (
                Event.objects.filter(type="notification.created", payload__title=t)
                .values_list("id", flat=True)
                .first()
            ),
            what="the relay to log the marker notification",
        )
        hub.wait(
            lambda m=marker: RelayCursor.objects.filter(name=CURSOR, last_event_id__gte=m).exists(),
            what="a slack_alerts_collect run past the marker",
        )
