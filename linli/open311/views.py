"""Open311 GeoReport v2 (C5) at /open311/v2/ — an adapter over the case loop, no logic of its own.

Mapping: service = case category (``service_code`` = category code); service request = case
(``service_request_id`` = case number); ``status`` open/closed (closed = closed or merged into
another case); ``agency_responsible`` = responsible organisation; ``expected_datetime`` = due time.

Keys: ``api_key`` is a Linli API token of an account holding case.intake over the location (POST)
and case.view (GET requests). Unlike many public Open311 servers, reading requests needs a key:
cases carry precise whereabouts, which PIPL treats as personal data. Discovery and the service
list are public. Every response exists as ``.json`` and ``.xml``; errors use the spec's shape
(``[{"code": 400, "description": "..."}]`` / ``<errors><error>…``).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any
from xml.etree import ElementTree as ET

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from linli.cases import selectors as case_sel
from linli.cases import services as case_svc
from linli.cases.models import Case, Channel, Status
from linli.core.errors import DomainError
from linli.orgs.auth import TokenAuth

SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-23T00:00:00+08:00"
FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
CLOSED = {Status.CLOSED, Status.MERGED}
MAX_REQUESTS = 1000
DEFAULT_DAYS = 90


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


# ---- rendering -------------------------------------------------------------------------------------------


def _xml_value(parent: ET.Element, key: str, value: Any) -> None:
    el = ET.SubElement(parent, key)
    if isinstance(value, list):
        child = "value" if key == "values" else key.rstrip("s")
        for item in value:
            if isinstance(item, dict):
                sub = ET.SubElement(el, child)
                for k, v in item.items():
                    _xml_value(sub, k, v)
            else:
                ET.SubElement(el, child).text = str(item)
    elif isinstance(value, dict):
        for k, v in value.items():
            _xml_value(el, k, v)
    elif isinstance(value, bool):
        el.text = "true" if value else "false"
    elif value is not None:
        el.text = str(value)


def render(data: Any, fmt: str, *, root: str, item: str = "", status: int = 200) -> HttpResponse:
    if fmt == "json":
        body = json.dumps(data, ensure_ascii=False, default=str)
    else:
        top = ET.Element(root)
        for row in data if isinstance(data, list) else [data]:
            parent = ET.SubElement(top, item) if item else top
            for k, v in row.items():
                _xml_value(parent, k, v)
        body = '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(top, encoding="unicode")
    return HttpResponse(body, status=status, content_type=FORMATS[fmt])


def error(fmt: str, status: int, description: str) -> HttpResponse:
    return render([{"code": status, "description": description}], fmt if fmt in FORMATS else "json", root="errors", item="error",
                  status=status)


def endpoint(view):
    """Format check, jurisdiction check, and every failure rendered in the spec's error shape."""

    def wrapped(request: HttpRequest, *args: Any, fmt: str, **kwargs: Any) -> HttpResponse:
        if fmt not in FORMATS:
            return error("json", 404, "format must be json or xml")
        try:
            _check_jurisdiction(request)
            return view(request, *args, fmt=fmt, **kwargs)
        except Open311Error as exc:
            return error(fmt, exc.status, exc.description)
        except DomainError as exc:
            status = 404 if exc.status == 404 else 403 if exc.status in (401, 403) else 400
            return error(fmt, status, f"{exc.code}: {exc.message}")

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return csrf_exempt(wrapped)


def _param(request: HttpRequest, name: str) -> str:
    return (request.POST.get(name) if request.method == "POST" else None) or request.GET.get(name) or ""


def jurisdiction() -> str:
    return getattr(settings, "LINLI_OPEN311_JURISDICTION", "linli")


def _check_jurisdiction(request: HttpRequest) -> None:
    given = _param(request, "jurisdiction_id")
    if given and given != jurisdiction():
        raise Open311Error(404, f"jurisdiction_id {given!r} is not served here")


