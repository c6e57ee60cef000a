"""Console pages of the case loop (/console/cases/, C1–C4, L3): the inbox per role with filters,
SLA countdowns and a map of open cases; the case page with its timeline and the action forms the
actor may use; staff intake (hotline / patrol) with duplicate candidates; monthly league tables.

Views parse, call one selector or service, and render. Every DomainError from a service is shown
on the page in Chinese (console_view renders the rest: 404 outside scope, 403 without the role).
"""

from __future__ import annotations

import datetime as dt
import mimetypes
import uuid
from contextlib import contextmanager

from django import forms
from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from linli.cases import selectors as cs
from linli.cases import services as svc
from linli.cases.models import OPEN_STATUSES, Case, Channel, Status
from linli.cases.perms import CasePerm
from linli.core.errors import DomainError, Forbidden, Invalid
from linli.core.i18n import Msg
from linli.core.pagination import paginate
from linli.hotline import selectors as hotline_sel
from linli.orgs.selectors import has_perm_anywhere

from .access import console_view
from .filters import int_or_none

PAGE_SIZE = 50
BOXES = [("mine", _lazy("我的待办")), ("org", _lazy("本单位")), ("area", _lazy("辖区")), ("overdue", _lazy("已超时"))]
ACTION_LABELS = {
    "accept": _lazy("受理"), "dispatch": _lazy("派单"), "start": _lazy("开始处置"), "resolve": _lazy("办结"),
    "verify": _lazy("核查通过"), "close": _lazy("结案"), "return": _lazy("退回"), "reassign": _lazy("改派"),
    "transfer": _lazy("转办"), "co_handle": _lazy("增加协办"), "comment": _lazy("留言"), "escalate": _lazy("督办升级"),
    "reopen": _lazy("重开"), "rate": _lazy("回访评价"),
}
# Actions whose note is required by the service (the form marks the field required).
NOTE_REQUIRED = {"resolve", "return", "transfer", "comment", "escalate", "reopen"}
PHOTO_ACTIONS = {"dispatch", "start", "resolve", "verify", "return", "comment"}
PHOTO_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
MAX_PHOTO_BYTES = 5 * 1024 * 1024


# ---- small helpers shared with the portal ------------------------------------------------------------


def sla_state(case: Case, now: dt.datetime | None = None) -> dict:
    """Countdown of an open case: ``level`` ok / warn (past 80 %) / late, and a Chinese text."""
    if case.status not in OPEN_STATUSES:
        return {"level": "done", "text": _("不计时")}
    now = now or timezone.now()
    left = case.due_at - now
    late = left.total_seconds() < 0
    secs = abs(int(left.total_seconds()))
    days, hours, minutes = secs // 86400, secs % 86400 // 3600, secs % 3600 // 60
    span = (f"{days}天" if days else "") + (f"{hours}小时" if hours or days else "") + ("" if days else f"{minutes}分")
    if late:
        return {"level": "late", "text": _("已超时 %(span)s") % {"span": span}}
    return {"level": "warn" if now >= case.warn_at else "ok", "text": _("剩余 %(span)s") % {"span": span}}


def save_photos(files, *, prefix: str = "cases") -> list[str]:
    """Store uploaded photos (JPEG/PNG/WebP, ≤5 MB, ≤9) and return their storage references."""
    files = list(files or ())
    if len(files) > svc.MAX_PHOTOS:
        raise Invalid("case.too_many_photos", Msg("每次最多上传{n}张照片", "At most {n} photos per step"), n=svc.MAX_PHOTOS)
    refs = []
    for f in files:
        ext = PHOTO_TYPES.get(getattr(f, "content_type", ""))
        if ext is None or f.size > MAX_PHOTO_BYTES:
            raise Invalid("case.photo_invalid", Msg("照片须为 JPG/PNG/WebP 格式且不超过 5 MB", "Photos must be JPEG/PNG/WebP up to 5 MB"))
        day = timezone.localdate()
        refs.append(default_storage.save(f"{prefix}/{day:%Y/%m}/{uuid.uuid4().hex}{ext}", f))
    return refs


@contextmanager
def stored_photos(files, *, prefix: str = "cases"):
    """save_photos, removing the stored files again when the block fails (the case write rolled back)."""
    refs = save_photos(files, prefix=prefix)
    try:
        yield refs
    except BaseException:
        for ref in refs:
            default_storage.delete(ref)
        raise


def photo_refs(case: Case, events) -> set[str]:
    return {*case.photos, *(p for e in events for p in e.photos)}


