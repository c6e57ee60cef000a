"""Console template helpers: the main navigation (with optional entries) and small formatters."""

from __future__ import annotations

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from linli.orgs.perms import Perm
from linli.orgs.selectors import has_perm_anywhere

register = template.Library()


def url_or_none(name: str) -> str | None:
    """reverse(name), or None when no such URL is installed (optional console sections)."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


@register.simple_tag
def console_nav(request) -> list[dict]:
    user = request.user
    match = request.resolver_match
    here = match.url_name if match else ""
    items = [
        ("console:home", _("首页"), None, {"home"}),
        ("console:places", _("区域与网格"), Perm.PLACE_VIEW, {"places", "region", "locate"}),
        ("console:estates", _("小区房屋"), Perm.PLACE_VIEW, {"estates", "estate", "building", "unit", "house"}),
        ("console:people", _("人员查询"), Perm.PERSON_VIEW, {"people", "person"}),
        ("console:groups", _("特殊人群"), Perm.SPECIAL_GROUP_VIEW, {"groups", "group"}),
        ("console:cases_home", _("事件工单"), "case.view", None),
        ("console:hotline_home", _("热线坐席"), ("case.intake", "hotline.view"), None),
        ("console:patrols_home", _("网格巡查"), ("patrol.view", "patrol.perform"), None),
        ("console:iot_home", _("设备告警"), ("device.view", "alarm.view"), None),
        ("console:access_home", _("门禁访客"), ("access.view", "access.visitor_desk", "access.watch_list"), None),
        ("console:parking_home", _("停车"), "parking.view", None),
        ("console:sharing_home", _("共享车位与充电"), "parking.view", None),
        ("console:kb_home", _("知识库"), "knowledge.view", None),
        ("console:data_home", _("导入导出"), (Perm.DATA_IMPORT, Perm.DATA_EXPORT), None),
    ]
    out = []
    for name, label, perm, names in items:
        url = url_or_none(name)
        perms = (perm,) if isinstance(perm, str) else perm or ()
        if url is None or (perms and not any(has_perm_anywhere(user, p) for p in perms)):
            continue
        current = here in names if names is not None else request.path.startswith(url)
        out.append({"url": url, "label": label, "current": current})
    return out


@register.filter
def dash(value):
    """Show an em dash for empty values."""
    return "—" if value in (None, "", [], {}) else value


@register.filter
def chart_summary(chart: dict) -> str:
    """Text alternative for a chart: 'title: label value, label value'."""
    pairs = "，".join(f"{label} {value}" for label, value in zip(chart.get("labels", []), chart.get("values", []), strict=False))
    return f"{chart.get('title', '')}：{pairs}"
