"""What ``/deal`` says: every text a member reads about deals, in one place (what ``/lead``
says alike is worded once in ``record_messages``, for deals by ``WORDS``).

Whatever a member typed is passed through :func:`hub.bots.crm_text.escape` before it is echoed.
"""

from __future__ import annotations

from decimal import Decimal

from hub.bots import record_messages as common
from hub.bots.crm_text import escape, money
from hub.domain.authentication.models import User
from hub.domain.crm.models import Deal, DealStage

HELP = common.help_text(
    "deal",
    42,
    (
        "`/deal list [STAGE|mine|closing this month]`: the open deals, 10 at a time",
        "`/deal show ID`: a deal's card, with buttons to move, win, lose, assign and call",
        "`/deal move ID STAGE`: move a deal to another stage (`/deal move 42 proposal`)",
        "`/deal won ID`: mark a deal won",
        "`/deal lost ID REASON`: mark a deal lost, saying why (without a reason, a form asks)",
        "`/deal assign ID @user`: give a deal to a member (`me` for yourself, `nobody` to "
        "unassign)",
        "`/deal note ID TEXT`: add a note to a deal",
        "`/deal new`: a form for a new deal",
        "`/deal pipeline`: per stage, the open deals' count, total and weighted value",
    ),
    ["show", "list", "pipeline"],
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
        "`/deal assign 42 @jane`, `/deal assign 42 jane`, `/deal assign 42 me`, "
        "`/deal assign 42 nobody`."
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

NO_PIPELINE = "Your company has no active pipeline yet: create one in the CRM first."


def title(deal: Deal) -> str:
    """``#42 Acme renewal``: the deal named in a sentence."""
    return f"#{deal.pk} {escape(deal.title, 60)}"


# -- stages ------------------------------------------------------------------------------------


def stage_unknown(text: str, pipeline_name: str, stages: list[DealStage]) -> str:
    listed = ", ".join(escape(s.name, 40) for s in stages)
    return f"No stage “{escape(text, 40)}” in {escape(pipeline_name)}. Its stages: {listed}."


def stage_ambiguous(text: str, candidates: list[DealStage]) -> str:
    return (
        f"“{escape(text, 40)}” could be several stages. "
        f"Did you mean {common.names([escape(s.name, 40) for s in candidates])}?"
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


# -- won and lost -----------------------------------------------------------------------------


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


# -- new deal ----------------------------------------------------------------------------------


def created(deal: Deal, by: User) -> str:
    return f"{common.who(by)} created {title(deal)}."


def too_long(limit: int) -> str:
    return f"At most {limit:,} characters."


BAD_CURRENCY = "A currency is a three-letter code such as USD, EUR or GBP."
BAD_STAGE = "Pick a stage of the pipeline."
BAD_DATE = "Pick a date."


# -- lists and the pipeline --------------------------------------------------------------------


def list_heading(
    *, total: int, offset: int, shown: int, stage: DealStage | None, mine: bool, closing: bool
) -> str:
    what = "Your open deals" if mine else "Open deals"
    if stage is not None:
        what += f" in {escape(stage.name)}"
    if closing:
        what += " closing this month"
    return common.list_counted(what, total=total, offset=offset, shown=shown)


def list_empty_page() -> str:
    return "No more deals on that page; run `/deal list` again."


def pipeline_heading(pipeline_name: str, count: int) -> str:
    deals = "deal" if count == 1 else "deals"
    return f"*{escape(pipeline_name)}*: {count} open {deals}"


def pipeline_others(others: dict[str, Decimal]) -> str:
    amounts = ", ".join(money(amount, code) for code, amount in others.items())
    return f"Not summed in (other currencies): {amounts}."


WORDS = common.Words("deal", HELP, USAGE, ALIASES, title=title, created=created)
