"""API (D1, D6): provisioning, credentials once, CSV import, HTTP ingest, history, scope."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from linli.iot.models import Device, Telemetry
from linli.iot.perms import IotPerm
from tests.factories import account
from tests.iot.helpers import device, ensure_catalog


def editor(tree, region):
    ensure_catalog()
    return account(perms=[IotPerm.DEVICE_VIEW, IotPerm.DEVICE_EDIT, IotPerm.RULE_EDIT], scope=region)


def test_D1_provision_shows_secrets_once_and_http_ingest(tree, api_as, client):
    api = api_as(editor(tree, tree.community_a))
    r = api.post("iot/devices", {"serial": "SMK-0001", "device_type": "smoke_detector", "region_id": tree.grid_a.pk, "name": "3号楼烟感"})
    assert r.status_code == 201, r.json()
    body = r.json()
    token = body["credentials"]["access_token"]
    dev = Device.objects.get(serial="SMK-0001")
    assert token not in str(dev.__dict__) and dev.token_hash != token
    assert "access_token" not in api.get(f"iot/devices/{dev.pk}").json()
    ok = client.post(f"/api/v1/iot/http/{token}/telemetry", data=b'{"ts": 1763900000000, "values": {"smoke": 0.01}}', content_type="application/json")
    assert ok.status_code == 200 and ok.json() == {"stored": 1, "duplicates": 0}
    bad = client.post(f"/api/v1/iot/http/{token}/telemetry", data=b"{oops", content_type="application/json")
    assert bad.status_code == 400 and bad.json()["code"] == "payload.not_json"
    assert client.post("/api/v1/iot/http/nope/telemetry", data=b"{}", content_type="application/json").status_code == 401
    attrs = client.post(f"/api/v1/iot/http/{token}/attributes", data=b'{"fw": "1.2.3"}', content_type="application/json")
    assert attrs.status_code == 200 and Device.objects.get(pk=dev.pk).attributes == {"fw": "1.2.3"}
    # token reset: the old token stops working
    new = api.post(f"iot/devices/{dev.pk}/credentials").json()["access_token"]
    assert client.post(f"/api/v1/iot/http/{token}/telemetry", data=b'{"smoke": 0}', content_type="application/json").status_code == 401
    assert client.post(f"/api/v1/iot/http/{new}/telemetry", data=b'{"smoke": 0}', content_type="application/json").status_code == 200
    hist = api.get(f"iot/devices/{dev.pk}/telemetry", {"key": "smoke", "limit": 1}).json()
    assert len(hist["items"]) == 1 and hist["next_cursor"]
    assert len(api.get(f"iot/devices/{dev.pk}/telemetry", {"key": "smoke", "cursor": hist["next_cursor"]}).json()["items"]) == 1
    assert {x["key"] for x in api.get(f"iot/devices/{dev.pk}/latest").json()} == {"smoke"}


def test_D1_cross_scope_404_and_lists(tree, api_as, django_assert_max_num_queries):
    mine = [device(tree.grid_a)[0] for _ in range(5)]
    other, _ = device(tree.grid_b)
    api = api_as(editor(tree, tree.community_a))
    with django_assert_max_num_queries(8):
        r = api.get("iot/devices")
    assert {d["id"] for d in r.json()["items"]} == {d.pk for d in mine}
    assert api.get(f"iot/devices/{other.pk}").status_code == 404
    assert api.get(f"iot/devices/{other.pk}/telemetry", {"key": "smoke"}).status_code == 404
    assert api.patch(f"iot/devices/{other.pk}", {"name": "x"}).status_code == 404
    assert api.post(f"iot/devices/{other.pk}/credentials").status_code == 404
    r = api.post("iot/devices", {"serial": "X-1", "device_type": "smoke_detector", "region_id": tree.grid_b.pk})
    assert r.status_code == 404
    r = api.post("iot/rules", {"code": "hot", "name": "热", "device_id": other.pk, "conditions": [{"type": "threshold", "key": "temperature", "op": ">", "value": 40}]})
    assert r.status_code == 404
    # type defaults are for city-wide administrators only
    r = api.post("iot/rules", {"code": "hot", "name": "热", "device_type": "smoke_detector", "conditions": [{"type": "threshold", "key": "temperature", "op": ">", "value": 40}]})
    assert r.status_code == 403


def test_D3_rule_api_validates_conditions(tree, api_as):
    dev, _ = device(tree.grid_a)
    api = api_as(editor(tree, tree.community_a))
    r = api.post("iot/rules", {"code": "hot", "name": "热", "device_id": dev.pk, "conditions": [{"type": "threshold", "key": "temperature", "op": ">", "value": 40, "clear": 50}]})
    assert r.status_code == 422 and r.json()["code"] == "rule.invalid_condition"
    r = api.post("iot/rules", {"code": "hot", "name": "热", "device_id": dev.pk, "duration_s": 30,
                               "conditions": [{"type": "threshold", "key": "temperature", "op": ">", "value": 40, "clear": 35}]})
    assert r.status_code == 201
    rid = r.json()["id"]
    assert api.patch(f"iot/rules/{rid}", {"enabled": False}).json()["enabled"] is False
    assert api.delete(f"iot/rules/{rid}").status_code == 204


def test_D1_csv_import_validates_every_row(tree, api_as):
    api = api_as(editor(tree, tree.community_a))
    bad = "serial,type,region,lat\nA-1,smoke_detector,370102001001001,36.6\nA-1,nope,370102001002001,999\n"
    r = api.client.post("/api/v1/iot/devices/import", {"file": SimpleUploadedFile("d.csv", bad.encode())}, headers=api.headers)
    errs = r.json()["errors"]
    assert r.status_code == 200 and not r.json()["created"]
    assert {(e["row"], e["column"]) for e in errs} == {(3, "serial"), (3, "type"), (3, "region"), (3, "lat")}
    assert not Device.objects.exists()
    good = "serial,type,region,name\nA-1,smoke_detector,370102001001001,一号\nA-2,gas_detector,370102001001001,二号\n"
    r = api.client.post("/api/v1/iot/devices/import", {"file": SimpleUploadedFile("d.csv", good.encode())}, headers=api.headers)
    assert [c["serial"] for c in r.json()["created"]] == ["A-1", "A-2"] and r.json()["created"][0]["credentials"]["access_token"]
    assert not Telemetry.objects.exists()
