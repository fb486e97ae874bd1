"""What ``/deal`` and ``/lead`` both say, worded once: the help's layout, the refusals, assigning
and notes, a list's heading and the forms' errors. :class:`Words` words them for one kind of
record; ``crm_messages`` (``/deal``) and ``lead_messages`` (``/lead``) hold the rest, and each
its ``WORDS``.

Whatever a member typed is passed through :func:`hub.bots.crm_text.escape` before it is echoed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from hub.bots.crm_text import escape
from hub.domain.authentication.models import User
from hub.domain.crm.models import Deal, Lead

#: A record ``/deal`` or ``/lead`` shows: the code they share is written for either.
R = TypeVar("R", Deal, Lead)

HUB_ERROR = "The hub ran into an error; nothing was changed. Try again shortly."
QUEUE_DOWN = "The hub could not queue that (its job queue is not answering); try again shortly."
MODAL_DOWN = "Slack did not open the form ({reason}); try again in a moment."
LIST_NEXT = "Next 10"
LIST_PREVIOUS = "Previous 10"
VIEW = "View"

# -- the forms ---------------------------------------------------------------------------------

REQUIRED = "Fill this in."
BAD_VALUE = "A value is a number like 12500 or 12500.50, at least 0."
VALUE_TOO_LARGE = "That value is too large (at most 9,999,999,999.99)."
ASSIGNEE_UNLINKED = "The hub found no active member of your company with this person's e-mail."
ASSIGNEE_LOOKUP = "The hub could not look this person up in Slack; try again."


def help_text(
    kind: Literal["deal", "lead"], example: int, commands: Iterable[str], shareable: list[str]
) -> str:
    """The help of ``/deal`` or ``/lead``: a heading, a line per command, how to name a record."""
    return "\n".join(
        (
            f"*`/{kind}`: your company's {kind}s from Slack*",
            *(f"• {line}" for line in commands),
            f"ID is a {kind}'s number (`{example}` or `#{example}`) or a link to it in the console "
            "or the CRM. Answers are shown to you only; add `share` to "
            f"{names([f'`{sub}`' for sub in shareable])} to post the answer in the channel "
            f"(`/{kind} show {example} share`). `/{kind} COMMAND help` explains one command.",
        )
    )


def who(user: User | None) -> str:
    if user is None:
        return "nobody"
    return escape(user.get_full_name().strip() or user.email, 60)


def names(items: list[str]) -> str:
    """``A``, ``A or B``, ``A, B or C``."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} or {items[-1]}"


def assignee_ambiguous(text: str, candidates: list[User]) -> str:
    return (
        f"“{escape(text, 40)}” could be several members. "
        f"Did you mean {names([who(u) for u in candidates])}?"
    )


def assignee_lookup_failed(slack_user_id: str) -> str:
    return f"The hub could not look <@{slack_user_id}> up in Slack; try again in a moment."


def note_refused(reason: str) -> str:
    return f"The note was not added: {escape(reason, 200)}"


def list_counted(what: str, *, total: int, offset: int, shown: int) -> str:
    """A list's heading: ``what`` (bold), and how many of how many are shown."""
    if not total:
        return f"{what}: none."
    if total <= shown and offset == 0:
        return f"*{what}* ({total})"
    return f"*{what}*: {offset + 1}–{offset + shown} of {total}"


@dataclass(frozen=True)
class Words(Generic[R]):
    """The sentences ``/deal`` and ``/lead`` share, about one kind of record."""

    kind: Literal["deal", "lead"]
    help: str
    usage: dict[str, str]  # by sub-command
    aliases: dict[str, str]  # another word for a sub-command → the sub-command
    title: Callable[[R], str]  # the record named in a sentence: ``#42 Acme renewal``
    created: Callable[[R, User], str]  # said with the card of a record made in the form

    @property
    def forged(self) -> str:
        return (
            f"That button no longer matches a {self.kind} you can see; "
            f"run `/{self.kind} show ID` again."
        )

    def unknown(self, sub: str, suggestion: str | None) -> str:
        hint = f" Did you mean `{suggestion}`?" if suggestion else ""
        return f"`/{self.kind}` has no command “{escape(sub, 30)}”.{hint}\n{self.help}"

    def not_an_id(self, text: str, sub: str) -> str:
        if not text:
            return self.usage[sub]
        return f"“{escape(text, 40)}” is not a {self.kind}'s number or link. {self.usage[sub]}"

    def not_found(self, record_id: int, company_name: str) -> str:
        return f"No {self.kind} #{record_id} in {escape(company_name)} that you can see."

    def assigned(self, record: R) -> str:
        if record.assigned_to_id is None:
            return f"{self.title(record)} is now unassigned."
        return f"{self.title(record)} is now assigned to {who(record.assigned_to)}."

    def already_assigned(self, record: R) -> str:
        return (
            f"{self.title(record)} is assigned to {who(record.assigned_to)} already; "
            "nothing changed."
        )

    def assigning(self, record: R, slack_user_id: str) -> str:
        return f"Assigning {self.title(record)} to <@{slack_user_id}>…"

    def assignee_unmatched(self, text: str, candidates: list[User], company_name: str) -> str:
        if candidates:
            return assignee_ambiguous(text, candidates)
        return (
            f"No active member of {escape(company_name)} matches “{escape(text, 40)}”. "
            f"{self.usage['assign']}"
        )

    def assignee_unlinked(self, slack_user_id: str, company_name: str) -> str:
        return (
            f"<@{slack_user_id}> cannot be given {self.kind}s: the hub found no active member of "
            f"{escape(company_name)} with their Slack e-mail address."
        )

    def note_added(self, record: R) -> str:
        return f"Note added to {self.title(record)}."
