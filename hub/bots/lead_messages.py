"""What ``/lead`` says: every text a member reads about leads, in one place.

Whatever a member typed is passed through :func:`hub.bots.crm_text.escape` before it is echoed.
The layout and the turns of phrase follow ``/deal``'s (``crm_messages.py``).
"""

from __future__ import annotations

from hub.bots.crm_text import escape
from hub.domain.authentication.models import User
from hub.domain.crm.models import Lead, LeadStatus

HELP = "\n".join(
    (
        "*`/lead`: your company's leads from Slack*",
        "• `/lead list [STATUS|mine]`: the open leads (New, Contacted, Qualified), 10 at a time",
        "• `/lead show ID`: a lead's card, with buttons to set its status, assign, convert and call",
        "• `/lead assign ID @user`: give a lead to a member (`me` for yourself, `nobody` to "
        "unassign)",
        "• `/lead status ID STATUS`: set a lead's status (`/lead status 7 qualified`)",
        "• `/lead convert ID`: turn a lead into a deal in the default pipeline's first stage",
        "• `/lead note ID TEXT`: add a note to a lead",
        "• `/lead new`: a form for a new lead",
        "ID is a lead's number (`7` or `#7`) or a link to it in the console or the CRM. "
        "Answers are shown to you only; add `share` to `show` or `list` to post the answer in "
        "the channel (`/lead show 7 share`). `/lead COMMAND help` explains one command.",
    )
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

HUB_ERROR = "The hub ran into an error; nothing was changed. Try again shortly."
QUEUE_DOWN = "The hub could not queue that (its job queue is not answering); try again shortly."
FORGED = "That button no longer matches a lead you can see; run `/lead show ID` again."
MODAL_DOWN = "Slack did not open the form ({reason}); try again in a moment."
NO_PIPELINE = (
    "Your company has no default pipeline with stages yet, so a lead cannot become a deal: "
    "create one in the CRM first."
)
LIST_NEXT = "Next 10"
LIST_PREVIOUS = "Previous 10"
VIEW = "View"


def unknown(sub: str, suggestion: str | None) -> str:
    hint = f" Did you mean `{suggestion}`?" if suggestion else ""
    return f"`/lead` has no command “{escape(sub, 30)}”.{hint}\n{HELP}"


def not_a_lead_id(text: str, sub: str) -> str:
    if not text:
        return USAGE[sub]
    return f"“{escape(text, 40)}” is not a lead's number or link. {USAGE[sub]}"


def not_found(lead_id: int, company_name: str) -> str:
    return f"No lead #{lead_id} in {escape(company_name)} that you can see."


def who(user: User | None) -> str:
    if user is None:
        return "nobody"
    return escape(user.get_full_name().strip() or user.email, 60)


def title(lead: Lead) -> str:
    """``#7 Jane Doe``: the lead named in a sentence."""
    return f"#{lead.pk} {escape(f'{lead.first_name} {lead.last_name}'.strip(), 60)}"


def names(items: list[str]) -> str:
    """``A``, ``A or B``, ``A, B or C``."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} or {items[-1]}"


def _labels(statuses: list[str]) -> str:
    return names([LeadStatus(value).label for value in statuses])


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


# -- assign, convert, note ---------------------------------------------------------------------


def assigned(lead: Lead) -> str:
    if lead.assigned_to_id is None:
        return f"{title(lead)} is now unassigned."
    return f"{title(lead)} is now assigned to {who(lead.assigned_to)}."


def already_assigned(lead: Lead) -> str:
    return f"{title(lead)} is assigned to {who(lead.assigned_to)} already; nothing changed."


def assigning(lead: Lead, slack_user_id: str) -> str:
    return f"Assigning {title(lead)} to <@{slack_user_id}>…"


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


def assignee_unlinked(slack_user_id: str, company_name: str) -> str:
    return (
        f"<@{slack_user_id}> cannot be given leads: the hub found no active member of "
        f"{escape(company_name)} with their Slack e-mail address."
    )


def assignee_lookup_failed(slack_user_id: str) -> str:
    return f"The hub could not look <@{slack_user_id}> up in Slack; try again in a moment."


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


def note_added(lead: Lead) -> str:
    return f"Note added to {title(lead)}."


def note_refused(reason: str) -> str:
    return f"The note was not added: {escape(reason, 200)}"


# -- new lead ----------------------------------------------------------------------------------

NEW_TITLE = "New lead"
NEW_SUBMIT = "Create"


def created(lead: Lead, by: User) -> str:
    return f"{who(by)} created lead {title(lead)}."


REQUIRED = "Fill this in."
PICK_SOURCE = "Pick where the lead came from."
BAD_VALUE = "A value is a number like 12500 or 12500.50, at least 0."
VALUE_TOO_LARGE = "That value is too large (at most 9,999,999,999.99)."
ASSIGNEE_UNLINKED = "The hub found no active member of your company with this person's e-mail."
ASSIGNEE_LOOKUP = "The hub could not look this person up in Slack; try again."


# -- lists -------------------------------------------------------------------------------------


def list_heading(*, total: int, offset: int, shown: int, status: str | None, mine: bool) -> str:
    kind = f"{LeadStatus(status).label.lower()} leads" if status else "open leads"
    what = f"Your {kind}" if mine else kind.capitalize()
    if not total:
        return f"{what}: none."
    if total <= shown and offset == 0:
        return f"*{what}* ({total})"
    if not shown:
        return f"*{what}*: none past {offset} of {total}."
    return f"*{what}*: {offset + 1}–{offset + shown} of {total}"