def photo_response(case: Case, ref: str):
    """Stream a photo stored for this case (only references the case or its timeline hold)."""
    events = case.events.only("photos")
    if ref not in photo_refs(case, events) or ref.startswith(("http://", "https://")) or not default_storage.exists(ref):
        raise Http404
    content_type = mimetypes.guess_type(ref)[0] or "application/octet-stream"
    return FileResponse(default_storage.open(ref, "rb"), content_type=content_type)


# ---- inbox ------------------------------------------------------------------------------------------------


class FilterForm(forms.Form):
    box = forms.ChoiceField(required=False, choices=BOXES)
    status = forms.ChoiceField(label=_lazy("状态"), required=False)
    category = forms.TypedChoiceField(label=_lazy("分类"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("全部状态")), *Status.choices]
        self.fields["category"].choices = [("", _("全部分类")), *[(c.pk, c.name) for c in cs.category_list()]]


def _default_box(actor) -> str:
    if has_perm_anywhere(actor, CasePerm.ACCEPT) or has_perm_anywhere(actor, CasePerm.SUPERVISE):
        return "area"
    return "org" if actor.organisation_id else "mine"


@require_GET
@console_view
def cases_home(request):
    actor = request.user
    form = FilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    box = data.get("box") or _default_box(actor)
    qs = cs.case_inbox(actor=actor, box=box)
    if data.get("status"):
        qs = qs.filter(status=data["status"])
    if data.get("category"):
        qs = qs.filter(category_id__in=[data["category"], *cs.category_list().filter(parent_id=data["category"]).values_list("id", flat=True)])
    rows, next_cursor = paginate(qs, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE, order="-id")
    now = timezone.now()
    return render(request, "console/cases/home.html", {
        "form": form, "box": box, "boxes": BOXES,
        "rows": [{"case": c, "sla": sla_state(c, now)} for c in rows],
        "next_cursor": next_cursor, "is_first_page": not request.GET.get("cursor"),
        "can_report": has_perm_anywhere(actor, CasePerm.INTAKE),
    })


@require_GET
@console_view
def cases_map(request):
    """GeoJSON for the map: the actor's grid boundaries (not clickable) and one point per open case."""
    actor = request.user
    now = timezone.now()
    features = []
    for f in cs.case_area_boundaries(actor=actor).get("features", []):
        f = {**f, "properties": {**f.get("properties", {}), "self": True}}
        features.append(f)
    for p in cs.open_case_points(actor=actor):
        late = p["due_at"] < now
        features.append({
            "type": "Feature", "id": p["id"], "geometry": {"type": "Point", "coordinates": [p["at_lng"], p["at_lat"]]},
            "properties": {"id": p["id"], "name": f"{p['number']} {p['title']}" + (" · " + _("已超时") if late else "")
                           + (" · " + _("网格中心，约略位置") if p["approx"] else ""), "status": p["status"], "late": late, "approx": p["approx"]},
        })
    return JsonResponse({"type": "FeatureCollection", "features": features})


# ---- one case ---------------------------------------------------------------------------------------------


def _may(actor, case: Case, action: str) -> bool:
    try:
        svc.check_action(actor, case, action)
    except DomainError:
        return False
    return True


def _case_context(request, case: Case, **extra) -> dict:
    actor = request.user
    events = cs.case_timeline(case=case)
    labels = dict(Status.choices)
    for e in events:
        e.to_label = labels.get(e.to_status, e.to_status)
    actions = [a for a in svc.allowed_actions(case.status) if a != "merge" and a in ACTION_LABELS and _may(actor, case, a)]
    needs_orgs = {"dispatch", "reassign", "transfer", "co_handle"} & set(actions)
    ctx = {
        "case": case, "sla": sla_state(case), "events": events, "co_handlers": cs.case_co_handlers(case=case),
        "actions": [{"name": a, "label": ACTION_LABELS[a], "note_required": a in NOTE_REQUIRED, "photos": a in PHOTO_ACTIONS}
                    for a in actions],
        "organisations": cs.organisation_choices() if needs_orgs else [],
        "handlers": cs.handler_choices(case=case) if {"dispatch", "reassign"} & set(actions) else [],
        "duplicates": [], "can_merge": False, "rated": case.status == Status.CLOSED and cs.case_rated(case=case),
        "photo_base": reverse("console:cases_photo", args=[case.pk]),
    }
    if case.status in (Status.REPORTED, Status.ACCEPTED):
        ctx["duplicates"] = [{"case": c, "distance": round(d)} for c, d in cs.case_duplicates(actor=actor, case=case)]
        ctx["can_merge"] = bool(ctx["duplicates"]) and _may(actor, case, "merge")
    ctx["hotline_call"] = _hotline_call(actor, case)
    ctx.update(extra)
    return ctx


