"""What ``/deal`` says: every text a member reads about deals, in one place.

Whatever a member typed is passed through :func:`hub.bots.crm_text.escape` before it is echoed.
"""

from __future__ import annotations

from decimal import Decimal

from hub.bots.crm_text import escape, money
from hub.domain.authentication.models import User
from hub.domain.crm.models import Deal, DealStage

HELP = "\n".join(
    (
        "*`/deal`: your company's deals from Slack*",
        "• `/deal list [STAGE|mine|closing this month]`: the open deals, 10 at a time",
        "• `/deal show ID`: a deal's card, with buttons to move, win, lose, assign and call",
        "• `/deal move ID STAGE`: move a deal to another stage (`/deal move 42 proposal`)",
        "• `/deal won ID`: mark a deal won",
        "• `/deal lost ID REASON`: mark a deal lost, saying why (without a reason, a form asks)",
        "• `/deal assign ID @user`: give a deal to a member (`me` for yourself)",
        "• `/deal note ID TEXT`: add a note to a deal",
        "• `/deal new`: a form for a new deal",
        "• `/deal pipeline`: per stage, the open deals' count, total and weighted value",
        "ID is a deal's number (`42` or `#42`) or a link to it in the console or the CRM. "
        "Answers are shown to you only; add `share` to `show`, `list` or `pipeline` to post "
        "the answer in the channel (`/deal show 42 share`). "
        "`/deal COMMAND help` explains one command.",
    )
)

USAGE = {
    "list": (
        "Usage: `/deal list [STAGE|mine|closing this month] [share]`: the open deals, 10 at a "
        "time, closing soonest first. `/deal list proposal` shows those in a stage, "
        "`/deal list mine` those assigned to you, `/deal list closing this month` those "
        "expected to close this month; they combine (`/deal list mine proposal`)."
    ),
    "show": "Usage: `/deal show ID [share]`: a deal's card, e.g. `/deal show 42`.",
    "move": (
        "Usage: `/deal move ID STAGE`: move an open deal to another stage of its pipeline, "
        "e.g. `/deal move 42 proposal`. A deal is closed with `/deal won ID` or "
        "`/deal lost ID REASON`."
    ),
    "won": "Usage: `/deal won ID`: mark an open deal won, e.g. `/deal won 42`.",
    "lost": (
        "Usage: `/deal lost ID REASON`: mark an open deal lost, e.g. "
        "`/deal lost 42 Went with a cheaper vendor`. Without a reason, a form asks for one."
    ),
    "assign": (
        "Usage: `/deal assign ID @user`: give a deal to a member of your company, e.g. "
        "`/deal assign 42 @jane`, `/deal assign 42 jane`, `/deal assign 42 me`."
    ),
    "note": "Usage: `/deal note ID TEXT`: add a note to a deal, e.g. `/deal note 42 Sent the quote`.",
    "new": "Usage: `/deal new`: opens a form for a new deal.",
    "pipeline": (
        "Usage: `/deal pipeline [share]`: the open deals of the default pipeline, stage by "
        "stage: how many, their total value and their value weighted by probability."
    ),
}

ALIASES = {
    "ls": "list",
    "view": "show",
    "card": "show",
    "win": "won",
    "lose": "lost",
    "create": "new",
    "add": "new",
    "owner": "assign",
    "stages": "pipeline",
    "forecast": "pipeline",
}

HUB_ERROR = "The hub ran into an error; nothing was changed. Try again shortly."
QUEUE_DOWN = "The hub could not queue that (its job queue is not answering); try again shortly."
FORGED = "That button no longer matches a deal you can see; run `/deal show ID` again."
MODAL_DOWN = "Slack did not open the form ({reason}); try again in a moment."
NO_PIPELINE = "Your company has no active pipeline yet: create one in the CRM first."
LIST_NEXT = "Next 10"
LIST_PREVIOUS = "Previous 10"
VIEW = "View"


def unknown(sub: str, suggestion: str | None) -> str:
    hint = f" Did you mean `{suggestion}`?" if suggestion else ""
    return f"`/deal` has no command “{escape(sub, 30)}”.{hint}\n{HELP}"


def not_a_deal_id(text: str, sub: str) -> str:
    if not text:
        return USAGE[sub]
    return f"“{escape(text, 40)}” is not a deal's number or link. {USAGE[sub]}"


def not_found(deal_id: int, company_name: str) -> str:
    return f"No deal #{deal_id} in {escape(company_name)} that you can see."


def who(user: User | None) -> str:
    if user is None:
        return "nobody"
    return escape(user.get_full_name().strip() or user.email, 60)


def title(deal: Deal) -> str:
    """``#42 Acme renewal``: the deal named in a sentence."""
    return f"#{deal.pk} {escape(deal.title, 60)}"


