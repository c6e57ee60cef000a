"""NGSI-LD export (D7): Smart Data Models shapes (keyValues and normalised), @context, scope, paging.

The ``jsonschema`` package is not installed, so ``conforms`` checks what the models' JSON Schemas demand
by hand: every ``required`` field, every local ``enum`` and numeric bound of the fields we emit."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from linli.iot.models import Alarm
from linli.iot.ngsi_ld import CORE_CONTEXT, SDM_CONTEXT
from linli.iot.perms import IotPerm
from tests.factories import account
from tests.iot.helpers import device, send

SDM = Path("/work/shared/reference/smart-data-models/smart-data-models.github.io")
SCHEMAS = {
    "Device": "dataModel.Device/Device/schema.json",
    "DeviceMeasurement": "dataModel.Device/DeviceMeasurement/schema.json",
    "Streetlight": "dataModel.Streetlighting/Streetlight/schema.json",
    "WasteContainer": "dataModel.WasteManagement/WasteContainer/schema.json",
    "Alert": "dataModel.Alert/Alert/schema.json",
}
# Enums the model schemas take from the shared schemas by $ref (copied from device-schema / alert-schema).
REF_ENUMS = {
    "Alert": {"severity": {"informational", "low", "medium", "high", "critical"},
              "category": {"traffic", "naturalDisaster", "weather", "environment", "health", "security", "agriculture"}},
}
CONTROLLED = set(json.loads((SDM / "dataModel.Device/device-schema.json").read_text())["definitions"]["ControlledPropertyType"]["items"]["enum"]) \
    if (SDM / "dataModel.Device/device-schema.json").exists() else set()


def _collect(node, required: set, props: dict) -> None:
    if isinstance(node, dict):
        required.update(node.get("required", []))
        if isinstance(node.get("properties"), dict):
            props.update(node["properties"])
        for v in node.values():
            _collect(v, required, props)
    elif isinstance(node, list):
        for v in node:
            _collect(v, required, props)


def conforms(entity: dict, entity_type: str) -> None:
    path = SDM / SCHEMAS[entity_type]
    if not path.exists():
        pytest.skip("Smart Data Models reference schemas not present")
    required: set = set()
    props: dict = {}
    _collect(json.loads(path.read_text()), required, props)
    assert required <= set(entity), f"{entity_type} misses {required - set(entity)}"
    assert entity["type"] == entity_type and entity["id"].startswith(f"urn:ngsi-ld:{entity_type}:")
    for name, value in entity.items():
        spec = props.get(name) or {}
        if "enum" in spec:
            assert value in spec["enum"], (name, value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            assert spec.get("minimum", value) <= value <= spec.get("maximum", value), (name, value)
        if name in REF_ENUMS.get(entity_type, {}):
            assert value in REF_ENUMS[entity_type][name], (name, value)
    if entity_type == "Device" and CONTROLLED:
        assert entity["controlledProperty"] and set(entity["controlledProperty"]) <= CONTROLLED


def viewer(region):
    return account(perms=[IotPerm.DEVICE_VIEW, IotPerm.ALARM_VIEW], scope=region)


@pytest.fixture
def fleet(tree):
    light, _ = device(tree.grid_a, "streetlight", serial="SL-1", lat=36.65, lng=117.12, name="东门路灯")
    send(light, {"ts": 1763900000000, "values": {"on": 1, "dim": 70, "power": 48, "lamp_fault": 0}})
    bin_, _ = device(tree.grid_a, "trash_bin", serial="BIN-1")
    send(bin_, {"ts": 1763900000000, "values": {"fill_level": 97, "weight": 31.5, "battery": 80}})
    smoke, _ = device(tree.grid_a, "smoke_detector", serial="SMK-1")
    send(smoke, {"ts": 1763900000000, "values": {"smoke": 0.3}})
    other, _ = device(tree.grid_b, "trash_bin", serial="BIN-B")
    send(other, {"ts": 1763900000000, "values": {"fill_level": 99}})
    return {"light": light, "bin": bin_, "smoke": smoke, "other": other}


def test_D7_key_values_follow_smart_data_models(tree, fleet, api_as):
    api = api_as(viewer(tree.community_a))
    url = "ngsi-ld/v1/entities"
    light = api.get(url, {"type": "Streetlight", "options": "keyValues"}).json()
    assert [e["id"] for e in light] == ["urn:ngsi-ld:Streetlight:SL-1"]
    assert light[0]["powerState"] == "on" and light[0]["illuminanceLevel"] == 0.7 and light[0]["status"] == "ok"
    assert light[0]["location"] == {"type": "Point", "coordinates": [117.12, 36.65]}
    conforms(light[0], "Streetlight")
    bins = api.get(url, {"type": "WasteContainer", "options": "keyValues"}).json()
    assert [e["id"] for e in bins] == ["urn:ngsi-ld:WasteContainer:BIN-1"]  # BIN-B is out of scope
    assert bins[0]["fillingLevel"] == 0.97 and bins[0]["cargoWeight"] == 31.5 and bins[0]["refDevice"] == ["urn:ngsi-ld:Device:BIN-1"]
    assert bins[0]["location"]["type"] == "Point"  # no own point: the grid's centre
    conforms(bins[0], "WasteContainer")
    devices = api.get(url, {"type": "Device", "options": "keyValues"}).json()
    assert {e["serialNumber"] for e in devices} == {"SL-1", "BIN-1", "SMK-1"}
    for e in devices:
        conforms(e, "Device")
    by_serial = {e["serialNumber"]: e for e in devices}
    assert by_serial["BIN-1"]["batteryLevel"] == 0.8 and by_serial["SL-1"]["deviceCategory"] == ["actuator"]
    measurements = api.get(url, {"type": "DeviceMeasurement", "options": "keyValues", "limit": 100}).json()
    assert len(measurements) == 8  # 4 + 3 + 1 latest values in scope
    for e in measurements:
        conforms(e, "DeviceMeasurement")
    fill = next(e for e in measurements if e["measurementType"] == "fill_level")
    assert fill["id"] == "urn:ngsi-ld:DeviceMeasurement:BIN-1:fill_level" and fill["numValue"] == 97 and fill["unit"] == "%"
    assert fill["refDevice"] == "urn:ngsi-ld:Device:BIN-1" and fill["dateObserved"].endswith("Z")
    alerts = api.get(url, {"type": "Alert", "options": "keyValues"}).json()
    assert {a["alertSource"] for a in alerts} == {"urn:ngsi-ld:Device:BIN-1", "urn:ngsi-ld:Device:SMK-1"}
    for a in alerts:
        conforms(a, "Alert")
    smoke = next(a for a in alerts if a["alertSource"].endswith("SMK-1"))
    assert smoke["severity"] == "critical" and smoke["category"] == "security" and smoke["subCategory"] == "buildingFire"
    assert "validTo" not in smoke


def test_D7_normalized_form_and_context(tree, fleet, api_as):
    api = api_as(viewer(tree.community_a))
    r = api.get("ngsi-ld/v1/entities", {"type": "Streetlight"})
    assert r["Content-Type"] == "application/json"
    assert r["Link"] == f'<{SDM_CONTEXT["Streetlight"]}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    e = r.json()[0]
    assert "@context" not in e
    assert e["powerState"] == {"type": "Property", "value": "on", "observedAt": "2025-11-23T12:13:20Z"}
    assert e["location"]["type"] == "GeoProperty" and e["location"]["value"]["type"] == "Point"
    assert e["refDevice"] == {"type": "Relationship", "object": "urn:ngsi-ld:Device:SL-1"}
    ld = api.get("ngsi-ld/v1/entities", {"type": "Alert"}, HTTP_ACCEPT="application/ld+json")
    assert ld["Content-Type"] == "application/ld+json" and "Link" not in ld
    alert = ld.json()[0]
    assert alert["@context"] == [CORE_CONTEXT, SDM_CONTEXT["Alert"]]
    assert alert["dateIssued"]["value"]["@type"] == "DateTime" and alert["alertSource"]["type"] == "Relationship"
    # the same alert, cleared, carries validTo
    Alarm.objects.filter(pk=int(alert["id"].rsplit(":", 1)[1])).update(status="cleared", cleared_at=Alarm.objects.get(pk=int(alert["id"].rsplit(":", 1)[1])).started_at)
    one = api.get(f"ngsi-ld/v1/entities/{alert['id']}", {"options": "keyValues"}, HTTP_ACCEPT="application/ld+json").json()
    assert one["id"] == alert["id"] and one["validTo"] == one["validFrom"] and one["@context"][0] == CORE_CONTEXT
    m = api.get("ngsi-ld/v1/entities/urn:ngsi-ld:DeviceMeasurement:BIN-1:weight").json()
    assert m["numValue"] == {"type": "Property", "value": 31.5, "observedAt": "2025-11-23T12:13:20Z"}
    assert m["dateObserved"]["value"]["@value"] == "2025-11-23T12:13:20Z"


def test_D7_scope_404_and_bad_input(tree, fleet, api_as):
    api = api_as(viewer(tree.community_a))
    for urn in ("urn:ngsi-ld:WasteContainer:BIN-B", "urn:ngsi-ld:Device:BIN-B", "urn:ngsi-ld:DeviceMeasurement:BIN-B:fill_level",
                "urn:ngsi-ld:Streetlight:SMK-1", "urn:ngsi-ld:Device:nope", "urn:ngsi-ld:Alert:x", "not-a-urn"):
        r = api.get(f"ngsi-ld/v1/entities/{urn}")
        assert r.status_code == 404 and r.json()["code"] == "ngsi_ld.not_found", urn
    other_alert = Alarm.objects.get(device=fleet["other"], rule__code="bin_overflow")
    assert api.get(f"ngsi-ld/v1/entities/urn:ngsi-ld:Alert:{other_alert.pk}").status_code == 404
    assert api_as(viewer(tree.community_b)).get(f"ngsi-ld/v1/entities/urn:ngsi-ld:Alert:{other_alert.pk}").status_code == 200
    r = api.get("ngsi-ld/v1/entities", {"type": "Parking"})
    assert r.status_code == 422 and r.json()["code"] == "ngsi_ld.bad_type"
    assert api.get("ngsi-ld/v1/entities", {"type": "Device", "limit": 1001}).json()["code"] == "ngsi_ld.bad_limit"
    assert api.get("ngsi-ld/v1/entities").status_code == 422  # type is required
    # no device.view at all: nothing
    nobody = api_as(account(perms=[IotPerm.ALARM_VIEW], scope=tree.community_a))
    assert nobody.get("ngsi-ld/v1/entities", {"type": "Device"}).json() == []


def test_D7_pagination_limit_offset_count(tree, api_as, django_assert_max_num_queries):
    for i in range(7):
        d, _ = device(tree.grid_a, "trash_bin", serial=f"BIN-{i}")
        send(d, {"ts": 1763900000000, "values": {"fill_level": 10 * i, "weight": i}})
    api = api_as(viewer(tree.community_a))
    with django_assert_max_num_queries(8):
        r = api.get("ngsi-ld/v1/entities", {"type": "WasteContainer", "limit": 3, "offset": 0, "count": "true"})
    assert r["NGSILD-Results-Count"] == "7"
    pages = [r.json()] + [api.get("ngsi-ld/v1/entities", {"type": "WasteContainer", "limit": 3, "offset": o}).json() for o in (3, 6)]
    ids = [e["id"] for p in pages for e in p]
    assert [len(p) for p in pages] == [3, 3, 1] and len(set(ids)) == 7
    with django_assert_max_num_queries(8):
        r = api.get("ngsi-ld/v1/entities", {"type": "DeviceMeasurement", "limit": 1000})
    assert len(r.json()) == 14
    assert len(api.get("ngsi-ld/v1/entities", {"type": "Device"}).json()) == 7  # default limit 20


def test_D7_served_at_api_v1_ngsi_ld_with_the_old_iot_path_as_alias(tree, fleet, api_as, client):
    api = api_as(viewer(tree.community_a))
    new = api.get("ngsi-ld/v1/entities", {"type": "WasteContainer"})
    old = api.get("iot/ngsi-ld/v1/entities", {"type": "WasteContainer"})
    assert new.status_code == old.status_code == 200 and new.json() == old.json() and new["Link"] == old["Link"]
    urn = "urn:ngsi-ld:WasteContainer:BIN-1"
    assert api.get(f"iot/ngsi-ld/v1/entities/{urn}").json() == api.get(f"ngsi-ld/v1/entities/{urn}").json()
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/ngsi-ld/v1/entities" in paths and "/api/v1/iot/ngsi-ld/v1/entities" not in paths


def test_D7_waste_container_filling_level_and_last_emptying(tree, fleet, api_as):
    from linli.iot.environment import bin_collect

    bin_ = fleet["bin"]
    admin = account(perms=[IotPerm.DEVICE_VIEW, IotPerm.BIN_COLLECT], scope=tree.community_a)
    api = api_as(admin)
    urn = "urn:ngsi-ld:WasteContainer:BIN-1"
    before = api.get(f"ngsi-ld/v1/entities/{urn}", {"options": "keyValues"}).json()
    assert before["fillingLevel"] == 0.97 and "dateLastEmptying" not in before
    c = bin_collect(actor=admin, device=bin_)
    kv = api.get(f"ngsi-ld/v1/entities/{urn}", {"options": "keyValues"}).json()
    assert kv["dateLastEmptying"] == c.collected_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    conforms(kv, "WasteContainer")
    norm = api.get(f"ngsi-ld/v1/entities/{urn}").json()
    assert norm["dateLastEmptying"] == {"type": "Property", "value": {"@type": "DateTime", "@value": kv["dateLastEmptying"]}}
    assert norm["fillingLevel"]["type"] == "Property" and norm["fillingLevel"]["value"] == 0.97 and "observedAt" in norm["fillingLevel"]
    listed = api.get("ngsi-ld/v1/entities", {"type": "WasteContainer", "options": "keyValues"}).json()
    assert listed[0]["dateLastEmptying"] == kv["dateLastEmptying"]
