"""Small pieces shared by the server-rendered surfaces (console and portal)."""

from __future__ import annotations

from django.http import HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme

# 适老化 (U1): large text, high contrast; remembered in a cookie read by core.context_processors.
ELDER_COOKIE = "linli_elder"


def safe_next(request, fallback: str, *, prefix: str = "") -> str:
    """The ``next`` parameter if it is a local URL (under ``prefix`` when given), else ``fallback``."""
    nxt = request.POST.get("next") or request.GET.get("next") or ""
    if (
        nxt
        and nxt.startswith(prefix)
        and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    ):
        return nxt
    return fallback


def elder_toggle_response(request, redirect_to: str) -> HttpResponseRedirect:
    """Switch the elder-friendly mode on or off and go back; remembered for a year."""
    response = HttpResponseRedirect(redirect_to)
    if request.COOKIES.get(ELDER_COOKIE) == "1":
        response.delete_cookie(ELDER_COOKIE, samesite="Lax")
    else:
        response.set_cookie(ELDER_COOKIE, "1", max_age=365 * 24 * 3600, samesite="Lax")
    return response