def names(items: list[str]) -> str:
    """``A``, ``A or B``, ``A, B or C``."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} or {items[-1]}"


# -- stages ------------------------------------------------------------------------------------


def stage_unknown(text: str, pipeline_name: str, stages: list[DealStage]) -> str:
    listed = ", ".join(escape(s.name, 40) for s in stages)
    return f"No stage “{escape(text, 40)}” in {escape(pipeline_name)}. Its stages: {listed}."


def stage_ambiguous(text: str, candidates: list[DealStage]) -> str:
    return (
        f"“{escape(text, 40)}” could be several stages. "
        f"Did you mean {names([escape(s.name, 40) for s in candidates])}?"
    )


def stage_unmatched(
    text: str, candidates: list[DealStage], pipeline_name: str, stages: list[DealStage]
) -> str:
    if candidates:
        return stage_ambiguous(text, candidates)
    return stage_unknown(text, pipeline_name, stages)


def moved(deal: Deal, before: DealStage) -> str:
    return f"Moved {title(deal)} from {escape(before.name)} to {escape(deal.stage.name)}."


def same_stage(deal: Deal) -> str:
    return f"{title(deal)} is already in {escape(deal.stage.name)}; nothing changed."


def closing_stage(deal: Deal, stage: DealStage, *, won: bool) -> str:
    how = f"`/deal won {deal.pk}`" if won else f"`/deal lost {deal.pk} REASON`"
    return (
        f"{escape(stage.name)} is where {'won' if won else 'lost'} deals go: "
        f"use {how} (or the card's {'Won' if won else 'Lost'} button) to close {title(deal)}."
    )


def closed(deal: Deal) -> str:
    return (
        f"{title(deal)} is closed ({deal.get_status_display().lower()}), and the hub does not "
        "reopen closed deals from Slack: reopen it in the CRM first."
    )


# -- won, lost, assign, note -------------------------------------------------------------------


def won(deal: Deal) -> str:
    return f":tada: {title(deal)} is won: {money(deal.value, deal.currency)}."


def already_won(deal: Deal) -> str:
    return f"{title(deal)} is won already; nothing changed."


def lost(deal: Deal) -> str:
    return f"{title(deal)} is marked lost: {escape(deal.lost_reason or '', 200)}"


def already_lost(deal: Deal) -> str:
    return f"{title(deal)} is lost already; nothing changed."


LOST_REASON_NEEDED = "Say why the deal was lost."
LOST_REASON_MAX = 2000


def lost_reason_too_long(length: int) -> str:
    return f"Keep the reason under {LOST_REASON_MAX:,} characters ({length:,} given)."


def assigned(deal: Deal) -> str:
    return f"{title(deal)} is now assigned to {who(deal.assigned_to)}."


def already_assigned(deal: Deal) -> str:
    return f"{title(deal)} is assigned to {who(deal.assigned_to)} already; nothing changed."


def assigning(deal: Deal, slack_user_id: str) -> str:
    return f"Assigning {title(deal)} to <@{slack_user_id}>…"


def assignee_unknown(text: str, company_name: str) -> str:
    return (
        f"No active member of {escape(company_name)} matches “{escape(text, 40)}”. "
        f"{USAGE['assign']}"
    )


def assignee_ambiguous(text: str, candidates: list[User]) -> str:
    return (
        f"“{escape(text, 40)}” could be several members. "
        f"Did you mean {names([who(u) for u in candidates])}?"
    )


def assignee_unmatched(text: str, candidates: list[User], company_name: str) -> str:
    if candidates:
        return assignee_ambiguous(text, candidates)
    return assignee_unknown(text, company_name)


def assignee_unlinked(slack_user_id: str, company_name: str) -> str:
    return (
        f"<@{slack_user_id}> cannot be given deals: the hub found no active member of "
        f"{escape(company_name)} with their Slack e-mail address."
    )


def assignee_lookup_failed(slack_user_id: str) -> str:
    return f"The hub could not look <@{slack_user_id}> up in Slack; try again in a moment."


def note_added(deal: Deal) -> str:
    return f"Note added to {title(deal)}."


def note_refused(reason: str) -> str:
    return f"The note was not added: {escape(reason, 200)}"


# -- new deal ----------------------------------------------------------------------------------


def created(deal: Deal, by: User) -> str:
    return f"{who(by)} created {title(deal)}."


REQUIRED = "Fill this in."


def too_long(limit: int) -> str:
    return f"At most {limit:,} characters."


BAD_VALUE = "A value is a number like 12500 or 12500.50, at least 0."
VALUE_TOO_LARGE = "That value is too large (at most 9,999,999,999.99)."
BAD_CURRENCY = "A currency is a three-letter code such as USD, EUR or GBP."
BAD_STAGE = "Pick a stage of the pipeline."
BAD_DATE = "Pick a date."
ASSIGNEE_UNLINKED = "The hub found no active member of your company with this person's e-mail."
ASSIGNEE_LOOKUP = "The hub could not look this person up in Slack; try again."


# -- lists and the pipeline --------------------------------------------------------------------


def list_heading(
    *, total: int, offset: int, shown: int, stage: DealStage | None, mine: bool, closing: bool
) -> str:
    what = "Your open deals" if mine else "Open deals"
    if stage is not None:
        what += f" in {escape(stage.name)}"
    if closing:
        what += " closing this month"
    if not total:
        return f"{what}: none."
    if total <= shown and offset == 0:
        return f"*{what}* ({total})"
    return f"*{what}*: {offset + 1}–{offset + shown} of {total}"


def list_empty_page() -> str:
    return "No more deals on that page; run `/deal list` again."


def pipeline_heading(pipeline_name: str, count: int) -> str:
    deals = "deal" if count == 1 else "deals"
    return f"*{escape(pipeline_name)}*: {count} open {deals}"


def pipeline_others(others: dict[str, Decimal]) -> str:
    amounts = ", ".join(money(amount, code) for code, amount in others.items())
    return f"Not summed in (other currencies): {amounts}."
