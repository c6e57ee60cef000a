"""/api/v1/ngsi-ld/v1/entities — NGSI-LD export of devices, readings, streetlights, waste containers and
alerts as FIWARE Smart Data Models entities (D7), keyValues (``options=keyValues``) or normalised.

Also mounted at the older /api/v1/iot/ngsi-ld/v1/… (``mount_alias``: the same views, not in the schema).
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema

from linli.core.schemas import ERRORS

from . import ngsi_ld

router = Router()
LD_JSON = "application/ld+json"


class EntityFilter(Schema):
    type: str
    options: str | None = None
    format: str | None = None
    limit: int | None = None
    offset: int | None = None
    count: bool = False


class EntityOptions(Schema):
    options: str | None = None
    format: str | None = None


def _ld_response(request: HttpRequest, body, entity_type: str) -> HttpResponse:
    """application/ld+json (when accepted) with the @context inline; else application/json with the
    context in a Link header, as NGSI-LD asks. The core context is implicit in the Link form."""
    as_ld = LD_JSON in request.headers.get("Accept", "")
    resp = HttpResponse(json.dumps(body, ensure_ascii=False), content_type=LD_JSON if as_ld else "application/json")
    if not as_ld:
        resp["Link"] = f'<{ngsi_ld.SDM_CONTEXT[entity_type]}>; rel="http://www.w3.org/ns/json-ld#context"; type="{LD_JSON}"'
    return resp


def _key_values(options: str | None, fmt: str | None) -> bool:
    opts = {o.strip() for o in (options or "").split(",")}
    return bool({"keyValues", "simplified"} & opts) or fmt in ("keyValues", "simplified")


def entities(request: HttpRequest, f: Query[EntityFilter]):
    """Entities of one type in the caller's scope (``type=Device|DeviceMeasurement|Streetlight|WasteContainer|Alert``)."""
    kv = _key_values(f.options, f.format)
    as_ld = LD_JSON in request.headers.get("Accept", "")
    built, _n, qs = ngsi_ld.entity_list(actor=request.auth, entity_type=f.type, limit=f.limit, offset=f.offset)
    body = [ngsi_ld.render(b, key_values=kv, inline_context=as_ld, entity_type=f.type) for b in built]
    resp = _ld_response(request, body, f.type)
    if f.count:
        resp["NGSILD-Results-Count"] = str(qs.count())
    return resp


def entity(request: HttpRequest, entity_id: str, f: Query[EntityOptions]):
    """One entity by its URN (``urn:ngsi-ld:<Type>:<id>``); out of scope ⇒ 404."""
    built, entity_type = ngsi_ld.entity_get(actor=request.auth, urn=entity_id)
    as_ld = LD_JSON in request.headers.get("Accept", "")
    return _ld_response(request, ngsi_ld.render(built, key_values=_key_values(f.options, f.format), inline_context=as_ld,
                                                entity_type=entity_type), entity_type)


def _mount(r: Router, prefix: str, *, alias: bool) -> None:
    suffix = "_alias" if alias else ""
    r.add_api_operation(f"{prefix}/v1/entities", ["GET"], entities, response={200: list[dict], **ERRORS},
                        operation_id=f"ngsi_ld_entities{suffix}", include_in_schema=not alias)
    r.add_api_operation(f"{prefix}/v1/entities/{{entity_id}}", ["GET"], entity, response={200: dict, **ERRORS},
                        operation_id=f"ngsi_ld_entity{suffix}", include_in_schema=not alias)


def mount_alias(r: Router) -> None:
    _mount(r, "/ngsi-ld", alias=True)


_mount(router, "", alias=False)
