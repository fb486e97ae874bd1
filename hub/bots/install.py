""" "Add to Slack": ``/slack/install`` and ``/slack/oauth_redirect`` (multi-workspace OAuth).

A signed-in CEO or manager chooses which of their companies the workspace serves; the
install's ``state`` is bound to them and that company (``hub/integrations/slack/oauth.py``),
and Slack's redirect back is taken only in their session, once, within minutes.
"""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from hub.domain.authentication.models import Company, User
from hub.integrations.slack.oauth import (
    HubOAuthStateStore,
    OAuthDenied,
    OAuthError,
    OAuthExchangeError,
    slack_authorize_url,
    slack_install_companies,
    slack_installations_of,
    slack_oauth_cancel,
    slack_oauth_complete,
    slack_oauth_missing_settings,
)

INSTALL = "slack/install.html"
INSTALLED = "slack/installed.html"
#: How much of Slack's ``error`` parameter a page repeats.
ERROR_SHOWN = 80


@require_http_methods(["GET", "POST"])
def slack_install(request: HttpRequest) -> HttpResponse:
    """The "Add to Slack" page; its form sends the browser to Slack's authorize page."""
    user = request.user
    if not isinstance(user, User):
        return redirect_to_login(request.get_full_path())
    missing = slack_oauth_missing_settings()
    if missing:
        return render(request, INSTALL, {"missing": missing}, status=503)
    companies = list(slack_install_companies(user=user))
    if not companies:
        return render(request, INSTALL, {"not_allowed": True}, status=403)
    if request.method == "GET":
        return _form(request, companies)
    posted = request.POST.get("company", "").strip()
    if not posted:
        return _form(request, companies, error="Choose the company the workspace serves.")
    company = next((c for c in companies if str(c.pk) == posted), None)
    if company is None:
        return render(request, INSTALL, {"not_theirs": True}, status=403)
    state = HubOAuthStateStore(user=user, company=company).issue()
    return HttpResponseRedirect(slack_authorize_url(state=state))


def _form(request: HttpRequest, companies: list[Company], *, error: str = "") -> HttpResponse:
    installed = slack_installations_of(companies=companies)
    context = {
        "choices": [(company, installed[company.pk]) for company in companies],
        "error": error,
    }
    return render(request, INSTALL, context, status=400 if error else 200)


@require_GET
def slack_oauth_redirect(request: HttpRequest) -> HttpResponse:
    """Where Slack sends the browser back: connect the workspace, or say why not."""
    missing = slack_oauth_missing_settings()
    if missing:
        return render(request, INSTALL, {"missing": missing}, status=503)
    user = request.user
    if not isinstance(user, User):
        # Slack's code lasts ten minutes: sign in and come back with it.
        return redirect_to_login(request.get_full_path())
    state = request.GET.get("state", "")
    error = request.GET.get("error", "")
    if error:
        slack_oauth_cancel(user=user, state=state)
        if error == "access_denied":
            return render(request, INSTALLED, {"cancelled": True})
        return render(request, INSTALLED, {"failure": _slack_error(error)}, status=400)
    try:
        result = slack_oauth_complete(user=user, state=state, code=request.GET.get("code", ""))
    except OAuthError as exc:
        status = _STATUS.get(type(exc), 400)
        return render(request, INSTALLED, {"failure": str(exc)}, status=status)
    return render(request, INSTALLED, {"result": result})


_STATUS: dict[type[OAuthError], int] = {OAuthDenied: 403, OAuthExchangeError: 502}


def _slack_error(error: str) -> str:
    shown = "".join(ch for ch in error if ch.isprintable())[:ERROR_SHOWN]
    return f"Slack stopped the install ({shown}); nothing was connected."
