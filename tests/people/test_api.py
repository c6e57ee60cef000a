"""/api/v1/people: validation codes, masking in every output, reveal, isolation, query-count pins."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from linli.audit.models import AuditEntry
from linli.orgs.models import AccountKind
from linli.orgs.perms import Perm
from linli.people import services
from tests import factories as f

ID = f.make_id_number("370102", dt.date(1975, 2, 3), seq=457, female=True)
PHONE = "+8613812345678"


def _no_plaintext(resp, *secrets):
    body = resp.content.decode()
    for s in secrets:
        assert s not in body, f"{s} leaked in {resp.request['PATH_INFO']}"


def test_H1_api_create_validates_with_error_codes(tree, worker_a, api_as):
    api = api_as(worker_a)
    bad = ID[:-1] + ("1" if ID[-1] != "1" else "2")
    r = api.post("people/persons", {"name": "钱某", "id_number": bad, "region_id": tree.grid_a.pk})
    assert r.status_code == 422 and r.json()["code"] == "person.id_number_checksum"
    r = api.post("people/persons", {"name": "钱某", "id_number": ID, "region_id": tree.grid_a.pk, "phone": "999"})
    assert r.status_code == 422 and r.json()["code"] == "person.phone_invalid"
    r = api.post("people/persons", {"name": "钱某", "id_number": ID, "region_id": tree.grid_a.pk, "gender": "M"})
    assert r.status_code == 422 and r.json()["code"] == "person.gender_mismatch"
    r = api.post("people/persons", {"name": "", "id_number": ID, "region_id": tree.grid_a.pk})
    assert r.status_code == 422 and r.json()["code"] == "request.invalid"
    r = api.post("people/persons", {"name": "钱某", "id_type": "passport", "id_number": "E1", "region_id": tree.grid_a.pk})
    assert r.status_code == 422 and r.json()["code"] == "person.id_number_format"


def test_H1_api_create_get_patch_are_masked(tree, worker_a, api_as):
    api = api_as(worker_a)
    r = api.post("people/persons", {"name": "钱多多", "id_number": ID, "region_id": tree.grid_a.pk, "phone": "13812345678"})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["id_number_masked"] == ID[:4] + "*" * 10 + ID[-4:] and body["phone_masked"] == "138****5678"
    assert (body["gender"], body["birth_date"]) == ("F", "1975-02-03")
    _no_plaintext(r, ID, "13812345678")
    pid = body["id"]
    r = api.get(f"people/persons/{pid}")
    assert r.status_code == 200 and r.json()["name"] == "钱多多"
    _no_plaintext(r, ID, "13812345678")
    r = api.patch(f"people/persons/{pid}", {"phone": "13900001111", "occupation": "医生"})
    assert r.status_code == 200 and r.json()["phone_masked"] == "139****1111" and r.json()["occupation"] == "医生"
    _no_plaintext(r, ID, "13900001111")
    r = api.post("people/persons", {"name": "重复", "id_number": ID, "region_id": tree.grid_a.pk})
    assert r.status_code == 409 and r.json() == {**r.json(), "code": "person.duplicate_id_number", "detail": {"person_id": pid}}
    r = api.patch(f"people/persons/{pid}", {"region_id": tree.grid_b.pk})
    assert r.status_code == 404


def test_H1_api_list_filters_and_exact_lookups(tree, worker_a, api_as):
    a = f.person(tree.grid_a, name="吴一", id_number=ID, phone=PHONE)
    f.person(tree.grid_a, name="郑二", phone="+8613911112222")
    f.person(tree.grid_b, name="吴三")
    api = api_as(worker_a)
    names = lambda r: [p["name"] for p in r.json()["items"]]  # noqa: E731
    assert names(api.get("people/persons")) == ["郑二", "吴一"]
    assert names(api.get("people/persons", {"q": "吴"})) == ["吴一"]
    assert names(api.get("people/persons", {"id_number": ID.lower()})) == ["吴一"]
    assert names(api.get("people/persons", {"phone": "138-1234-5678"})) == ["吴一"]
    assert names(api.get("people/persons", {"q": "2222"})) == ["郑二"]
    r = api.get("people/persons", {"id_number": "123"})
    assert r.status_code == 422 and r.json()["code"] == "person.id_number_format"
    h = f.house(tree.grid_a)
    f.residency(a, h)
    assert names(api.get("people/persons", {"house_id": h.pk})) == ["吴一"]
    r = api.get("people/persons", {"group": "disabled"})
    assert r.status_code == 403 and r.json()["code"] == "person.special_group_forbidden"
    page1 = api.get("people/persons", {"limit": 1}).json()
    page2 = api.get("people/persons", {"limit": 1, "cursor": page1["next_cursor"]}).json()
    assert [page1["items"][0]["name"], page2["items"][0]["name"]] == ["郑二", "吴一"] and page2["next_cursor"] is None
    assert api.get("people/persons", {"limit": 500}).status_code == 422


def test_H1_api_reveal_requires_perm_and_is_audited(tree, worker_a, chief_a, chief_b, api_as):
    p = f.person(tree.grid_a, id_number=ID, phone=PHONE)
    payload = {"fields": ["id_number", "phone"], "purpose": "入户核查"}
    r = api_as(worker_a).post(f"people/persons/{p.pk}/reveal", payload)
    assert r.status_code == 403 and r.json()["code"] == "person.reveal_forbidden"
    assert api_as(chief_b).post(f"people/persons/{p.pk}/reveal", payload).status_code == 404
    r = api_as(chief_a).post(f"people/persons/{p.pk}/reveal", payload)
    assert r.status_code == 200 and r.json() == {"id_number": ID, "phone": PHONE}
    e = AuditEntry.objects.get(action="person.reveal")
    assert (e.kind, e.actor_id, e.detail["purpose"]) == ("read", chief_a.pk, "入户核查")
    assert api_as(chief_a).post(f"people/persons/{p.pk}/reveal", {"fields": ["id_number"], "purpose": ""}).status_code == 422


def test_H2_api_households_and_residency_flow(tree, worker_a, api_as):
    api = api_as(worker_a)
    head, tenant = f.person(tree.grid_a, name="冯户主", id_number=ID, phone=PHONE), f.person(tree.grid_a, name="陈租客")
    h = f.house(tree.grid_a)
    r = api.post("people/households", {"house_id": h.pk, "head_id": head.pk})
    assert r.status_code == 201 and r.json()["name"] == "冯户主户"
    hh = r.json()["id"]
    r = api.post("people/residencies", {"person_id": head.pk, "house_id": h.pk, "relation": "owner", "move_in": "2019-05-01", "household_id": hh})
    assert r.status_code == 201, r.content
    r = api.post("people/residencies", {"person_id": tenant.pk, "house_id": h.pk, "relation": "tenant", "move_in": "2023-01-01", "lease_end": "2022-01-01"})
    assert r.status_code == 422 and r.json()["code"] == "residency.lease_end_before_move_in"
    r = api.post("people/residencies", {"person_id": tenant.pk, "house_id": h.pk, "relation": "tenant", "move_in": "2023-01-01", "lease_end": "2024-01-01"})
    rid = r.json()["id"]
    assert api.post("people/residencies", {"person_id": tenant.pk, "house_id": h.pk, "relation": "tenant", "move_in": "2023-02-01"}).status_code == 409
    r = api.patch(f"people/residencies/{rid}", {"is_actual": False})
    assert r.status_code == 200 and r.json()["is_actual"] is False
    r = api.get("people/actual-population", {"region_id": tree.community_a.pk})
    assert r.json()["actual"] == 1 and r.json()["not_living"] == 1
    r = api.post(f"people/residencies/{rid}/move-out", {"move_out": "2024-01-01", "reason": "租期届满"})
    assert r.status_code == 200 and r.json()["is_current"] is False
    assert api.post(f"people/residencies/{rid}/move-out", {"move_out": "2024-01-02"}).status_code == 409
    cur = api.get("people/residencies", {"house_id": h.pk}).json()["items"]
    assert [x["person"]["name"] for x in cur] == ["冯户主"]
    allr = api.get("people/residencies", {"house_id": h.pk, "current_only": False})
    assert len(allr.json()["items"]) == 2
    _no_plaintext(allr, ID, "13812345678")
    assert len(api.get("people/residencies", {"person_id": tenant.pk}).json()["items"]) == 1
    assert api.get("people/residencies").status_code == 422
    r = api.get("people/households", {"house_id": h.pk})
    assert r.json()["items"][0]["member_count"] == 1
    _no_plaintext(r, ID, "13812345678")


def test_H3_api_special_tags(tree, worker_a, chief_a, api_as):
    p = f.person(tree.grid_a, name="蒋残疾", id_number=ID, phone=PHONE)
    assert api_as(worker_a).post(f"people/persons/{p.pk}/special-tags", {"group": "disabled"}).status_code == 403
    r = api_as(chief_a).post(f"people/persons/{p.pk}/special-tags", {"group": "disabled", "level": "二级"})
    assert r.status_code == 201
    tag_id = r.json()["id"]
    r = api_as(chief_a).get("people/special-groups", {"group": "disabled"})
    assert r.status_code == 200 and r.json()["items"][0]["person"]["name"] == "蒋残疾"
    _no_plaintext(r, ID, "13812345678")
    assert api_as(worker_a).get("people/special-groups").status_code == 403
    detail = api_as(worker_a).get(f"people/persons/{p.pk}").json()
    assert detail["name"] == "蒋*疾" and detail["special_tags"] == []
    assert "disabled" not in json.dumps(detail)
    assert api_as(chief_a).get(f"people/persons/{p.pk}").json()["special_tags"][0]["group"] == "disabled"
    assert api_as(worker_a).delete(f"people/special-tags/{tag_id}").status_code == 404
    assert api_as(chief_a).delete(f"people/special-tags/{tag_id}").status_code == 204


def test_H6_api_consents_for_resident_and_staff(tree, worker_a, api_as):
    p = f.person(tree.grid_a)
    resident = f.account(kind=AccountKind.RESIDENT, person=p)
    r = api_as(worker_a).post(f"people/persons/{p.pk}/consents", {"purpose": "data_processing", "channel": "paper"})
    assert r.status_code == 201 and r.json()["is_active"]
    r = api_as(worker_a).post(f"people/persons/{p.pk}/consents/data_processing/withdraw")
    assert r.status_code == 200 and r.json()["withdrawn_at"]
    assert api_as(worker_a).post(f"people/persons/{p.pk}/consents/data_processing/withdraw").status_code == 409
    items = api_as(worker_a).get(f"people/persons/{p.pk}/consents").json()["items"]
    assert [c["purpose"] for c in items] == ["data_processing"]
    assert api_as(resident).get(f"people/persons/{p.pk}/consents").status_code == 404  # residents use the portal


def test_O2_every_people_endpoint_isolates_communities(tree, chief_a, chief_b, api_as):
    """An account scoped to community A gets 404 for community B objects and never sees them in lists."""
    pb = f.person(tree.grid_b, name="乙社区人", id_number=ID, phone=PHONE)
    hb = f.house(tree.grid_b)
    hhb = services.household_create(actor=chief_b, house=hb, head=pb)
    rb = services.residency_move_in(actor=chief_b, person=pb, house=hb, relation="owner", move_in=dt.date(2020, 1, 1), household=hhb)
    tag = services.special_tag_add(actor=chief_b, person=pb, group="key_care")
    services.consent_grant(actor=chief_b, person=pb, purpose="location", channel="staff")
    api = api_as(chief_a)
    not_found = [
        api.get(f"people/persons/{pb.pk}"),
        api.patch(f"people/persons/{pb.pk}", {"note": "x"}),
        api.post(f"people/persons/{pb.pk}/reveal", {"fields": ["id_number"], "purpose": "核查"}),
        api.get("people/households", {"house_id": hb.pk}),
        api.post("people/households", {"house_id": hb.pk}),
        api.get("people/residencies", {"house_id": hb.pk}),
        api.get("people/residencies", {"person_id": pb.pk}),
        api.post("people/residencies", {"person_id": pb.pk, "house_id": f.house(tree.grid_a).pk, "relation": "owner", "move_in": "2024-01-01"}),
        api.post("people/residencies", {"person_id": f.person(tree.grid_a).pk, "house_id": hb.pk, "relation": "owner", "move_in": "2024-01-01"}),
        api.post(f"people/residencies/{rb.pk}/move-out", {"move_out": "2024-01-01"}),
        api.patch(f"people/residencies/{rb.pk}", {"is_actual": False}),
        api.get("people/actual-population", {"region_id": tree.community_b.pk}),
        api.post(f"people/persons/{pb.pk}/special-tags", {"group": "minor"}),
        api.delete(f"people/special-tags/{tag.pk}"),
        api.get(f"people/persons/{pb.pk}/consents"),
        api.post(f"people/persons/{pb.pk}/consents", {"purpose": "marketing"}),
        api.post(f"people/persons/{pb.pk}/consents/location/withdraw"),
        api.post("people/persons", {"name": "越权", "id_number": f.make_id_number(seq=5), "region_id": tree.grid_b.pk}),
    ]
    assert [r.status_code for r in not_found] == [404] * len(not_found), [(r.request["PATH_INFO"], r.status_code) for r in not_found]
    for r in not_found:
        _no_plaintext(r, ID, "13812345678", "乙社区人")
    lists = [
        api.get("people/persons"), api.get("people/persons", {"id_number": ID}), api.get("people/persons", {"phone": PHONE}),
        api.get("people/persons", {"q": "乙社区"}), api.get("people/persons", {"region_id": tree.community_b.pk}),
        api.get("people/persons", {"house_id": hb.pk}), api.get("people/persons", {"group": "key_care"}),
        api.get("people/special-groups"), api.get("people/special-groups", {"region_id": tree.community_b.pk}),
    ]
    for r in lists:
        assert r.status_code == 200
        assert pb.pk not in [x["id"] for x in r.json()["items"]] and tag.pk not in [x["id"] for x in r.json()["items"]]
        _no_plaintext(r, ID, "13812345678", "乙社区人")
    dup = api.post("people/persons", {"name": "重复", "id_number": ID, "region_id": tree.grid_a.pk})
    assert dup.status_code == 409 and dup.json()["detail"] == {}


def test_H1_api_unauthenticated_is_401(tree, client):
    assert client.get("/api/v1/people/persons").status_code == 401


@pytest.mark.parametrize("n", [3, 30])
def test_H1_person_list_query_count_is_constant(tree, api_as, django_assert_max_num_queries, n):
    officer = f.account(perms=[Perm.PERSON_VIEW, Perm.SPECIAL_GROUP_VIEW], scope=tree.street)
    for i in range(n):
        p = f.person(tree.grid_a if i % 2 else tree.grid_b, name=f"人员{i}")
        if i % 3 == 0:
            f.residency(p, f.house(tree.grid_a))
    api = api_as(officer)
    api.get("people/persons")  # warm the token's last_used_at
    # 7 on PostgreSQL: the per-region key merge of paginate(partition=…) is one more query, whatever n is.
    with django_assert_max_num_queries(7):
        r = api.get("people/persons", {"limit": 200})
    assert len(r.json()["items"]) == n


@pytest.mark.parametrize("n", [2, 20])
def test_H2_residency_and_special_lists_query_count_is_constant(tree, chief_a, api_as, django_assert_max_num_queries, n):
    h = f.house(tree.grid_a)
    hh = services.household_create(actor=chief_a, house=h)
    for i in range(n):
        p = f.person(tree.grid_a, name=f"住户{i}")
        services.residency_move_in(actor=chief_a, person=p, house=h, relation="family_member", move_in=dt.date(2020, 1, 1), household=hh)
        services.special_tag_add(actor=chief_a, person=p, group="minor")
    api = api_as(chief_a)
    api.get("people/persons")
    with django_assert_max_num_queries(6):
        assert len(api.get("people/residencies", {"house_id": h.pk}).json()["items"]) == n
    with django_assert_max_num_queries(6):
        assert api.get("people/households", {"house_id": h.pk}).json()["items"][0]["member_count"] == n
    with django_assert_max_num_queries(8):  # + the audit entry for viewing a special-group list
        assert len(api.get("people/special-groups").json()["items"]) == n
