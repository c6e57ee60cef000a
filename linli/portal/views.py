"""Resident H5 portal (/portal/): login, my home and household, my profile, my consents.

Mobile first, Chinese by default, elder mode, keyboard and screen-reader friendly. Every page shows
only the signed-in resident's own data (``account.person``); staff are sent to the console.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_http_methods

from linli.core.errors import DomainError
from linli.core.pii import mask_id_number, mask_phone
from linli.core.web import SessionViews
from linli.orgs import services as org_services
from linli.orgs.models import AccountKind
from linli.people import selectors as people
from linli.people import services as people_services
from linli.people.models import ETHNICITIES, ConsentPurpose

from . import selectors

BIOMETRIC = {ConsentPurpose.BIOMETRIC_FACE, ConsentPurpose.BIOMETRIC_FINGERPRINT}
PURPOSE_HELP = {
    ConsentPurpose.DATA_PROCESSING: _lazy("社区登记、服务和管理所需的基本信息（姓名、证件、联系方式、住址）。"),
    ConsentPurpose.BIOMETRIC_FACE: _lazy("用于刷脸开门等。人脸属于敏感个人信息，需要您单独同意；不同意时仍可用门卡、密码或二维码通行，随时可撤回。"),
    ConsentPurpose.BIOMETRIC_FINGERPRINT: _lazy("用于指纹开门等。指纹属于敏感个人信息，需要您单独同意；不同意时仍可用其他方式通行，随时可撤回。"),
    ConsentPurpose.LOCATION: _lazy("用于紧急求助和周边服务时获取您的位置。"),
    ConsentPurpose.HEALTH: _lazy("用于健康关怀、慢病随访和紧急救助。"),
    ConsentPurpose.MARKETING: _lazy("接收社区活动与便民服务推送。"),
}


def _is_resident(user) -> bool:
    return bool(user.is_authenticated and user.is_active and getattr(user, "kind", None) == AccountKind.RESIDENT)


def _is_staff(user) -> bool:
    return bool(user.is_authenticated and user.is_active and (user.is_superuser or getattr(user, "kind", None) == AccountKind.STAFF))



def portal_view(view):
    """Residents only: anonymous users go to the portal login, staff to the console."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if _is_staff(request.user):
            return HttpResponseRedirect(reverse("console:home"))
        if not _is_resident(request.user):
            return HttpResponseRedirect(f"{reverse('portal:login')}?next={request.path}")
        return view(request, *args, **kwargs)

    return wrapper


class PortalSession(SessionViews):
    """Residents sign in here and stay under /portal/; a staff account signing in goes to the console."""

    namespace = "portal"
    template = "portal/login.html"
    next_prefix = "/portal/"
    sign_in = staticmethod(org_services.login)
    sign_out = staticmethod(org_services.logout)

    def destination(self, request, account):
        if _is_staff(account):
            return reverse("console:home")
        return self.next_url(request, self.home_url()) if _is_resident(account) else None

    def refusal(self) -> DomainError:
        return DomainError("portal.not_resident", _("该账号不能登录居民服务。"))


_session = PortalSession()
login, logout, elder_toggle = _session.login, _session.logout, _session.elder_toggle


@require_GET
@portal_view
def home(request):
    person = people.my_person(request.user)
    homes = selectors.my_homes(request.user)
    return render(request, "portal/home.html", {"person": person, "homes": homes})


@require_GET
@portal_view
def my_home(request):
    return render(request, "portal/my_home.html", {"person": people.my_person(request.user), "homes": selectors.my_homes(request.user)})


@require_GET
@portal_view
def profile(request):
    person = people.my_person(request.user)
    ctx = {"person": person}
    if person is not None:
        ctx.update(
            id_number_masked=mask_id_number(person.id_number), phone_masked=mask_phone(person.phone),
            ethnicity=dict(ETHNICITIES).get(person.ethnicity, ""),
        )
    return render(request, "portal/profile.html", ctx)


def _consent_rows(account) -> list[dict]:
    active = {c.purpose: c for c in people.my_consents(account) if c.withdrawn_at is None}
    return [
        {"purpose": value, "label": label, "help": PURPOSE_HELP.get(value, ""), "biometric": value in BIOMETRIC,
         "consent": active.get(value)}
        for value, label in ConsentPurpose.choices
    ]


@require_http_methods(["GET", "POST"])
@portal_view
def consents(request):
    person = people.my_person(request.user)
    if request.method == "POST" and person is not None:
        purpose, action = request.POST.get("purpose", ""), request.POST.get("action", "")
        try:
            if action == "grant":
                people_services.consent_grant(actor=request.user, person=person, purpose=purpose, channel="portal")
                messages.success(request, _("已同意：%(p)s") % {"p": ConsentPurpose(purpose).label})
            elif action == "withdraw":
                people_services.consent_withdraw(actor=request.user, person=person, purpose=purpose)
                messages.success(request, _("已撤回：%(p)s") % {"p": ConsentPurpose(purpose).label})
        except (DomainError, ValueError) as exc:
            messages.error(request, exc.message if isinstance(exc, DomainError) else _("授权用途无效"))
        return HttpResponseRedirect(reverse("portal:consents"))
    return render(request, "portal/consents.html", {"person": person, "rows": _consent_rows(request.user) if person else []})
