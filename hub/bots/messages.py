"""What the Slack bot says: every text a person reads, in one place."""

from __future__ import annotations

from hub.domain.crm.selectors import CallTarget

CALL_USAGE = (
    "Usage: `/call +1 415 555 0100` (a phone number) or `/call Jane Doe` "
    "(a lead, customer or deal of your company)."
)


def not_installed(team_id: str | None) -> str:
    return (
        f"This Slack workspace ({team_id or 'unknown'}) is not connected to a company on the hub. "
        f"An admin of the hub connects it with `manage.py slack_install --team {team_id or 'T…'} "
        "--company <id> --bot-token xoxb-…`."
    )


def calling(*, whom: str, to_number: str, from_number: str) -> str:
    return f"Calling {whom}{to_number} from {from_number}…"


def whom(target: CallTarget | None) -> str:
    return f"{target.label} at " if target else ""


def no_match(query: str, company_name: str) -> str:
    return f"No lead, customer or deal of {company_name} matches “{query}”."


def several(query: str, shown: int, more: int = 0) -> str:
    if more:
        return (
            f"Several matches for “{query}”; pick who to call (showing {shown}; "
            f"{more} more — narrow your search):"
        )
    return f"Several matches for “{query}”; pick who to call (showing {shown}):"


def confirm(query: str, target: CallTarget) -> str:
    return f"The only match for “{query}” is {target.label}; call them?"


def no_phone(target: CallTarget) -> str:
    return f"{target.label} has no phone number in the CRM."


def bad_phone(target: CallTarget) -> str:
    return f"The phone number of {target.label} in the CRM, {target.phone!r}, cannot be called."


def not_a_number(text: str) -> str:
    return f"“{text}” is not a phone number that can be called. {CALL_USAGE}"


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


def already(*, to_number: str, outcome: str) -> str:
    """What a second delivery (or click) of the same ``/call`` says: what came of the first."""
    if outcome:
        return (
            f"Your call to {to_number} was taken up already, so it is not placed twice. "
            f"The first time: {outcome}"
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
