"""Open pixel and click redirect through the Django test client: signed tokens, counters,
first times, events to the sender only, and nothing for forged tokens."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest
from django.core import signing
from django.test import Client

from hub.domain.emails.delivery import email_deliver
from hub.domain.emails.hub_models import EmailLink
from hub.domain.emails.models import Email, EmailTracking
from hub.domain.emails.tracking import CLICK_SALT, OPEN_SALT
from hub.domain.events.models import Event
from hub.domain.notifications.services import notification_create
from hub.integrations.mail.views import PIXEL
from tests.eventlog import logged_events
from tests.live import conftest as live
from tests.mail.send_fixtures import globex_account, queue

pytestmark = pytest.mark.django_db

HTML = (
    '<html><body><p>Our <a href="https://skates.test/offer?id=7&amp;ref=mail">offer</a> and '
    '<a href="https://skates.test/terms">terms</a>.</p></body></html>'
)


@pytest.fixture
def sent(imap_account, smtp_server):
    """A tracked e-mail alice sent, and the HTML its recipient got."""
    email = queue(imap_account, body_html=HTML)
    email_deliver(email_id=email.id)
    html = smtp_server.wait_for(1)[0].message.get_body(("html",)).get_content()
    return email, html


def _paths(html: str) -> tuple[str, list[str]]:
    """The open pixel's path and the click paths, in order, as the recipient's client has them."""
    (pixel,) = re.findall(r'src="https://hub\.example\.test(/mail/o/[^"]+)"', html)
    clicks = re.findall(r'href="https://hub\.example\.test(/mail/c/[^"]+)"', html)
    return pixel, clicks


def _tracking_events(type_: str) -> list[Event]:
    return list(logged_events().filter(type=type_).order_by("id"))


def test_the_pixel_records_an_open_and_answers_a_gif_that_is_not_cached(sent, alice, client):
    email, html = sent
    pixel, _ = _paths(html)

    response = client.get(pixel, HTTP_USER_AGENT="Mail/1.0", REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response["Cache-Control"] == "no-store"
    assert response.content == PIXEL
    assert "Set-Cookie" not in response.headers
    (hit,) = EmailTracking.objects.filter(email=email)
    assert (hit.event_type, hit.ip_address, hit.user_agent, hit.link_url) == (
        "open",
        "203.0.113.9",
        "Mail/1.0",
        None,
    )
    email.refresh_from_db()
    assert email.opens_count == 1 and email.opened_at is not None
    (event,) = _tracking_events("email.opened")
    assert (event.audience, event.user_id, event.company_id, event.topic) == (
        "user",
        alice.id,
        email.email_account.company_id,
        "emails",
    )
    assert event.payload["id"] == email.id
    assert event.payload["opens_count"] == 1
    assert event.payload["to_emails"] == ["ann@client.test"]


def test_opens_count_each_time_and_the_first_time_is_kept(sent, client):
    email, html = sent
    pixel, _ = _paths(html)

    client.get(pixel)
    first = Email.objects.get(pk=email.pk).opened_at
    client.get(pixel)
    client.get(pixel)

    email.refresh_from_db()
    assert email.opens_count == 3
    assert email.opened_at == first
    assert EmailTracking.objects.filter(email=email, event_type="open").count() == 3
    assert [e.payload["opens_count"] for e in _tracking_events("email.opened")] == [1, 2, 3]


def test_a_click_redirects_to_the_stored_link_and_is_recorded(sent, alice, client):
    email, html = sent
    _, clicks = _paths(html)

    response = client.get(clicks[0], HTTP_USER_AGENT="Mail/1.0")

    assert response.status_code == 302
    assert response["Location"] == "https://skates.test/offer?id=7&ref=mail"
    assert response["Cache-Control"] == "no-store"
    (hit,) = EmailTracking.objects.filter(email=email)
    assert (hit.event_type, hit.link_url) == ("click", "https://skates.test/offer?id=7&ref=mail")
    client.get(clicks[1])
    email.refresh_from_db()
    assert email.clicks_count == 2 and email.clicked_at is not None
    assert email.opens_count == 0
    events = _tracking_events("email.clicked")
    assert [e.payload["link_url"] for e in events] == [
        "https://skates.test/offer?id=7&ref=mail",
        "https://skates.test/terms",
    ]
    assert [e.payload["clicks_count"] for e in events] == [1, 2]
    assert {e.user_id for e in events} == {alice.id}
    assert events[0].payload["clicked_at"] == events[1].payload["clicked_at"]


def test_events_reach_the_sender_only(sent, client, alice, bob, charlie):
    from hub.domain.events.audience import Viewer, viewer_events_q

    email, html = sent
    pixel, clicks = _paths(html)
    client.get(pixel)
    client.get(clicks[0])

    def seen_by(user, companies) -> set[str]:
        viewer = Viewer(user_id=user.id, is_customer=False, companies=companies)
        events = logged_events().filter(viewer_events_q(viewer))
        return set(
            events.filter(type__in=["email.opened", "email.clicked"]).values_list("type", flat=True)
        )

    acme_id = email.email_account.company_id
    assert seen_by(alice, {acme_id: True}) == {"email.opened", "email.clicked"}
    # A fellow member who manages deals, and an outsider: mail is personal.
    assert seen_by(bob, {acme_id: True}) == set()
    assert seen_by(charlie, {charlie.memberships.get().company_id: True}) == set()


@pytest.mark.parametrize(
    "token",
    [
        "1:forged-signature",
        "1",
        "",
        "not-a-token",
        signing.Signer(salt="another.salt").sign("1"),
        signing.Signer(salt=CLICK_SALT).sign("1"),  # a click token is not an open token
        signing.Signer(key="another-secret-key", salt=OPEN_SALT).sign("1"),
    ],
)
def test_a_bad_pixel_token_still_gets_the_gif_but_records_nothing(sent, client, token):
    email, _ = sent

    response = client.get(f"/mail/o/{token}.gif")

    if token:
        assert response.status_code == 200 and response.content == PIXEL
    assert not EmailTracking.objects.exists()
    assert Email.objects.get(pk=email.pk).opens_count == 0
    assert _tracking_events("email.opened") == []


def test_a_forged_click_is_a_404_and_redirects_nowhere(sent, client):
    email, html = sent
    _, clicks = _paths(html)
    link_id, _, signature = clicks[0].removeprefix("/mail/c/").partition(":")
    other_link = EmailLink.objects.exclude(pk=link_id).get(email=email)
    forged = [
        f"/mail/c/{other_link.id}:{signature}",  # tampered link id
        f"/mail/c/{link_id}:{signature[:-2]}xx",  # tampered signature
        f"/mail/c/{link_id}",  # unsigned
        "/mail/c/https:%2F%2Fevil.test",  # a URL instead of a token
        f"/mail/c/{signing.Signer(salt=OPEN_SALT).sign(link_id)}",  # an open token
    ]

    for path in forged:
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Location" not in response.headers, path

    assert not EmailTracking.objects.exists()
    assert Email.objects.get(pk=email.pk).clicks_count == 0


def test_another_companys_email_cannot_be_counted_with_an_unsigned_token(
    sent, client, globex, charlie
):
    account = globex_account(globex, charlie)
    theirs = queue(account, body_html='<a href="https://globex.test/">x</a>')
    _, html = sent
    pixel, _ = _paths(html)
    signature = pixel.removeprefix("/mail/o/").removesuffix(".gif").partition(":")[2]

    client.get(f"/mail/o/{theirs.id}.gif")
    client.get(f"/mail/o/{theirs.id}:{signature}.gif")  # our signature on their id
    link = EmailLink.objects.get(email=theirs)
    assert client.get(f"/mail/c/{link.id}").status_code == 404

    theirs.refresh_from_db()
    assert (theirs.opens_count, theirs.clicks_count) == (0, 0)
    assert not EmailTracking.objects.filter(email=theirs).exists()


def test_with_tracking_off_hits_record_nothing_but_the_link_still_works(sent, client):
    email, html = sent
    pixel, clicks = _paths(html)
    Email.objects.filter(pk=email.pk).update(tracking_enabled=False)

    assert client.get(pixel).content == PIXEL
    response = client.get(clicks[1])

    assert response.status_code == 302
    assert response["Location"] == "https://skates.test/terms"
    assert not EmailTracking.objects.exists()
    email.refresh_from_db()
    assert (email.opens_count, email.clicks_count) == (0, 0)


def test_the_client_address_behind_the_proxy_is_the_one_the_proxy_added(sent, client, settings):
    _, html = sent
    pixel, _ = _paths(html)

    client.get(pixel, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1, 192.0.2.7")
    settings.HUB_BEHIND_PROXY = True
    client.get(pixel, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1, 192.0.2.7")
    client.get(pixel, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="not-an-address")

    addresses = list(EmailTracking.objects.order_by("id").values_list("ip_address", flat=True))
    assert addresses == ["10.0.0.2", "192.0.2.7", None]


def test_only_get_is_answered(sent):
    _, html = sent
    pixel, clicks = _paths(html)
    client = Client(enforce_csrf_checks=True)

    assert client.post(pixel).status_code == 405
    assert client.post(clicks[0]).status_code == 405
    assert not EmailTracking.objects.exists()


# --- through daphne, to the sender's browser ------------------------------------------------

live_hub = live.live_hub  # two daphne processes and the relay (tests/live/conftest.py)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _http_get(url: str):
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        return opener.open(url, timeout=10)
    except urllib.error.HTTPError as answer:  # a 302 or 404 without following it
        return answer


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
@pytest.mark.redis
def test_hits_through_daphne_reach_the_senders_browser_only(
    live_hub, imap_account, smtp_server, alice, bob
):
    email = queue(imap_account, body_html=HTML)
    email_deliver(email_id=email.id)
    html = smtp_server.wait_for(1)[0].message.get_body(("html",)).get_content()
    pixel, clicks = _paths(html)
    base = f"http://127.0.0.1:{live_hub.ports[0]}"

    with (
        live.client(live_hub.url(1), alice.id) as sender,
        live.client(live_hub.url(1), bob.id) as colleague,
    ):
        answer = _http_get(base + pixel)
        assert (answer.status, answer.read()) == (200, PIXEL)
        opened = sender.next_event()
        assert (opened["type"], opened["data"]["id"], opened["data"]["opens_count"]) == (
            "event",
            email.id,
            1,
        )
        assert opened["data"]["opened_at"] is not None

        answer = _http_get(base + clicks[1])
        assert answer.status == 302
        assert answer.headers["Location"] == "https://skates.test/terms"
        clicked = sender.next_event()["data"]
        assert (clicked["link_url"], clicked["clicks_count"]) == ("https://skates.test/terms", 1)

        assert _http_get(base + "/mail/c/1:forged").status == 404
        # Bob's first event is the one meant for him: neither hit reached him.
        notification_create(user=bob, title="for bob", message="sentinel")
        assert colleague.next_event()["data"]["title"] == "for bob"


# --- the HTML that is sent --------------------------------------------------------------------


def test_links_are_found_in_real_world_html_and_only_web_links_are_rewritten():
    from hub.domain.emails.tracking import html_links, html_tracked

    html = (
        "<html><body>\r\n<A\r\n  CLASS=btn HREF='http://skates.test/a?x=1&amp;y=2'>A</A>\r\n"
        '<a href="mailto:ann@client.test">mail</a> <a href="#top">top</a> <a name="x">x</a>\n'
        '<!-- <a href="https://commented.test/"> -->'
        '<a title="5 > 4 &quot;yes&quot;" href=" https://skates.test/b ">B</a><br/>'
        '<a href="https://hub.example.test/mail/c/9:abc">already tracked</a>'
        "</BODY></html>"
    )

    assert html_links(html) == ["http://skates.test/a?x=1&y=2", "https://skates.test/b"]
    sent = html_tracked(
        html, email_id=3, links={"http://skates.test/a?x=1&y=2": 11, "https://skates.test/b": 12}
    )

    assert "skates.test" not in sent
    assert re.search(
        r'<a class="btn" href="https://hub\.example\.test/mail/c/11:[^"]+">A</A>', sent
    )
    assert re.search(
        r'<a title="5 &gt; 4 &quot;yes&quot;" href="https://hub\.example\.test/mail/c/12:[^"]+">B</a>',
        sent,
    )
    for kept in ('<a href="mailto:ann@client.test">', '<a href="#top">', '<a name="x">', "<!-- <a"):
        assert kept in sent
    assert '<a href="https://hub.example.test/mail/c/9:abc">' in sent
    # The pixel goes at the end of the body, once.
    assert sent.count("/mail/o/") == 1
    assert re.search(r'/mail/o/3:[^"]+\.gif"[^>]*/></BODY></html>$', sent)
