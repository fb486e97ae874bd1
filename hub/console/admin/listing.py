"""Cells of the admin's lists that fit a 1280 px screen: cut text, short times, people by name.

A long value is cut by the stylesheet (``hub/admin/admin.css``, class ``hub-clip``) and kept
whole in the cell's ``title``, so it shows on hover. A time reads "Dec 5, 16:33" with the full
date in its ``title``. Nothing here queries: the admins select the related rows they show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.contrib import admin
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString

ADMIN_CSS = "hub/admin/admin.css"
EMPTY = "-"


class ListingMedia:
    """The admin pages' small stylesheet (a ModelAdmin's ``Media``)."""

    css = {"all": (ADMIN_CSS,)}


def clipped(text: object, *, wide: bool = False) -> SafeString | str:
    """``text`` cut to its column's width by the stylesheet, whole in the ``title``."""
    shown = "" if text is None else str(text)
    if not shown:
        return EMPTY
    css = "hub-clip hub-clip-wide" if wide else "hub-clip"
    return format_html('<span class="{}" title="{}">{}</span>', css, shown, shown)


def short_time(value: object) -> SafeString | str:
    """A time as "Dec 5, 16:33" (with the year when it is not this year's), whole in ``title``."""
    if not isinstance(value, datetime):
        return EMPTY
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    same_year = local.year == timezone.localtime().year
    shown = date_format(local, "M j, H:i" if same_year else "M j Y, H:i")
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        local.isoformat(),
        date_format(local, "l, F j, Y, H:i:s T"),
        shown,
    )


def person(user: object) -> SafeString | str:
    """A user by name (their e-mail address when they have none), name and address on hover."""
    if user is None:
        return EMPTY
    email = getattr(user, "email", "") or ""
    name = " ".join(
        part for part in (getattr(user, "first_name", ""), getattr(user, "last_name", "")) if part
    )
    whole = f"{name} <{email}>" if name and email else name or email
    return format_html('<span class="hub-clip" title="{}">{}</span>', whole, name or email)


def company_labelled(
    choices: Iterable[tuple[object, str]], companies: dict[object, str]
) -> list[tuple[object, str]]:
    """Name each choice's company ("Sales Pipeline · Northwind Traders") when they differ."""
    choices = list(choices)
    if len({companies.get(pk) for pk, _ in choices}) <= 1:
        return choices
    return [
        (pk, f"{label} · {companies[pk]}" if companies.get(pk) else label) for pk, label in choices
    ]


def _column(field: str, description: str, ordering: str, shown: Callable[[Any], object]):
    def column(obj: Any) -> object:
        return shown(obj)

    # The cell's class (``field-<name>``) and the column's identity ("company" columns).
    column.__name__ = description.replace(" ", "_")
    return admin.display(description=description, ordering=ordering or field)(column)


def clip_column(field: str, description: str = "", *, wide: bool = False, ordering: str = ""):
    """A list column of ``field`` cut to fit, whole on hover."""

    def shown(obj: Any) -> object:
        return clipped(_value(obj, field), wide=wide)

    return _column(field, description or _label(field), ordering, shown)


def time_column(field: str, description: str = ""):
    """A list column of the time ``field`` as "Dec 5, 16:33"."""
    return _column(
        field, description or _label(field), "", lambda obj: short_time(_value(obj, field))
    )


def person_column(field: str, description: str = ""):
    """A list column of the user ``field`` by name, the e-mail address on hover."""
    return _column(
        field,
        description or _label(field),
        f"{field}__first_name",
        lambda obj: person(_value(obj, field)),
    )


def _value(obj: Any, path: str) -> object:
    for name in path.split("__"):
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return obj


def _label(field: str) -> str:
    return field.rsplit("__", 1)[-1].replace("_", " ")
