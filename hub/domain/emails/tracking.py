"""Open and click tracking of sent e-mail: signed tokens, rewritten HTML, and recorded hits.

The open pixel's token carries the e-mail's id, a click's token the id of its ``EmailLink``
row (never the URL): the redirect goes only to the URL stored there, so a token cannot be
made into an open redirect. Tokens are signed with ``SECRET_KEY`` (``SECRET_KEY_FALLBACKS``
keep old ones valid across a rotation), one salt per kind, and do not expire: mail is opened
months later.

Each valid hit writes an ``emails_emailtracking`` row, counts on the e-mail, sets the first
``opened_at`` / ``clicked_at`` once, and pushes ``email.opened`` / ``email.clicked`` to the
sending account's owner. An e-mail with tracking off records nothing.
"""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from hub.domain.emails.models import (
    Direction,
    Email,
    EmailLink,
    EmailTracking,
    TrackingEvent,
)
from hub.domain.events.models import Audience
from hub.domain.events.payloads import email_clicked_payload, email_opened_payload
from hub.domain.events.services import event_append

OPEN_SALT = "hub.emails.tracking.open"
CLICK_SALT = "hub.emails.tracking.click"
# What a client sends is stored, within reason.
_USER_AGENT_CHARS = 1000


def tracking_available() -> bool:
    """Tracking needs the hub's public address to put in the mail."""
    return bool(settings.HUB_PUBLIC_URL)


def _sign(value: int, salt: str) -> str:
    return signing.Signer(salt=salt).sign(str(value))


def _unsign(token: str, salt: str) -> int | None:
    try:
        value = signing.Signer(salt=salt).unsign(token)
    except signing.BadSignature:
        return None
    return int(value) if value.isdigit() else None


def open_url(email_id: int) -> str:
    path = reverse("mail:open", kwargs={"token": _sign(email_id, OPEN_SALT)})
    return f"{settings.HUB_PUBLIC_URL}{path}"


def click_url(link_id: int) -> str:
    path = reverse("mail:click", kwargs={"token": _sign(link_id, CLICK_SALT)})
    return f"{settings.HUB_PUBLIC_URL}{path}"


# --- the HTML that is sent ----------------------------------------------------------------


class _Anchors(HTMLParser):
    """The ``<a href="http…">`` start tags of a document, with where each one starts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[tuple[int, int], str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a" and _tracked_href(attrs) is not None:
            self.found.append((self.getpos(), self.get_starttag_text() or "", attrs))

    handle_startendtag = handle_starttag


def _tracked_href(attrs: list[tuple[str, str | None]]) -> str | None:
    href = next((value for name, value in attrs if name == "href"), None)
    if href is None:
        return None
    href = href.strip()
    if not href.lower().startswith(("http://", "https://")):
        return None  # mailto:, tel:, #anchors and the like stay as they are
    click_prefix = reverse("mail:click", kwargs={"token": "0"})[:-1]
    if href.startswith(f"{settings.HUB_PUBLIC_URL}{click_prefix}"):
        return None  # already tracked
    return href


def _anchors(html: str) -> list[tuple[int, str, list[tuple[str, str | None]]]]:
    parser = _Anchors()
    parser.feed(html)
    parser.close()
    line_starts = [0]
    for index, char in enumerate(html):
        if char == "\n":
            line_starts.append(index + 1)
    found = []
    for (line, column), text, attrs in parser.found:
        start = line_starts[line - 1] + column
        if text and html.startswith(text, start):  # else leave it: never rewrite blindly
            found.append((start, text, attrs))
    return found


def html_links(html: str) -> list[str]:
    """The distinct web links of ``html`` (``<a href="http…">``), in order."""
    hrefs = (_tracked_href(attrs) for _, _, attrs in _anchors(html or ""))
    return list(dict.fromkeys(href for href in hrefs if href))


def _start_tag(attrs: list[tuple[str, str | None]], href: str, closed: bool) -> str:
    parts = ["<a"]
    for name, value in attrs:
        value = href if name == "href" else value
        parts.append(f" {name}" if value is None else f' {name}="{escape(value)}"')
    return "".join(parts) + (" />" if closed else ">")


def html_tracked(html: str, *, email_id: int, links: dict[str, int]) -> str:
    """``html`` with each link in ``links`` (URL → ``EmailLink`` id) going through the click
    redirect, and the open pixel added at the end of the body."""
    pieces, done = [], 0
    for start, text, attrs in _anchors(html):
        href = _tracked_href(attrs)
        if href not in links:
            continue  # not in the rows (the HTML was edited after queuing): left as it is
        pieces += [html[done:start], _start_tag(attrs, click_url(links[href]), text.endswith("/>"))]
        done = start + len(text)
    pieces.append(html[done:])
    body = "".join(pieces)
    pixel = (
        f'<img src="{escape(open_url(email_id))}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0" />'
    )
    end = body.lower().rfind("</body>")
    return body + pixel if end < 0 else body[:end] + pixel + body[end:]


def email_links_create(*, email: Email) -> dict[str, int]:
    """Store the e-mail's web links (one row per distinct URL); return URL → row id."""
    urls = html_links(email.body_html)
    EmailLink.objects.bulk_create([EmailLink(email=email, url=url) for url in urls])
    return email_links(email_id=email.pk)


