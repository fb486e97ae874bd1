"""What ``/lead`` says: every text a member reads about leads, in one place (what ``/deal``
says alike is worded once in ``record_messages``, for leads by ``WORDS``).

Whatever a member typed is passed through :func:`hub.bots.crm_text.escape` before it is echoed.
The layout and the turns of phrase follow ``/deal``'s (``crm_messages.py``).
"""

from __future__ import annotations

from hub.bots import record_messages as common
from hub.bots.crm_text import escape
from hub.bots.record_messages import ASSIGNEE_UNLINKED as ASSIGNEE_UNLINKED
from hub.bots.record_messages import BAD_VALUE as BAD_VALUE
from hub.bots.record_messages import HUB_ERROR as HUB_ERROR
from hub.bots.record_messages import QUEUE_DOWN as QUEUE_DOWN
from hub.bots.record_messages import REQUIRED as REQUIRED
from hub.bots.record_messages import VALUE_TOO_LARGE as VALUE_TOO_LARGE
from hub.domain.authentication.models import User
from hub.domain.crm.models import Lead, LeadStatus

HELP = common.help_text(
    "lead",
    7,
    (
        "`/lead list [STATUS|mine]`: the open leads (New, Contacted, Qualified), 10 at a time",
        "`/lead show ID`: a lead's card, with buttons to set its status, assign, convert and call",
        "`/lead assign ID @user`: give a lead to a member (`me` for yourself, `nobody` to "
        "unassign)",
        "`/lead status ID STATUS`: set a lead's status (`/lead status 7 qualified`)",
        "`/lead convert ID`: turn a lead into a deal in the default pipeline's first stage",
        "`/lead note ID TEXT`: add a note to a lead",
        "`/lead new`: a form for a new lead",
    ),
    ["show", "list"],
)

USAGE = {
    "list": (
        "Usage: `/lead list [STATUS|mine] [share]`: the open leads (New, Contacted, Qualified), "
        "10 at a time, newest first. `/lead list qualified` shows those with a status "
        "(`unqualified` and `converted` too), `/lead list mine` those assigned to you; they "
        "combine (`/lead list mine new`)."
    ),
    "show": "Usage: `/lead show ID [share]`: a lead's card, e.g. `/lead show 7`.",
    "assign": (
        "Usage: `/lead assign ID @user`: give a lead to a member of your company, e.g. "
        "`/lead assign 7 @jane`, `/lead assign 7 jane`, `/lead assign 7 me`; "
        "`/lead assign 7 nobody` unassigns it."
    ),
    "status": (
        "Usage: `/lead status ID STATUS`: New, Contacted, Qualified or Unqualified, e.g. "
        "`/lead status 7 qualified`. A lead becomes Converted with `/lead convert ID`."
    ),
    "convert": (
        "Usage: `/lead convert ID`: turn a lead into a deal in the default pipeline's first "
        "stage, e.g. `/lead convert 7`."
    ),
    "note": "Usage: `/lead note ID TEXT`: add a note to a lead, e.g. `/lead note 7 Called, keen`.",
    "new": "Usage: `/lead new`: opens a form for a new lead.",
}

ALIASES = {
    "ls": "list",
    "view": "show",
    "card": "show",
    "create": "new",
    "add": "new",
    "owner": "assign",
    "set": "status",
    "qualify": "status",
}

NO_PIPELINE = (
    "Your company has no default pipeline with stages yet, so a lead cannot become a deal: "
    "create one in the CRM first."
)


def title(lead: Lead) -> str:
    """``#7 Jane Doe``: the lead named in a sentence."""
    return f"#{lead.pk} {escape(f'{lead.first_name} {lead.last_name}'.strip(), 60)}"


def _labels(statuses: list[str]) -> str:
    return common.names([LeadStatus(value).label for value in statuses])


# -- statuses ----------------------------------------------------------------------------------


def status_unknown(text: str, candidates: list[str]) -> str:
    if candidates:
        return (
            f"“{escape(text, 40)}” could be several statuses. Did you mean {_labels(candidates)}?"
        )
    return (
        f"No lead status “{escape(text, 40)}”. The statuses: New, Contacted, Qualified, "
        "Unqualified (and Converted, which `/lead convert ID` sets)."
    )


def list_unclear(text: str, candidates: list[str]) -> str:
    return f"{status_unknown(text, candidates)} {USAGE['list']}"


def status_set(lead: Lead, before: str) -> str:
    return f"{title(lead)} is now {lead.get_status_display()} (was {LeadStatus(before).label})."


def status_same(lead: Lead) -> str:
    return f"{title(lead)} is {lead.get_status_display()} already; nothing changed."


def status_converted_refused(lead_id: int) -> str:
    return (
        "A lead becomes Converted only by converting it, which creates its deal: "
        f"`/lead convert {lead_id}`."
    )


def status_after_convert(lead: Lead) -> str:
    return (
        f"{title(lead)} was converted to deal #{lead.converted_to_deal_id}, so its status stays "
        f"Converted; carry on with `/deal show {lead.converted_to_deal_id}`."
    )


# -- convert -----------------------------------------------------------------------------------


def converted(lead: Lead, deal_id: int, stage_name: str) -> str:
    return f"{title(lead)} is converted: deal #{deal_id}, in {escape(stage_name)}."


def converted_already(lead: Lead) -> str:
    if lead.converted_to_deal_id:
        deal_id = lead.converted_to_deal_id
        return (
            f"{title(lead)} was converted already, to deal #{deal_id} (`/deal show {deal_id}`); "
            "nothing changed."
        )
    return f"{title(lead)} was converted already (its deal has since been deleted)."


def convert_refused(lead: Lead, reason: str) -> str:
    return f"{title(lead)} was not converted: {escape(reason, 200)}"


# -- new lead ----------------------------------------------------------------------------------

NEW_TITLE = "New lead"
NEW_SUBMIT = "Create"
PICK_SOURCE = "Pick where the lead came from."


def created(lead: Lead, by: User) -> str:
    return f"{common.who(by)} created lead {title(lead)}."


# -- lists -------------------------------------------------------------------------------------


def list_heading(*, total: int, offset: int, shown: int, status: str | None, mine: bool) -> str:
    kind = f"{LeadStatus(status).label.lower()} leads" if status else "open leads"
    what = f"Your {kind}" if mine else kind.capitalize()
    if total and not shown:
        return f"*{what}*: none past {offset} of {total}."
    return common.list_counted(what, total=total, offset=offset, shown=shown)


WORDS = common.Words("lead", HELP, USAGE, ALIASES, title=title, created=created)
FORGED = WORDS.forged
