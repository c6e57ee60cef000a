"""Console pages of the service hotline (/console/hotline/, L1).

The agent screen of one call: left, who is calling (persons registered with the number, masked,
their homes and case history — each lookup audited); middle, knowledge search as you type with
"用此答复" recording the article; right, one case form (category, description, house or map point,
photos) that stops on open cases of the same category nearby; below, end the call with an outcome.
Plus the call records (filters incl. 来电/去电, cursor pages) and the call page, where an agent records a
callback (回拨) or the satisfaction follow-up of the closed case (回访) — htmx form, number masked; the
existing audited reveal shows the full number to holders of person.reveal.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from linli.cases import selectors as cs
from linli.cases.models import Status as CaseStatus
from linli.cases.perms import CasePerm
from linli.core.errors import Conflict, DomainError, Forbidden
from linli.core.i18n import Msg
from linli.core.pagination import paginate
from linli.hotline import presenters as pr
from linli.hotline import selectors as sel
from linli.hotline import services as svc
from linli.hotline.models import CallbackResult, CallCategory, Direction, Outcome
from linli.hotline.perms import HotlinePerm
from linli.orgs.selectors import has_perm_anywhere

from .access import console_view, is_htmx
from .filters import int_or_none, search_text
from .views_cases import MultiFileField, stored_photos

PAGE_SIZE = 50


def _check_agent(actor) -> None:
    if not has_perm_anywhere(actor, CasePerm.INTAKE):
        raise Forbidden("permission.denied", Msg("没有受理热线的权限（{perm}）", "You may not take hotline calls ({perm})"), perm=CasePerm.INTAKE)


# ---- forms ----------------------------------------------------------------------------------------------


class IncomingForm(forms.Form):
    caller = forms.CharField(label=_lazy("来电号码"), max_length=40, required=False)
    cti_id = forms.CharField(label=_lazy("话务系统呼叫编号"), max_length=64, required=False, widget=forms.HiddenInput)


class CaseForm(forms.Form):
    category = forms.TypedChoiceField(label=_lazy("事件分类"), coerce=int)
    title = forms.CharField(label=_lazy("标题"), max_length=120)
    description = forms.CharField(label=_lazy("问题描述"), widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=4000)
    house = forms.TypedChoiceField(label=_lazy("来电人房屋"), required=False, coerce=int, empty_value=None)
    lat = forms.FloatField(label=_lazy("纬度"), required=False, min_value=-90, max_value=90)
    lng = forms.FloatField(label=_lazy("经度"), required=False, min_value=-180, max_value=180)
    region = forms.TypedChoiceField(label=_lazy("或选择社区/网格"), required=False, coerce=int, empty_value=None)
    address = forms.CharField(label=_lazy("地址"), max_length=200, required=False)
    person = forms.TypedChoiceField(label=_lazy("报告人"), required=False, coerce=int, empty_value=None)
    photos = MultiFileField(label=_lazy("照片（可选，可多选）"), required=False)
    confirm_new = forms.BooleanField(label=_lazy("不是同一问题，仍然新建工单"), required=False)

    def __init__(self, *args, actor, houses, matches, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [(c.pk, c.name) for c in cs.category_list()]
        self.fields["house"].choices = [("", "—"), *[(h.pk, h.address) for h in houses]]
        self.fields["region"].choices = [("", "—"), *[(r.pk, ("　" if r.level == "grid" else "") + r.name) for r in cs.intake_regions(actor=actor)]]
        self.fields["person"].choices = [("", _("未确认/匿名")), *[(m["person_id"], m["name_masked"]) for m in matches]]

    def clean(self):
        data = super().clean()
        if (data.get("lat") is None) != (data.get("lng") is None):
            raise forms.ValidationError(_("经纬度须同时填写"))
        if data.get("house") is None and data.get("lat") is None and data.get("region") is None:
            raise forms.ValidationError(_("请选择来电人的房屋、在地图上选点，或选择所在社区/网格"))
        return data


class EndForm(forms.Form):
    outcome = forms.ChoiceField(label=_lazy("处理结果"), choices=Outcome.choices)
    category = forms.ChoiceField(label=_lazy("诉求类型"), choices=[("", "—"), *CallCategory.choices], required=False)
    notes = forms.CharField(label=_lazy("通话记录"), widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=svc.MAX_NOTES)


SCORES = [("", _lazy("未评分")), (5, _lazy("5 非常满意")), (4, _lazy("4 满意")), (3, _lazy("3 一般")), (2, _lazy("2 不满意")),
          (1, _lazy("1 非常不满意"))]


class CallbackForm(forms.Form):
    result = forms.ChoiceField(label=_lazy("回拨结果"), choices=CallbackResult.choices)
    notes = forms.CharField(label=_lazy("回拨记录"), widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=svc.MAX_NOTES)
    follow_up = forms.BooleanField(label=_lazy("满意度回访（记入工单时间线）"), required=False)
    score = forms.TypedChoiceField(label=_lazy("满意度"), required=False, coerce=int, empty_value=None, choices=SCORES)


class FilterForm(forms.Form):
    date_from = forms.DateField(label=_lazy("开始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_lazy("结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    agent = forms.TypedChoiceField(label=_lazy("坐席"), required=False, coerce=int, empty_value=None)
    outcome = forms.ChoiceField(label=_lazy("处理结果"), required=False, choices=[("", _lazy("全部")), *Outcome.choices])
    direction = forms.ChoiceField(label=_lazy("方向"), required=False, choices=[("", _lazy("全部")), *Direction.choices])

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].choices = [("", _("全部")), *[(a.pk, a.display_name or a.username) for a in sel.call_agents(actor=actor)]]


# ---- home: take a call ---------------------------------------------------------------------------------------


@require_GET
@console_view
def hotline_home(request):
    """Number input; ``?caller=…&cti_id=…`` from a CTI screen pop pre-fills it (one click to answer)."""
    actor = request.user
    if not has_perm_anywhere(actor, CasePerm.INTAKE) and has_perm_anywhere(actor, HotlinePerm.VIEW):
        return HttpResponseRedirect(reverse("console:hotline_calls"))  # supervisors: the call records
    _check_agent(actor)
    form = IncomingForm(initial={"caller": request.GET.get("caller", "")[:40], "cti_id": request.GET.get("cti_id", "")[:64]})
    return render(request, "console/hotline/home.html", {
        "form": form, "open_calls": sel.my_open_calls(actor=actor),
    })


@require_POST
@console_view
def call_new(request):
    actor = request.user
    _check_agent(actor)
    form = IncomingForm(request.POST)
    if not form.is_valid():
        return render(request, "console/hotline/home.html", {"form": form, "open_calls": sel.my_open_calls(actor=actor)}, status=422)
    try:
        call = svc.call_incoming(actor=actor, caller=form.cleaned_data["caller"], external_id=form.cleaned_data["cti_id"])
    except DomainError as exc:
        return render(request, "console/hotline/home.html", {"form": form, "open_calls": sel.my_open_calls(actor=actor), "error": exc},
                      status=exc.status)
    return _back(call)


# ---- one call: the agent screen or the record ---------------------------------------------------------------


def _back(call) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("console:hotline_call", args=[call.pk]))


def _screen(request, call, *, lookup=None, case_form=None, end_form=None, duplicates=None, error=None, status=200):
    actor = request.user
    lookup = lookup or sel.caller_lookup(actor=actor, call=call)
    q = search_text(request.GET)
    shown = pr.lookup_out(lookup)
    houses = sel.caller_houses(lookup)
    matches = shown["matches"]
    initial = {"person": call.person_id or (matches[0]["person_id"] if len(matches) == 1 else None),
               "house": houses[0].pk if len(houses) == 1 else None}
    case_form = case_form or CaseForm(actor=actor, houses=houses, matches=matches, initial=initial)
    ctx = {
        "call": call, "lookup": shown, "used": sel.call_articles(call=call), "case_form": case_form,
        "end_form": end_form or EndForm(initial={"outcome": Outcome.CASE_OPENED if call.case_id else Outcome.KB_ANSWER}),
        "duplicates": duplicates or [], "error": error, "q": q, "hits": sel.knowledge_search(actor=actor, q=q),
    }
    return render(request, "console/hotline/screen.html", ctx, status=status)


@require_GET
@console_view
def call_detail(request, call_id: int):
    actor = request.user
    call = sel.call_get(actor=actor, call_id=call_id)
    if call.is_open and call.agent_id == actor.pk:
        _check_agent(actor)
        return _screen(request, call)
    return _call_page(request, call)


def _call_page(request, call, *, status=200, **callback_kw):
    """The record of a call (read-only facts, articles used) with its callback section."""
    return render(request, "console/hotline/call.html", {"used": sel.call_articles(call=call), "row": pr.call_out(call),
                                                          **_callbacks(request, call, **callback_kw)}, status=status)


def _callbacks(request, call, *, form=None, error=None, recorded=None) -> dict:
    """The callback section of the call page: earlier callbacks, and the form when the actor may call back
    (the follow-up fields only while the call's case is closed)."""
    actor = request.user
    can, blocked = True, None
    try:
        svc.check_callback(actor, call)
        svc.check_callback_possible(call)
    except Conflict as exc:
        can, blocked = False, exc
    except DomainError:
        can = False
    can_follow_up = can and call.case_id is not None and call.case.status == CaseStatus.CLOSED
    return {"call": call, "callbacks": sel.call_callbacks(actor=actor, call=call), "can_call_back": can, "callback_blocked": blocked,
            "can_follow_up": can_follow_up, "callback_form": form or CallbackForm(initial={"follow_up": can_follow_up}),
            "callback_error": error, "recorded": recorded}


@require_GET
@console_view
def call_kb(request, call_id: int):
    """htmx: knowledge search results for the middle column, each with a 用此答复 button."""
    actor = request.user
    call = sel.call_get(actor=actor, call_id=call_id)
    q = search_text(request.GET)
    if not is_htmx(request):  # without JavaScript the screen itself shows the results
        return HttpResponseRedirect(reverse("console:hotline_call", args=[call.pk]) + "?" + urlencode({"q": q}))
    return render(request, "console/hotline/_kb_results.html", {"call": call, "q": q, "hits": sel.knowledge_search(actor=actor, q=q)})


@require_POST
@console_view
def call_answer(request, call_id: int):
    actor = request.user
    call = sel.call_get(actor=actor, call_id=call_id)
    article = sel.article_for_call(actor=actor, article_id=int_or_none(request.POST.get("article")) or 0)
    svc.call_answer_from_kb(actor=actor, call=call, article=article)
    if is_htmx(request):
        return render(request, "console/hotline/_used.html", {"call": call, "used": sel.call_articles(call=call), "just_used": article.pk})
    messages.success(request, _("已记录答复：%(title)s") % {"title": article.title})
    return _back(call)


@require_POST
@console_view
def call_person(request, call_id: int):
    actor = request.user
    call = sel.call_get(actor=actor, call_id=call_id)
    person = cs.ref_person(actor, int_or_none(request.POST.get("person")))
    svc.call_link_person(actor=actor, call=call, person=person)
    return _back(call)


@require_http_methods(["POST"])
@console_view
def call_case(request, call_id: int):
    actor = request.user
    call = sel.call_get(actor=actor, call_id=call_id)
    svc.check_handle(actor, call)
    lookup = sel.caller_lookup(actor=actor, call=call)
    form = CaseForm(request.POST, request.FILES, actor=actor, houses=sel.caller_houses(lookup),
                    matches=pr.lookup_out(lookup)["matches"])
    if not form.is_valid():
        return _screen(request, call, lookup=lookup, case_form=form, status=422)
    d = form.cleaned_data
    try:
        kw = {"actor": actor, "call": call, "category": cs.category_get(category_id=d["category"]), "title": d["title"],
              "description": d["description"], "house": cs.ref_house(d["house"]), "lat": d["lat"], "lng": d["lng"],
              "region": cs.ref_region(d["region"]), "address": d["address"], "person": cs.ref_person(actor, d["person"]),
              "confirm_new": d["confirm_new"]}
        if not d["confirm_new"]:  # ask before storing photos: the form may stop on duplicates
            svc.duplicate_check(**{k: kw[k] for k in ("actor", "category", "house", "lat", "lng")})
        with stored_photos(request.FILES.getlist("photos"), prefix="cases") as photos:
            case = svc.call_open_case(**kw, photos=photos)
    except Conflict as exc:
        if exc.code == "hotline.possible_duplicates":
            return _screen(request, call, lookup=lookup, case_form=form, duplicates=exc.detail["candidates"], status=409)
        return _screen(request, call, lookup=lookup, case_form=form, error=exc, status=exc.status)
    except DomainError as exc:
        return _screen(request, call, lookup=lookup, case_form=form, error=exc, status=exc.status)
    messages.success(request, _("已登记工单 %(number)s，请告知来电人工单号") % {"number": case.number})
    return _back(call)


@require_POST
@console_view
def call_end(request, call_id: int):
    actor = request.user
    call = sel.call_get(actor=actor, call_id=call_id)
    form = EndForm(request.POST)
    if not form.is_valid():
        svc.check_handle(actor, call)
        return _screen(request, call, end_form=form, status=422)
    d = form.cleaned_data
    try:
        svc.call_end(actor=actor, call=call, outcome=d["outcome"], notes=d["notes"], category=d["category"])
    except DomainError as exc:
        return _screen(request, call, end_form=form, error=exc, status=exc.status)
    messages.success(request, _("来电已结束"))
    return _back(call)


@require_POST
@console_view
def call_reveal(request, call_id: int):
    actor = request.user
    call = sel.call_get(actor=actor, call_id=call_id)
    number = svc.call_reveal_caller(actor=actor, call=call, purpose=request.POST.get("purpose", ""))
    return render(request, "console/hotline/_revealed.html", {"call": call, "number": number})


@require_POST
@console_view
def call_callback(request, call_id: int):
    """回拨/回访: record the callback; htmx gets the callback section back, a plain post the call page."""
    actor = request.user
    call = sel.call_get(actor=actor, call_id=call_id)
    form = CallbackForm(request.POST)
    recorded, error, status = None, None, 422
    if not form.is_valid():
        svc.check_callback(actor, call)  # 403/404 before a form error
    else:
        d = form.cleaned_data
        try:
            recorded = svc.call_callback(actor=actor, call=call, result=d["result"], notes=d["notes"], follow_up=d["follow_up"],
                                         score=d["score"])
        except DomainError as exc:
            error, status = exc, exc.status
    if not is_htmx(request):
        if recorded is None:
            return _call_page(request, call, form=form, error=error, status=status)
        messages.success(request, _("已记录回拨：%(result)s") % {"result": recorded.get_callback_result_display()})
        return _back(call)
    ctx = _callbacks(request, call, form=None if recorded else form, error=error, recorded=recorded)
    return render(request, "console/hotline/_callbacks.html", ctx, status=200 if recorded is not None else status)


# ---- call records ------------------------------------------------------------------------------------------------


@require_GET
@console_view
def call_list(request):
    actor = request.user
    if not (has_perm_anywhere(actor, HotlinePerm.VIEW) or has_perm_anywhere(actor, CasePerm.INTAKE)):
        raise Forbidden("permission.denied", Msg("没有查看来电记录的权限（{perm}）", "You may not see call records ({perm})"), perm=HotlinePerm.VIEW)
    form = FilterForm(request.GET or None, actor=actor)
    d: dict = form.cleaned_data if form.is_valid() else {}
    cursor = request.GET.get("cursor") or None
    qs = sel.call_list(actor=actor, date_from=d.get("date_from"), date_to=d.get("date_to"), agent_id=d.get("agent"),
                       outcome=d.get("outcome") or None, direction=d.get("direction") or None)
    rows, next_cursor = paginate(qs, cursor=cursor, limit=PAGE_SIZE)
    return render(request, "console/hotline/calls.html", {
        "form": form, "rows": [pr.call_out(c) for c in rows], "next_cursor": next_cursor, "is_first_page": not cursor,
    })