def email_links(*, email_id: int) -> dict[str, int]:
    rows = EmailLink.objects.filter(email_id=email_id).order_by("id").values_list("url", "id")
    links: dict[str, int] = {}
    for url, link_id in rows:
        links.setdefault(url, link_id)
    return links


# --- hits ---------------------------------------------------------------------------------


def _tracked_emails():
    return Email.objects.select_related("email_account").filter(
        direction=Direction.OUTBOUND, tracking_enabled=True
    )


def tracking_open_record(*, token: str, ip: str | None, user_agent: str) -> bool:
    """Record an open of the e-mail the token names; False (nothing recorded) for a token
    that is not ours or an e-mail not tracked."""
    email_id = _unsign(token, OPEN_SALT)
    if email_id is None:
        return False
    with transaction.atomic():
        email = _tracked_emails().filter(pk=email_id).first()
        if email is None:
            return False
        _hit(email, TrackingEvent.OPEN, ip=ip, user_agent=user_agent)
        return True


def tracking_click_record(*, token: str, ip: str | None, user_agent: str) -> str | None:
    """The stored URL of the link the token names (None for a token that is not ours), with
    the click recorded when the e-mail is tracked."""
    link_id = _unsign(token, CLICK_SALT)
    if link_id is None:
        return None
    with transaction.atomic():
        link = EmailLink.objects.filter(pk=link_id).first()
        if link is None:
            return None
        email = _tracked_emails().filter(pk=link.email_id).first()
        if email is not None:
            _hit(email, TrackingEvent.CLICK, ip=ip, user_agent=user_agent, url=link.url)
        return link.url


def _hit(email: Email, kind: str, *, ip: str | None, user_agent: str, url: str = "") -> None:
    now = timezone.now()
    EmailTracking.objects.create(
        email=email,
        event_type=kind,
        ip_address=ip,
        user_agent=(user_agent or "")[:_USER_AGENT_CHARS] or None,
        link_url=url or None,
    )
    if kind == TrackingEvent.OPEN:
        counted = {
            "opens_count": F("opens_count") + 1,
            "opened_at": Coalesce("opened_at", Value(now)),
        }
    else:
        counted = {
            "clicks_count": F("clicks_count") + 1,
            "clicked_at": Coalesce("clicked_at", Value(now)),
        }
    # One statement: concurrent hits each count, and the first time is kept.
    Email.objects.filter(pk=email.pk).update(**counted)
    email.refresh_from_db(fields=["opens_count", "opened_at", "clicks_count", "clicked_at"])
    account = email.email_account
    opened = kind == TrackingEvent.OPEN
    event_append(
        company_id=account.company_id,
        audience=Audience.USER,
        user_id=account.user_id,
        topic="emails",
        type="email.opened" if opened else "email.clicked",
        payload=email_opened_payload(email) if opened else email_clicked_payload(email, url),
    )
