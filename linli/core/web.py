"""Small pieces shared by the server-rendered surfaces (console and portal).

``SessionViews`` is the one sign-in / sign-out / elder-mode implementation; each surface subclasses it
with what differs (URL namespace, login template, who may enter and where they go). Core imports no
domain app, so the surface hands in the account services that check a password and record a logout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import auth
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_http_methods, require_POST

from .errors import DomainError, Throttled
from .middleware import client_ip

# 适老化 (U1): large text, high contrast; remembered in a cookie read by core.context_processors.
ELDER_COOKIE = "linli_elder"


def safe_next(request, fallback: str, *, prefix: str = "") -> str:
    """The ``next`` parameter if it is a local URL (under ``prefix`` when given), else ``fallback``."""
    nxt = request.POST.get("next") or request.GET.get("next") or ""
    if (
        nxt
        and nxt.startswith(prefix)
        and url_has_allowed_host_and_scheme(
            nxt, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
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


class LoginForm(forms.Form):
    username = forms.CharField(
        label=_lazy("用户名"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=_lazy("密码"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class SessionViews:
    """Login, logout and the elder-mode switch of one surface; use the ``login``, ``logout`` and
    ``elder_toggle`` attributes of an instance as views.

    A subclass sets ``namespace`` (its URLs ``<namespace>:home`` and ``<namespace>:login``),
    ``template`` (the login page), ``next_prefix`` (a ``next`` outside it is ignored), the account
    services as static methods ``sign_in(*, request_ip, username, password)`` (raises DomainError) and
    ``sign_out(*, actor)``, and implements ``destination`` and ``refusal``.
    """

    namespace: str
    template: str
    next_prefix: str = ""
    form_class: type[forms.Form] = LoginForm
    sign_in: Callable[..., Any]
    sign_out: Callable[..., Any]

    def __init__(self) -> None:
        self.login = require_http_methods(["GET", "POST"])(self.login_view)
        self.logout = require_POST(self.logout_view)
        self.elder_toggle = require_POST(self.elder_toggle_view)

    def destination(self, request: HttpRequest, account: Any) -> str | None:
        """Where ``account`` goes once signed in; None when it may not use this surface."""
        raise NotImplementedError

    def refusal(self) -> DomainError:
        """The error shown (403) to a right password of an account that may not use this surface."""
        raise NotImplementedError

    def home_url(self) -> str:
        return reverse(f"{self.namespace}:home")

    def next_url(self, request: HttpRequest, fallback: str) -> str:
        return safe_next(request, fallback, prefix=self.next_prefix)

    def login_view(self, request: HttpRequest) -> HttpResponse:
        if request.method == "GET" and (to := self.destination(request, request.user)) is not None:
            return HttpResponseRedirect(to)  # already signed in
        form = self.form_class(request.POST or None)
        error: DomainError | None = None
        status = 200
        if request.method == "POST" and form.is_valid():
            try:
                account = self.sign_in(
                    request_ip=client_ip(request),
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password"],
                )
            except Throttled as exc:
                error, status = exc, exc.status
            except DomainError as exc:
                error, status = exc, 400
            else:
                if (to := self.destination(request, account)) is not None:
                    auth.login(request, account)
                    return HttpResponseRedirect(to)
                error, status = self.refusal(), 403
        elif request.method == "POST":
            status = 400
        context = {"form": form, "error": error, "next": self.next_url(request, "")}
        return render(request, self.template, context, status=status)

    def logout_view(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            self.sign_out(actor=request.user)
        auth.logout(request)
        return HttpResponseRedirect(reverse(f"{self.namespace}:login"))

    def elder_toggle_view(self, request: HttpRequest) -> HttpResponse:
        """Switch the elder-friendly mode (large text, high contrast) on or off; remembered for a year."""
        return elder_toggle_response(request, self.next_url(request, self.home_url()))
