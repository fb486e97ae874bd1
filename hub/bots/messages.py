"""What the Slack bot says: every text a person reads, in one place.

Whatever a member typed, and whatever the CRM holds, is escaped (``crm_text.escape``) before
it is shown: ``<!channel>`` typed into ``/call`` must come back as text, not as a mention.
"""

from __future__ import annotations

from django.conf import settings

from hub.bots.crm_text import escape
from hub.domain.crm.selectors import CallTarget

CALL_USAGE = (
    "Usage: `/call +1 415 555 0100` (a phone number) or `/call Jane Doe` "
    "(a lead, customer or deal of your company)."
)
CALL_MORE = "`/call list` shows your calls of today, `/call help` everything /call does."
LIST_USAGE = "`/call list` shows your calls today; `/call list missed`, the ones you missed."


def call_help(missed_days: int) -> str:
    return (
        f"{CALL_USAGE}\n"
        "• `/call list` (or `/call list today`): your calls today.\n"
        f"• `/call list missed`: the calls you missed in the last {missed_days} days, each with "
        "a Call back button.\n"
        "• `/call help`: this help.\n"
        "`list` and `help` are commands, not names: to call someone named List, type more of "
        "the name, in any order (`/call smith list`)."
    )


def not_installed(team_id: str | None) -> str:
    install = f" at {settings.HUB_PUBLIC_URL}/slack/install" if settings.HUB_PUBLIC_URL else ""
    return (
        f"This Slack workspace ({team_id or 'unknown'}) is not connected to a company on the hub. "
        f"A CEO or manager of the company connects it with “Add to Slack”{install}, or an admin "
        f"of the hub with `manage.py slack_install --team {team_id or 'T…'} "
        "--company <id> --bot-token xoxb-…`."
    )


def calling(*, whom: str, to_number: str, from_number: str) -> str:
    return f"Calling {whom}{escape(to_number)} from {escape(from_number)}…"


def whom(target: CallTarget | None) -> str:
    return f"{label(target)} at " if target else ""


def label(target: CallTarget) -> str:
    """A target's label as mrkdwn: ``Jane Doe (lead)``, escaped."""
    return escape(target.label)


def no_match(query: str, company_name: str) -> str:
    return f"No lead, customer or deal of {escape(company_name)} matches “{escape(query)}”."


def several(query: str, shown: int, more: int = 0) -> str:
    if more:
        return (
            f"Several matches for “{escape(query)}”; pick who to call (showing {shown}; "
            f"{more} more — narrow your search):"
        )
    return f"Several matches for “{escape(query)}”; pick who to call (showing {shown}):"


def confirm(query: str, target: CallTarget) -> str:
    return f"The only match for “{escape(query)}” is {label(target)}; call them?"


def no_phone(target: CallTarget) -> str:
    return f"{label(target)} has no phone number in the CRM."


def bad_phone(target: CallTarget) -> str:
    return (
        f"The phone number of {label(target)} in the CRM, “{escape(target.phone or '')}”, "
        "cannot be called."
    )


def not_a_number(text: str) -> str:
    return f"“{escape(text)}” is not a phone number that can be called. {CALL_USAGE}"


def list_bad(text: str) -> str:
    return f"`/call list` does not know “{escape(text)}”. {LIST_USAGE}"


def list_title(*, missed: bool, shown: int, total: int, day: str, days: int) -> str:
    """The heading of ``/call list``: what is listed, and how many of how many."""
    what = f"Your missed calls of the last {days} days" if missed else f"Your calls today ({day})"
    if not total:
        return (
            f"No missed calls in the last {days} days."
            if missed
            else f"No calls today ({day}) placed by you or to your numbers."
        )
    count = f"{total}" if shown == total else f"the latest {shown} of {total}"
    return f"*{what}:* {count}"


def no_call_back(number: str) -> str:
    return f"The number of that call, “{escape(number)}”, cannot be called back."


CALL_GONE = "That call is not in the CRM any more (or not in your company's); run /call again."


def queue_down() -> str:
    return "The hub could not queue the call (its job queue is not answering); try again shortly."


def placed(*, call_id: int, to_number: str, from_number: str, user_phone: str | None) -> str:
    then = (
        f"when they answer, Twilio rings your phone ({user_phone})."
        if user_phone
        else "you have no phone number on your hub profile, so the call ends when they "
        "answer: add one in the console."
    )
    return f"Call #{call_id} placed: Twilio is calling {to_number} from {from_number}; {then}"


def too_late(*, to_number: str, seconds: int) -> str:
    return (
        f"The call to {to_number} was not placed: the hub's workers reached it only after "
        f"{seconds} s. Run /call again if you still want it."
    )


def failed(*, to_number: str) -> str:
    return (
        f"The hub ran into an error placing the call to {to_number}; it may not have been "
        "placed. Check the call board before trying again."
    )


def already(*, to_number: str, outcome: str, in_progress: bool = False) -> str:
    """What a second delivery (or click) of the same ``/call`` says: what came of the first.

    ``in_progress``: the first is still being placed (a second click while it runs).
    """
    if outcome:
        return (
            f"Your call to {to_number} was taken up already, so it is not placed twice. "
            f"The first time: {outcome}"
        )
    if in_progress:
        return (
            f"Your call to {to_number} is being placed already (you clicked twice); it is not "
            "placed twice. You will be told here when it is through."
        )
    return (
        f"The hub was interrupted while placing your call to {to_number}, so it may have been "
        "placed; it is not placed twice. Check the call board before running /call again."
    )


def workspace_off(*, to_number: str, team_id: str) -> str:
    return (
        f"The call to {to_number} was not placed: this Slack workspace ({team_id}) was "
        "disconnected from the hub (or its company turned off) before the call was placed."
    )


HUB_ERROR = "The hub ran into an error; nothing was called. Try again shortly."