def _actor(request: HttpRequest) -> Any:
    key = _param(request, "api_key")
    if not key:
        raise Open311Error(403, "api_key is required")
    account = TokenAuth().authenticate(request, key)
    if account is None:
        raise Open311Error(403, "api_key is not valid")
    return account


def _iso(value: dt.datetime | None) -> str | None:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else None


# ---- discovery and services -----------------------------------------------------------------------------


@require_http_methods(["GET"])
@endpoint
def discovery(request: HttpRequest, *, fmt: str) -> HttpResponse:
    base = request.build_absolute_uri("/open311/v2/")
    data = {
        "changeset": CHANGESET,
        "contact": getattr(settings, "LINLI_OPEN311_CONTACT", "12345 政务服务便民热线"),
        "key_service": request.build_absolute_uri("/console/"),
        "endpoints": [{"specification": SPEC, "url": base, "changeset": CHANGESET, "type": "production",
                       "formats": ["text/xml", "application/json"]}],
    }
    if fmt == "json":
        return render(data, fmt, root="discovery")
    top = ET.Element("discovery")
    for k in ("changeset", "contact", "key_service"):
        ET.SubElement(top, k).text = data[k]
    eps = ET.SubElement(top, "endpoints")
    for ep in data["endpoints"]:
        el = ET.SubElement(eps, "endpoint")
        for k in ("specification", "url", "changeset", "type"):
            ET.SubElement(el, k).text = ep[k]
        formats = ET.SubElement(el, "formats")
        for f in ep["formats"]:
            ET.SubElement(formats, "format").text = f
    return HttpResponse('<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(top, encoding="unicode"), content_type=FORMATS["xml"])


def _service(cat: Any, groups: dict[int, str]) -> dict[str, Any]:
    return {
        "service_code": cat.code,
        "service_name": cat.name,
        "description": cat.description or cat.name,
        "metadata": False,
        "type": "realtime",
        "keywords": cat.code.replace("-", ","),
        "group": groups.get(cat.parent_id, cat.name),
    }


@require_http_methods(["GET"])
@endpoint
def services(request: HttpRequest, *, fmt: str) -> HttpResponse:
    cats = list(case_sel.category_list())
    groups = {c.pk: c.name for c in cats}
    return render([_service(c, groups) for c in cats], fmt, root="services", item="service")


def _category(code: str) -> Any:
    cat = case_sel.category_list().filter(code=code).first()
    if cat is None:
        raise Open311Error(404, f"service_code {code!r} not found")
    return cat


@require_http_methods(["GET"])
@endpoint
def service_definition(request: HttpRequest, service_code: str, *, fmt: str) -> HttpResponse:
    cat = _category(service_code)
    return render({"service_code": cat.code, "attributes": []}, fmt, root="service_definition")


# ---- requests ---------------------------------------------------------------------------------------------


def _request_out(case: Case, notes: dict[int, str]) -> dict[str, Any]:
    closed = case.status in CLOSED
    return {
        "service_request_id": case.number,
        "status": "closed" if closed else "open",
        "status_notes": notes.get(case.pk, ""),
        "service_name": case.category.name,
        "service_code": case.category.code,
        "description": case.description or case.title,
        "agency_responsible": case.assigned_org.name if case.assigned_org_id else "",
        "service_notice": "",
        "requested_datetime": _iso(case.created_at),
        "updated_datetime": _iso(case.updated_at),
        "expected_datetime": _iso(case.due_at),
        "address": case.address,
        "address_id": "",
        "zipcode": "",
        "lat": case.lat,
        "long": case.lng,
        "media_url": case.photos[0] if case.photos else "",
    }


def _status_notes(cases: list[Case]) -> dict[int, str]:
    return case_sel.case_status_notes(case_ids=[c.pk for c in cases])


def _media_url(value: str) -> list[str]:
    if not value:
        return []
    if not value.startswith(("http://", "https://")) or len(value) > 300:
        raise Open311Error(400, "media_url must be an http(s) URL")
    return [value]


def _float(request: HttpRequest, name: str) -> float | None:
    raw = _param(request, name)
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError as exc:
        raise Open311Error(400, f"{name} must be a number") from exc


def _create(request: HttpRequest, fmt: str) -> HttpResponse:
    actor = _actor(request)
    code = _param(request, "service_code")
    if not code:
        raise Open311Error(400, "service_code is required")
    cat = _category(code)
    lat, lng = _float(request, "lat"), _float(request, "long")
    if lat is None or lng is None:
        raise Open311Error(400, "a location is required: lat and long (address_string alone cannot be placed in a grid)")
    description = _param(request, "description")[:4000]
    contact = _param(request, "phone") or _param(request, "email")
    token = uuid.uuid4().hex
    case = case_svc.case_report(
        actor=actor, channel=Channel.OPEN311, category=cat, title=(description[:40] or cat.name), description=description,
        lat=lat, lng=lng, address=_param(request, "address_string")[:200], photos=_media_url(_param(request, "media_url")),
        reporter_contact=contact, external_ref=token,
    )
    out = [{"service_request_id": case.number, "token": token, "service_notice": f"已受理，工单号 {case.number}",
            "account_id": ""}]
    return render(out, fmt, root="service_requests", item="request", status=201)


def _parse_date(request: HttpRequest, name: str) -> dt.datetime | None:
    raw = _param(request, name)
    if not raw:
        return None
    value = parse_datetime(raw.replace(" ", "+"))
    if value is None:
        raise Open311Error(400, f"{name} must be a W3C/ISO 8601 date-time")
    return value if timezone.is_aware(value) else timezone.make_aware(value)


def _list(request: HttpRequest, fmt: str) -> HttpResponse:
    actor = _actor(request)
    qs = case_sel.cases_for_actor(actor).select_related("category", "assigned_org")
    ids = [i.strip() for i in _param(request, "service_request_id").split(",") if i.strip()]
    if ids:
        qs = qs.filter(number__in=ids[:MAX_REQUESTS])
    else:
        start, end = _parse_date(request, "start_date"), _parse_date(request, "end_date")
        end = end or timezone.now()
        start = start or end - dt.timedelta(days=DEFAULT_DAYS)
        if start > end:
            raise Open311Error(400, "start_date is after end_date")
        qs = qs.filter(created_at__gte=start, created_at__lte=end)
        codes = [c for c in _param(request, "service_code").split(",") if c]
        if codes:
            qs = qs.filter(category__code__in=codes)
        status = [s for s in _param(request, "status").split(",") if s]
        if set(status) - {"open", "closed"}:
            raise Open311Error(400, "status must be open or closed")
        if status == ["open"]:
            qs = qs.exclude(status__in=CLOSED)
        elif status == ["closed"]:
            qs = qs.filter(status__in=CLOSED)
    cases = list(qs.order_by("-created_at", "-id")[:MAX_REQUESTS])
    notes = _status_notes(cases)
    return render([_request_out(c, notes) for c in cases], fmt, root="service_requests", item="request")


@require_http_methods(["GET", "POST"])
@endpoint
def requests(request: HttpRequest, *, fmt: str) -> HttpResponse:
    return _create(request, fmt) if request.method == "POST" else _list(request, fmt)


@require_http_methods(["GET"])
@endpoint
def request_detail(request: HttpRequest, service_request_id: str, *, fmt: str) -> HttpResponse:
    actor = _actor(request)
    case = case_sel.case_get_by_number(actor=actor, number=service_request_id)
    return render([_request_out(case, _status_notes([case]))], fmt, root="service_requests", item="request")


@require_http_methods(["GET"])
@endpoint
def token(request: HttpRequest, token_id: str, *, fmt: str) -> HttpResponse:
    case = case_sel.case_get_by_external_ref(actor=_actor(request), channel=Channel.OPEN311, external_ref=token_id)
    return render([{"service_request_id": case.number, "token": token_id}], fmt, root="service_requests", item="request")
