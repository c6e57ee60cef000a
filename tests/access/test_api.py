"""A3 device endpoints (gate token, decide, signed allow-list, offline upload), A5 log, stats,
last seen; cross-community isolation and query-count pins."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from linli.access import selectors as sel
from linli.access import services as svc
from linli.access import tokens
from linli.access.models import AccessEvent
from tests import factories as f

from .conftest import card


class GateClient:
    def __init__(self, raw: str) -> None:
        self.c = Client()
        self.h = {"Authorization": f"Bearer {raw}"}

    def post(self, path, data):
        return self.c.post(f"/api/v1/access/{path}", data=data, content_type="application/json", headers=self.h)

    def get(self, path):
        return self.c.get(f"/api/v1/access/{path}", headers=self.h)


def test_A3_decide_endpoint_authenticates_gate_and_logs_every_decision(site):
    card(site, site.owner, "A1001")
    g = GateClient(site.tokens["b1"])
    r = g.post("decide", {"credential_kind": "card", "credential_value": "A1001"})
    assert r.status_code == 200 and r.json()["allowed"] is True and r.json()["reason"] == "resident"
    r = g.post("decide", {"credential_kind": "card", "credential_value": "FFFF"})
    assert r.json() == {"allowed": False, "reason": "unknown_credential", "person_id": None, "event_uid": r.json()["event_uid"]}
    assert AccessEvent.objects.filter(gate=site.b1_door).count() == 2
    ev = AccessEvent.objects.filter(gate=site.b1_door, result="allow").get()
    assert ev.person_id == site.owner.pk and ev.credential_kind == "card" and ev.source == "online"
    assert GateClient("gt_wrong").post("decide", {"credential_kind": "card", "credential_value": "A1001"}).status_code == 401
    bad = g.post("decide", {"credential_kind": "laser", "credential_value": "x"})
    assert bad.status_code in (400, 422)


def test_A3_decide_same_event_uid_stored_once(site):
    card(site, site.owner, "A1001")
    g = GateClient(site.tokens["main"])
    uid = uuid.uuid4().hex
    for _ in range(2):
        assert g.post("decide", {"credential_kind": "card", "credential_value": "A1001", "event_uid": uid}).status_code == 200
    assert AccessEvent.objects.filter(event_uid=uid).count() == 1


def test_A3_staff_token_cannot_call_decide(site, api_as):
    assert api_as(site.manager).post("access/decide", {"credential_kind": "card", "credential_value": "A1"}).status_code == 401


def test_A3_allowlist_signed_versioned_and_verifiable(site):
    card(site, site.owner, "A1001")
    card(site, site.other, "B2001")
    g = GateClient(site.tokens["b1"])
    r = g.get("gates/b1/allowlist")
    assert r.status_code == 200
    body = r.json()
    doc = body["document"]
    assert doc["gate"] == "b1" and doc["version"] > 0
    people = {e["person_id"] for e in doc["entries"]}
    assert site.owner.pk in people and site.other.pk not in people  # building 2 resident not on building 1's list
    assert tokens.verify_document(doc, body["signature"], body["public_key"])
    assert body["public_key"] == Client().get("/api/v1/access/signing-key").json()["public_key"]
    tampered = dict(doc, entries=doc["entries"] + [{"person_id": 999, "kind": "card", "tag": "00"}])
    assert not tokens.verify_document(tampered, body["signature"], body["public_key"])
    # The controller matches a card offline with the offline tag alone.
    assert tokens.offline_tag("card", "a1001") in {e["tag"] for e in doc["entries"]}
    site.b1_door.refresh_from_db()
    assert site.b1_door.allowlist_version == doc["version"]
    # A revocation moves the version and drops the entry.
    c = svc.credential_issue(actor=site.manager, person=site.owner, kind="card", value="A1002")
    svc.credential_revoke(actor=site.manager, credential=c)
    doc2 = g.get("gates/b1/allowlist").json()["document"]
    assert doc2["version"] > doc["version"] and tokens.offline_tag("card", "A1002") not in {e["tag"] for e in doc2["entries"]}


def test_A3_allowlist_only_own_gate_or_staff_in_scope(site, api_as):
    assert GateClient(site.tokens["b1"]).get("gates/main/allowlist").status_code == 404
    assert api_as(site.manager).get("access/gates/main/allowlist").status_code == 200
    assert api_as(site.manager_b).get("access/gates/main/allowlist").status_code == 404


def test_A3_offline_events_merged_without_duplicates(site):
    g = GateClient(site.tokens["main"])
    at = timezone.now() - dt.timedelta(hours=2)
    events = [{"event_uid": f"off-{i:04d}", "credential_kind": "card", "person_id": site.owner.pk, "result": "allow",
               "reason": "offline_allowlist", "at": (at + dt.timedelta(minutes=i)).isoformat()} for i in range(5)]
    r = g.post("events/upload", {"events": events})
    assert r.json() == {"received": 5, "stored": 5}
    r = g.post("events/upload", {"events": events[2:] + events[2:3] + [dict(events[0], event_uid="off-9999")]})
    assert r.json() == {"received": 5, "stored": 1}
    assert AccessEvent.objects.filter(gate=site.main_gate, source="offline").count() == 6
    assert g.post("events/upload", {"events": [dict(events[0], result="maybe")]}).status_code in (400, 422)


def test_A5_log_filters_stats_and_last_seen(site, api_as):
    card(site, site.owner, "A1001")
    base = timezone.now().replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=3)
    gate = sel.decision.get_index().gates["main"]
    for i, value in enumerate(["A1001", "A1001", "FFFF"]):
        svc.decide_and_log(gate=gate, credential_kind="card", credential_value=value, at=base + dt.timedelta(minutes=10 * i))
    svc.decide_and_log(gate=gate, credential_kind="card", credential_value="A1001", at=base + dt.timedelta(hours=1, minutes=5))
    api = api_as(site.manager)
    r = api.get("access/events", {"result": "deny"})
    assert [e["reason"] for e in r.json()["items"]] == ["unknown_credential"]
    r = api.get("access/events", {"person_id": site.owner.pk, "limit": 2})
    assert len(r.json()["items"]) == 2 and r.json()["next_cursor"]
    r2 = api.get("access/events", {"person_id": site.owner.pk, "limit": 2, "cursor": r.json()["next_cursor"]})
    assert len(r2.json()["items"]) == 1
    stats = api.get("access/stats", {"since": (base - dt.timedelta(hours=1)).isoformat(), "until": timezone.now().isoformat()}).json()
    assert [(s["gate_code"], s["allowed"], s["denied"]) for s in stats] == [("main", 2, 1), ("main", 1, 0)]
    assert dt.datetime.fromisoformat(stats[0]["hour"]).utcoffset() == dt.timedelta(hours=8)
    seen = api.get(f"access/persons/{site.owner.pk}/last-seen").json()["last_seen"]
    assert dt.datetime.fromisoformat(seen) == base + dt.timedelta(hours=1, minutes=5)
    assert sel.last_seen(site.other.pk) is None
    assert api_as(site.manager_b).get(f"access/persons/{site.owner.pk}/last-seen").status_code == 404
    assert api_as(site.manager_b).get("access/events").json()["items"] == []


def test_O2_cross_community_isolation(site, api_as):
    c = card(site, site.owner, "A1001")
    b = api_as(site.manager_b)
    assert b.get(f"access/gates/{site.main_gate.pk}").status_code == 404
    assert b.get(f"access/groups/{site.g_estate.pk}").status_code == 404
    assert b.get(f"access/credentials/{c.pk}").status_code == 404
    assert b.post(f"access/credentials/{c.pk}/revoke", {}).status_code == 404
    assert b.patch(f"access/gates/{site.main_gate.pk}", {"name": "x"}).status_code == 404
    assert b.post("access/blocks", {"person_id": site.owner.pk, "reason": "x"}).status_code == 404
    assert b.post("access/credentials", {"person_id": site.owner.pk, "kind": "card", "value": "B9"}).status_code == 404
    assert [g["code"] for g in b.get("access/gates").json()["items"]] == ["gb"]
    assert b.get("access/credentials").json()["items"] == []
    a = api_as(site.manager)
    assert a.get(f"access/gates/{site.gate_b.pk}").status_code == 404
    assert {g["code"] for g in a.get("access/gates").json()["items"]} == {"main", "b1", "u11", "b2"}
    nobody = f.account("noperm", perms=["place.view"], scope=site.tree.community_a)
    assert api_as(nobody).post("access/gates", {"code": "x", "name": "x", "group_id": site.g_b1.pk}).status_code == 404
    assert api_as(nobody).get("access/gates").json()["items"] == []


def test_A1_A2_management_api_round_trip(site, api_as):
    a = api_as(site.manager)
    r = a.post("access/groups", {"code": "B1U2", "name": "1号楼2单元", "level": "unit", "estate_id": site.estate.pk,
                                 "building_id": site.b1.pk, "unit_id": site.u12.pk})
    assert r.status_code == 201, r.content
    gid = r.json()["id"]
    r = a.post("access/gates", {"code": "u12", "name": "1-2单元门", "group_id": gid})
    assert r.status_code == 201 and r.json()["token"].startswith("gt_")
    assert a.post("access/gates", {"code": "u12", "name": "dup", "group_id": gid}).status_code == 409
    r = a.post("access/rules", {"group_id": gid, "audience": "residents", "weekdays": 31, "start_minute": 420, "end_minute": 1140})
    assert r.status_code == 201
    assert a.post("access/rules", {"group_id": gid, "audience": "staff"}).status_code == 422
    assert a.post("access/groups", {"code": "bad", "name": "x", "level": "unit", "estate_id": site.estate.pk}).status_code == 422
    r = a.post("access/credentials", {"person_id": site.owner.pk, "kind": "card", "value": "ABCD1234", "house_id": site.h11.pk})
    assert r.status_code == 201 and r.json()["number_masked"] == "****1234" and r.json()["person_name"] == "王*明"
    cid = r.json()["id"]
    assert a.post(f"access/credentials/{cid}/suspend", {"reason": "挂失"}).json()["status"] == "suspended"
    assert a.post(f"access/credentials/{cid}/suspend", {}).status_code == 409
    r = a.post("access/watch-list", {"region_id": site.tree.community_a.pk, "kind": "person", "id_number": f.make_id_number(seq=9),
                                     "reason": "协查"})
    assert r.status_code == 201 and r.json()["id_number_masked"].startswith("****")


@pytest.mark.parametrize("path", ["access/gates", "access/groups", "access/credentials", "access/events", "access/visitors",
                                  "access/watch-list", "access/alarms", "access/blocks", "access/rules"])
def test_O2_list_query_count_is_constant(site, api_as, django_assert_max_num_queries, path):
    for i in range(6):
        p = f.person(site.tree.grid_a, name=f"住户{i}")
        f.residency(p, site.h12)
        card(site, p, f"C{i:04d}")
    gate = sel.decision.get_index().gates["main"]
    for i in range(6):
        svc.decide_and_log(gate=gate, credential_kind="card", credential_value=f"C{i:04d}")
    api = api_as(site.manager)
    api.get(path)  # warm the token and scope caches
    with django_assert_max_num_queries(6):
        r = api.get(path, {"limit": 50})
    assert r.status_code == 200
