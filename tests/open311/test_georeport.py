"""Open311 GeoReport v2 (C5): discovery, services, definitions, requests, tokens, JSON and XML,
the spec's error shape, jurisdiction and api_key handling — over the same cases."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest
from django.test import Client

from linli.cases import services as svc
from linli.cases.models import Case
from tests import factories as f
from tests.cases.world import A_LAT, A_LNG, B_LAT, B_LNG, ensure_seed, make_world, report

pytestmark = pytest.mark.django_db
BASE = "/open311/v2"

REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
                  "address", "address_id", "zipcode", "lat", "long", "media_url"}


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from linli.places import spatial

    spatial.invalidate()


@pytest.fixture
def world(tree):
    w = make_world(tree)
    w.city_system = f.account("city12345", perms=["case.view", "case.intake"], scope=tree.city, kind="service")
    w.key = f.token_for(w.city_system)
    return w


def xml(resp) -> ET.Element:
    assert resp["Content-Type"].startswith("text/xml")
    return ET.fromstring(resp.content)


def test_C5_discovery_json_and_xml():
    c = Client()
    r = c.get(f"{BASE}/discovery.json")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/json")
    ep = r.json()["endpoints"][0]
    assert ep["specification"] == "http://wiki.open311.org/GeoReport_v2" and ep["url"].endswith("/open311/v2/")
    assert set(ep["formats"]) == {"text/xml", "application/json"}
    root = xml(c.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery" and root.find("endpoints/endpoint/formats/format") is not None


def test_C5_services_and_definition(db):
    ensure_seed()
    c = Client()
    services = c.get(f"{BASE}/services.json").json()
    road = next(s for s in services if s["service_code"] == "facility-road")
    assert road == {**road, "service_name": "道路破损", "metadata": False, "type": "realtime", "group": "市政设施"}
    root = xml(c.get(f"{BASE}/services.xml"))
    assert root.tag == "services" and root.find("service/service_code") is not None
    assert c.get(f"{BASE}/services/facility-road.json").json() == {"service_code": "facility-road", "attributes": []}
    assert xml(c.get(f"{BASE}/services/facility-road.xml")).tag == "service_definition"
    r = c.get(f"{BASE}/services/nope.json")
    assert r.status_code == 404 and r.json() == [{"code": 404, "description": "service_code 'nope' not found"}]
    r = c.get(f"{BASE}/services/nope.xml")
    assert r.status_code == 404 and xml(r).find("error/code").text == "404"
    assert c.get(f"{BASE}/services.json", {"jurisdiction_id": "linli"}).status_code == 200
    assert c.get(f"{BASE}/services.json", {"jurisdiction_id": "elsewhere"}).status_code == 404
    assert c.get(f"{BASE}/services.yaml").status_code == 404


def test_C5_post_request_creates_a_case_and_token_resolves(world):
    w = world
    c = Client()
    form = {"api_key": w.key, "service_code": "facility-road", "lat": A_LAT, "long": A_LNG, "description": "人行道地砖松动，易绊倒",
            "address_string": "解放路1号", "phone": "13912345678", "media_url": "https://example.org/p.jpg", "first_name": "王"}
    r = c.post(f"{BASE}/requests.json", form)
    assert r.status_code == 201, r.content
    [out] = r.json()
    case = Case.objects.get(number=out["service_request_id"])
    assert case.channel == "open311" and case.region == w.tree.grid_a and case.reporter_contact_masked == "139****5678"
    assert case.photos == ["https://example.org/p.jpg"] and case.assigned_account == w.grid_worker_a
    t = c.get(f"{BASE}/tokens/{out['token']}.json", {"api_key": w.key}).json()
    assert t == [{"service_request_id": case.number, "token": out["token"]}]
    root = xml(c.post(f"{BASE}/requests.xml", form))
    assert root.tag == "service_requests" and root.find("request/service_request_id").text.startswith("C")


def test_C5_post_errors_use_the_spec_shape(world):
    w = world
    c = Client()
    base = {"service_code": "facility-road", "lat": A_LAT, "long": A_LNG, "description": "x"}
    r = c.post(f"{BASE}/requests.json", base)
    assert r.status_code == 403 and r.json()[0]["code"] == 403
    r = c.post(f"{BASE}/requests.json", {**base, "api_key": "lk_wrong"})
    assert r.status_code == 403
    r = c.post(f"{BASE}/requests.json", {**base, "api_key": w.key, "lat": ""})
    assert r.status_code == 400 and "location" in r.json()[0]["description"]
    r = c.post(f"{BASE}/requests.json", {**base, "api_key": w.key, "service_code": "nope"})
    assert r.status_code == 404
    r = c.post(f"{BASE}/requests.json", {**base, "api_key": w.key, "lat": "north"})
    assert r.status_code == 400
    r = c.post(f"{BASE}/requests.xml", {**base, "api_key": w.key, "lat": 10, "long": 10})
    assert r.status_code == 400 and xml(r).find("error/description").text.startswith("case.location_outside")
    # a key scoped to community B cannot file in community A
    key_b = f.token_for(w.worker_b)
    r = c.post(f"{BASE}/requests.json", {**base, "api_key": key_b, "channel": "patrol"})
    assert r.status_code == 404
    assert Case.objects.count() == 0


def test_C5_get_requests_with_filters_scope_and_status(world):
    w = world
    a1 = report(w, title="A1")
    a2 = report(w, title="A2")
    b1 = report(w, actor=w.grid_worker_b, lat=B_LAT, lng=B_LNG, title="B1")
    svc.case_accept(actor=w.worker_a, case=a2)
    svc.case_dispatch(actor=w.worker_a, case=a2, to=w.dept)
    svc.case_start(actor=w.handler, case=a2)
    svc.case_resolve(actor=w.handler, case=a2, note="已修复")
    svc.case_verify(actor=w.grid_worker_a, case=a2)
    svc.case_close(actor=w.worker_a, case=a2, note="结案：已修复并回访")
    c = Client()
    assert c.get(f"{BASE}/requests.json").status_code == 403
    rows = c.get(f"{BASE}/requests.json", {"api_key": w.key}).json()
    assert [r["service_request_id"] for r in rows] == [b1.number, a2.number, a1.number]
    assert set(rows[0]) == REQUEST_FIELDS
    closed = c.get(f"{BASE}/requests.json", {"api_key": w.key, "status": "closed"}).json()
    assert [r["service_request_id"] for r in closed] == [a2.number]
    assert closed[0]["status"] == "closed" and closed[0]["status_notes"] == "结案：已修复并回访"
    assert closed[0]["agency_responsible"] == "区城市管理局"
    assert len(c.get(f"{BASE}/requests.json", {"api_key": w.key, "status": "open"}).json()) == 2
    assert c.get(f"{BASE}/requests.json", {"api_key": w.key, "status": "pending"}).status_code == 400
    ids = c.get(f"{BASE}/requests.json", {"api_key": w.key, "service_request_id": f"{a1.number},{b1.number}"}).json()
    assert {r["service_request_id"] for r in ids} == {a1.number, b1.number}
    assert c.get(f"{BASE}/requests.json", {"api_key": w.key, "start_date": "2000-01-01T00:00:00Z",
                                           "end_date": "2000-02-01T00:00:00Z"}).json() == []
    assert c.get(f"{BASE}/requests.json", {"api_key": w.key, "start_date": "yesterday"}).status_code == 400
    assert len(c.get(f"{BASE}/requests.json", {"api_key": w.key, "service_code": "facility-road"}).json()) == 3
    # community B's key sees only B
    key_b = f.token_for(w.worker_b)
    assert [r["service_request_id"] for r in c.get(f"{BASE}/requests.json", {"api_key": key_b}).json()] == [b1.number]
    assert c.get(f"{BASE}/requests/{a1.number}.json", {"api_key": key_b}).status_code == 404
    one = c.get(f"{BASE}/requests/{a1.number}.json", {"api_key": w.key}).json()
    assert len(one) == 1 and one[0]["status"] == "open" and one[0]["lat"] == A_LAT
    root = xml(c.get(f"{BASE}/requests/{a1.number}.xml", {"api_key": w.key}))
    assert root.tag == "service_requests" and root.find("request/status").text == "open"
    assert c.get(f"{BASE}/requests/C000.json", {"api_key": w.key}).status_code == 404
