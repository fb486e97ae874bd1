"""Which companies a console page shows, and the company filter kept in its URL.

A superuser sees every company (``Viewer.every_company``); anyone else sees the companies
where they are an active member. When that is more than one, the pages name the company on
each row and offer a filter, ``?company=<id>`` in the URL, so a filtered page can be
bookmarked, shared and reloaded as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from hub.domain.authentication.models import Company
from hub.domain.events.audience import Viewer

# The query parameter of the company filter, on every live page.
COMPANY_PARAM = "company"


@dataclass(frozen=True)
class CompanyScope:
    """The companies a page may show, and the one the URL picked (``None``: all of them)."""

    companies: list[Company]
    chosen: Company | None
    # The text of ``?company=`` when it named no company of the viewer's (shown as a warning).
    refused: str | None = None

    @property
    def company_ids(self) -> list[int]:
        """The ids of the companies the page shows: the chosen one, or all of the viewer's."""
        if self.chosen is not None:
            return [self.chosen.id]
        return [c.id for c in self.companies]

    @property
    def several(self) -> bool:
        """True when the page names the company on each row and offers the filter."""
        return len(self.companies) > 1

    def shows(self, company_id: int | None) -> bool:
        return company_id in self.company_ids


def console_companies(*, viewer: Viewer) -> list[Company]:
    """The companies whose rows the viewer's console pages show, by name."""
    if viewer.is_customer:
        return []
    companies = Company.objects.order_by("company_name", "id")
    if viewer.every_company:
        return list(companies)
    return list(companies.filter(id__in=list(viewer.companies)))


def company_scope(request: HttpRequest, *, viewer: Viewer) -> CompanyScope:
    """The viewer's companies and the one ``?company=`` picks among them.

    A value that is not one of the viewer's companies picks none (the page shows all of them
    and says so), never another tenant's rows.
    """
    companies = console_companies(viewer=viewer)
    posted = request.GET.get(COMPANY_PARAM, "").strip()
    if not posted:
        return CompanyScope(companies=companies, chosen=None)
    chosen = next((c for c in companies if str(c.id) == posted), None)
    return CompanyScope(companies=companies, chosen=chosen, refused=None if chosen else posted)
