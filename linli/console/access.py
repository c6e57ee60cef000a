"""Who may use the console, and how domain errors become pages (one place for every view)."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse

from linli.core.errors import DomainError, NotFound
from linli.orgs.models import AccountKind


def is_console_user(user) -> bool:
    """Staff accounts and superusers may use the console; residents and service accounts may not."""
    return bool(
        user.is_authenticated and user.is_active and (user.is_superuser or getattr(user, "kind", None) == AccountKind.STAFF)
    )


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def render_error(request, exc: DomainError) -> HttpResponse:
    template = "console/partials/error.html" if is_htmx(request) else "console/error.html"
    return render(request, template, {"error": exc, "not_found": isinstance(exc, NotFound)}, status=exc.status)


def console_view(view):
    """Require a console user (else to the login page) and render DomainError as a friendly page."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_console_user(request.user):
            login_url = reverse("console:login")
            if is_htmx(request):
                return HttpResponse(status=200, headers={"HX-Redirect": f"{login_url}?next={request.path}"})
            return redirect_to_login(request.get_full_path(), login_url)
        try:
            return view(request, *args, **kwargs)
        except DomainError as exc:
            return render_error(request, exc)

    return wrapper