def _hotline_call(actor, case: Case):
    """The incoming call a hotline case came from, for the 回拨/回访 link — when the actor is an agent who may see it."""
    if case.channel != Channel.HOTLINE or not has_perm_anywhere(actor, CasePerm.INTAKE):
        return None
    try:
        return hotline_sel.case_call(actor=actor, case_id=case.pk)
    except DomainError:
        return None


@require_GET
@console_view
def case_detail(request, case_id: int):
    case = cs.case_get(actor=request.user, case_id=case_id)
    return render(request, "console/cases/case.html", _case_context(request, case))


@require_GET
@console_view
def case_photo(request, case_id: int):
    case = cs.case_get(actor=request.user, case_id=case_id)
    return photo_response(case, request.GET.get("ref", ""))


def _run_action(request, case: Case, action: str, photos: list[str]):
    actor, p = request.user, request.POST
    note = p.get("note", "").strip()
    org = cs.ref_organisation(int_or_none(p.get("organisation")))
    account = cs.ref_account(int_or_none(p.get("account")))
    match action:
        case "accept":
            return svc.case_accept(actor=actor, case=case, note=note)
        case "dispatch":
            return svc.case_dispatch(actor=actor, case=case, to=org, account=account, note=note, photos=photos)
        case "start":
            return svc.case_start(actor=actor, case=case, note=note, photos=photos)
        case "resolve":
            return svc.case_resolve(actor=actor, case=case, note=note, photos=photos)
        case "verify":
            return svc.case_verify(actor=actor, case=case, note=note, photos=photos)
        case "close":
            return svc.case_close(actor=actor, case=case, note=note)
        case "return":
            return svc.case_return(actor=actor, case=case, note=note, photos=photos)
        case "reassign":
            if org is None:
                raise Invalid("case.org_required", Msg("请选择责任单位", "Choose an organisation"))
            return svc.case_reassign(actor=actor, case=case, to=org, account=account, note=note)
        case "transfer":
            if org is None:
                raise Invalid("case.org_required", Msg("请选择责任单位", "Choose an organisation"))
            return svc.case_transfer(actor=actor, case=case, to=org, note=note)
        case "co_handle":
            orgs = [cs.ref_organisation(i) for i in (int_or_none(v) for v in p.getlist("organisations")) if i]
            return svc.case_co_handle(actor=actor, case=case, organisations=orgs, note=note)
        case "comment":
            return svc.case_comment(actor=actor, case=case, note=note, photos=photos)
        case "escalate":
            return svc.case_escalate(actor=actor, case=case, note=note)
        case "reopen":
            return svc.case_reopen(actor=actor, case=case, note=note)
        case "rate":
            return svc.case_rate(actor=actor, case=case, score=int_or_none(p.get("score")) or 0, comment=p.get("comment", ""))
        case "merge":
            into = cs.ref_case(actor, int_or_none(p.get("into")) or 0)
            return svc.case_merge(actor=actor, case=case, into=into, note=note)
    raise Http404


@require_POST
@console_view
def case_act(request, case_id: int, action: str):
    case = cs.case_get(actor=request.user, case_id=case_id)
    if action not in svc.ACTIONS:
        raise Http404
    try:
        with stored_photos(request.FILES.getlist("photos") if action in PHOTO_ACTIONS else []) as photos:
            _run_action(request, case, action, photos)
    except DomainError as exc:
        if exc.status == 404 and action not in ("dispatch", "reassign", "transfer", "co_handle", "merge"):
            raise
        case = cs.case_get(actor=request.user, case_id=case_id)
        ctx = _case_context(request, case, action_error=exc, failed_action=action, posted=request.POST)
        return render(request, "console/cases/case.html", ctx, status=exc.status)
    messages.success(request, _("已%(action)s") % {"action": ACTION_LABELS.get(action, _("合并"))})
    return HttpResponseRedirect(reverse("console:cases_case", args=[case.pk]))


# ---- staff intake (hotline, patrol, kiosk) ------------------------------------------------------------------

class MultiFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultiFileField(forms.FileField):
    """Several files in one input (photos); the view stores them with save_photos."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultiFileInput(attrs={"accept": ",".join(PHOTO_TYPES)}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, (list, tuple)):
            return [super(MultiFileField, self).clean(d, initial) for d in data]
        return super().clean(data, initial)


STAFF_CHANNELS = [(Channel.HOTLINE, Channel.HOTLINE.label), (Channel.PATROL, Channel.PATROL.label), (Channel.KIOSK, Channel.KIOSK.label)]


class ReportForm(forms.Form):
    channel = forms.ChoiceField(label=_lazy("来源渠道"), choices=STAFF_CHANNELS)
    category = forms.TypedChoiceField(label=_lazy("事件分类"), coerce=int)
    title = forms.CharField(label=_lazy("标题"), max_length=120)
    description = forms.CharField(label=_lazy("问题描述"), widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=4000)
    lat = forms.FloatField(label=_lazy("纬度"), required=False, min_value=-90, max_value=90)
    lng = forms.FloatField(label=_lazy("经度"), required=False, min_value=-180, max_value=180)
    region = forms.TypedChoiceField(label=_lazy("或选择社区/网格（无法提供经纬度时）"), required=False, coerce=int, empty_value=None)
    address = forms.CharField(label=_lazy("地址"), max_length=200, required=False)
    reporter_contact = forms.CharField(label=_lazy("来电/联系电话"), max_length=120, required=False)
    photos = MultiFileField(label=_lazy("现场照片（可多选，JPG/PNG/WebP）"), required=False)
    confirm_new = forms.BooleanField(label=_lazy("不是同一问题，仍然新建工单"), required=False)

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [(c.pk, c.name) for c in cs.category_list()]
        self.fields["region"].choices = [("", "—"), *[(r.pk, ("　" if r.level == "grid" else "") + r.name) for r in cs.intake_regions(actor=actor)]]

    def clean(self):
        data = super().clean()
        if (data.get("lat") is None) != (data.get("lng") is None):
            raise forms.ValidationError(_("经纬度须同时填写"))
        if data.get("lat") is None and data.get("region") is None:
            raise forms.ValidationError(_("请填写事件位置的经纬度，或选择所在社区/网格"))
        return data


@require_http_methods(["GET", "POST"])
@console_view
def case_new(request):
    actor = request.user
    if not has_perm_anywhere(actor, CasePerm.INTAKE):
        raise Forbidden("permission.denied", Msg("没有登记事件的权限（{perm}）", "You may not file cases ({perm})"), perm=CasePerm.INTAKE)
    form = ReportForm(request.POST or None, request.FILES or None, actor=actor)
    ctx: dict = {"form": form, "duplicates": []}
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            category = cs.category_get(category_id=d["category"])
            if not d["confirm_new"] and d["lat"] is not None:
                found = cs.duplicates_near(actor=actor, category_id=category.pk, lat=d["lat"], lng=d["lng"])
                ctx["duplicates"] = [{"case": c, "distance": round(dist)} for c, dist in found]
            if not ctx["duplicates"]:
                with stored_photos(request.FILES.getlist("photos")) as photos:
                    case = svc.case_report(
                        actor=actor, channel=d["channel"], category=category, title=d["title"], description=d["description"],
                        lat=d["lat"], lng=d["lng"], region=cs.ref_region(d["region"]), address=d["address"],
                        reporter_contact=d["reporter_contact"], photos=photos,
                    )
                messages.success(request, _("已登记工单 %(number)s") % {"number": case.number})
                return HttpResponseRedirect(reverse("console:cases_case", args=[case.pk]))
        except DomainError as exc:
            ctx["error"] = exc
            return render(request, "console/cases/new.html", ctx, status=exc.status)
    status = 422 if request.method == "POST" and not form.is_valid() else 200
    return render(request, "console/cases/new.html", ctx, status=status)


# ---- league tables (C4) ---------------------------------------------------------------------------------------


def _month(value: str | None) -> dt.date:
    today = timezone.localdate()
    try:
        y, m = (int(x) for x in (value or "").split("-"))
        return dt.date(y, m, 1)
    except (TypeError, ValueError):
        return today.replace(day=1)


@require_GET
@console_view
def cases_league(request):
    actor = request.user
    month = _month(request.GET.get("month"))
    by = request.GET.get("by") if request.GET.get("by") in cs.LEAGUE_BY else "org"
    rows = cs.league_table(actor=actor, month=month, by=by)
    chart = {
        "kind": "bar", "title": _("满意度（平均分）"),
        "labels": [r["name"] for r in rows[:20]], "values": [r["satisfaction"] or 0 for r in rows[:20]],
    }
    prev = (month - dt.timedelta(days=1)).replace(day=1)
    nxt = (month + dt.timedelta(days=32)).replace(day=1)
    return render(request, "console/cases/league.html", {
        "rows": rows, "month": month, "by": by, "chart": chart,
        "prev": f"{prev:%Y-%m}", "next": f"{nxt:%Y-%m}" if nxt <= timezone.localdate() else None,
    })

