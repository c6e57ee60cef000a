"""Resident portal: report a problem, follow my cases, rate and reopen (/portal/cases/, C1 C4).

A resident sees only the cases they reported themselves (everything else is a 404, as in the API);
the timeline shown here is the public one — no staff names, no internal notes.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from linli.cases import selectors as cs
from linli.cases import services as svc
from linli.cases.models import Channel, EventKind, Status
from linli.console.views_cases import MultiFileField, photo_response, sla_state, stored_photos
from linli.core.errors import DomainError, NotFound
from linli.core.pagination import paginate

from . import selectors
from .views import portal_view

PAGE_SIZE = 20
# Timeline rows a resident sees, and those whose note is public (the rest are internal instructions).
PUBLIC_KINDS = {EventKind.CREATED, EventKind.ACCEPTED, EventKind.DISPATCHED, EventKind.STARTED, EventKind.RESOLVED,
                EventKind.VERIFIED, EventKind.CLOSED, EventKind.TRANSFERRED, EventKind.REASSIGNED, EventKind.COMMENTED,
                EventKind.REOPENED, EventKind.RATED, EventKind.MERGED, EventKind.RETURNED}
PUBLIC_NOTES = {EventKind.CREATED, EventKind.RESOLVED, EventKind.CLOSED, EventKind.COMMENTED, EventKind.REOPENED, EventKind.RATED}


class ReportForm(forms.Form):
    category = forms.TypedChoiceField(label=_lazy("问题类型"), coerce=int)
    title = forms.CharField(label=_lazy("一句话说明问题"), max_length=120)
    description = forms.CharField(label=_lazy("详细描述"), widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=4000)
    where = forms.ChoiceField(label=_lazy("问题位置"), widget=forms.RadioSelect)
    lat = forms.FloatField(label=_lazy("纬度"), required=False, min_value=-90, max_value=90)
    lng = forms.FloatField(label=_lazy("经度"), required=False, min_value=-180, max_value=180)
    address = forms.CharField(label=_lazy("位置描述（如楼栋、路口）"), max_length=200, required=False)
    photos = MultiFileField(label=_lazy("照片（可选，最多9张）"), required=False)

    def __init__(self, *args, homes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [(c.pk, c.name) for c in cs.category_list() if c.parent_id is not None] or [
            (c.pk, c.name) for c in cs.category_list()]
        self.fields["where"].choices = [(f"house:{h.residency.house_id}", _("我家：%(a)s") % {"a": h.residency.house.address}) for h in homes]
        self.fields["where"].choices.append(("point", _("其他位置（填写经纬度）")))
        self.fields["where"].initial = self.fields["where"].choices[0][0]

    def clean(self):
        data = super().clean()
        if data.get("where") == "point" and (data.get("lat") is None or data.get("lng") is None):
            raise forms.ValidationError(_("选择“其他位置”时请填写经纬度"))
        return data


@require_GET
@portal_view
def cases_home(request):
    rows, next_cursor = paginate(cs.my_reported_cases(actor=request.user), cursor=request.GET.get("cursor") or None,
                                 limit=PAGE_SIZE, order="-id")
    return render(request, "portal/cases/home.html", {"rows": rows, "next_cursor": next_cursor,
                                                     "is_first_page": not request.GET.get("cursor")})


@require_http_methods(["GET", "POST"])
@portal_view
def case_new(request):
    actor = request.user
    homes = selectors.my_homes(actor)
    form = ReportForm(request.POST or None, request.FILES or None, homes=homes)
    ctx: dict = {"form": form}
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        house_id = int(d["where"].split(":", 1)[1]) if d["where"].startswith("house:") else None
        try:
            house = cs.ref_house(house_id) if house_id else None
            if house_id and house_id not in {h.residency.house_id for h in homes}:
                raise NotFound("place.house_not_found")
            with stored_photos(request.FILES.getlist("photos"), prefix="cases/portal") as photos:
                case = svc.case_report(
                    actor=actor, channel=Channel.PORTAL, category=cs.category_get(category_id=d["category"]), title=d["title"],
                    description=d["description"], house=house, lat=None if house else d["lat"], lng=None if house else d["lng"],
                    address=d["address"], photos=photos,
                )
        except DomainError as exc:
            ctx["error"] = exc
            return render(request, "portal/cases/new.html", ctx, status=exc.status)
        messages.success(request, _("已提交，工单号 %(n)s。我们会尽快处理。") % {"n": case.number})
        return HttpResponseRedirect(reverse("portal:cases_case", args=[case.pk]))
    return render(request, "portal/cases/new.html", ctx, status=422 if request.method == "POST" else 200)


def _my_case(request, case_id: int):
    case = cs.case_get(actor=request.user, case_id=case_id)
    if not svc.is_reporter(request.user, case):
        raise NotFound("case.not_found")
    return case


def _case_page(request, case, *, error=None, status=200):
    events = [e for e in cs.case_timeline(case=case) if e.kind in PUBLIC_KINDS]
    for e in events:
        e.public_note = e.note if e.kind in PUBLIC_NOTES else ""
    closed = case.status == Status.CLOSED
    can_reopen = closed and case.closed_at is not None and timezone.now() <= case.closed_at + svc.reopen_window()
    return render(request, "portal/cases/case.html", {
        "case": case, "events": events, "sla": sla_state(case), "error": error,
        "can_rate": closed and not cs.case_rated(case=case), "can_reopen": can_reopen,
        "can_comment": case.status != Status.MERGED, "reopen_days": svc.reopen_window().days,
        "photo_base": reverse("portal:cases_photo", args=[case.pk]),
    }, status=status)


@require_GET
@portal_view
def case_detail(request, case_id: int):
    try:
        case = _my_case(request, case_id)
    except NotFound as exc:
        raise Http404 from exc
    return _case_page(request, case)


@require_GET
@portal_view
def case_photo(request, case_id: int):
    try:
        case = _my_case(request, case_id)
    except NotFound as exc:
        raise Http404 from exc
    return photo_response(case, request.GET.get("ref", ""))


@require_POST
@portal_view
def case_act(request, case_id: int, action: str):
    try:
        case = _my_case(request, case_id)
    except NotFound as exc:
        raise Http404 from exc
    actor, p = request.user, request.POST
    try:
        if action == "comment":
            with stored_photos(request.FILES.getlist("photos"), prefix="cases/portal") as photos:
                svc.case_comment(actor=actor, case=case, note=p.get("note", ""), photos=photos)
            messages.success(request, _("留言已发送"))
        elif action == "rate":
            score = int(p["score"]) if p.get("score", "").isdigit() else 0
            svc.case_rate(actor=actor, case=case, score=score, comment=p.get("comment", ""))
            messages.success(request, _("感谢您的评价"))
        elif action == "reopen":
            svc.case_reopen(actor=actor, case=case, note=p.get("note", ""))
            messages.success(request, _("已重新提交办理"))
        else:
            raise Http404
    except DomainError as exc:
        return _case_page(request, _my_case(request, case_id), error=exc, status=exc.status)
    return HttpResponseRedirect(reverse("portal:cases_case", args=[case.pk]))
