"""P1/P4: boundary import and export as GeoJSON, all-or-nothing with row-level errors."""

import json

import pytest
from django.core.management import CommandError, call_command

from linli.audit.models import AuditEntry
from linli.core.errors import Invalid
from linli.orgs.perms import Perm
from linli.places import selectors, services, spatial
from linli.places.models import Level, Region
from tests import factories as f
from tests.factories import square


def _fc(*features):
    return {"type": "FeatureCollection", "features": list(features)}


def _feat(code, geometry, **props):
    return {"type": "Feature", "geometry": geometry, "properties": {"code": code, **props}}


def test_P1_import_creates_and_updates_parent_first(tree):
    fc = _fc(
        # child listed before its (new) parent community: import orders by level
        _feat("370102001003001", square(117.02, 36.65, 0.005), level="grid", name="丙一网格", parent_code="370102001003"),
        _feat("370102001003", square(117.02, 36.65, 0.01), level="community", name="丙社区", parent_code="370102001"),
        _feat("370102001001001", square(117.0, 36.65, 0.012)),  # existing grid A: new boundary
        _feat("370102001002001", tree.grid_b.boundary),  # unchanged
    )
    report = services.boundaries_import(actor=services.SYSTEM, feature_collection=fc)
    assert report | {"errors": []} == {"ok": True, "dry_run": False, "features": 4, "created": 2, "updated": 1, "unchanged": 1, "errors": []}
    grid = Region.objects.get(code="370102001003001")
    assert Region.objects.get_parent(grid).code == "370102001003" and grid.area_km2 > 0
    assert spatial.locate(36.652, 117.022).grid_code == "370102001003001"
    assert AuditEntry.objects.filter(action="boundaries.import").count() == 1


def test_P1_import_is_all_or_nothing_with_row_errors(tree):
    fc = _fc(
        _feat("370102001003", square(117.02, 36.65, 0.01), level="community", name="丙社区", parent_code="370102001"),
        _feat("370102001004", {"type": "Polygon", "coordinates": [[[117, 36], [117.1, 36]]]}, level="community", name="丁", parent_code="370102001"),
        _feat("999", square(117.0, 36.6, 0.01), level="grid", name="坏", parent_code="370102001001"),
        _feat("370102009001", square(117.0, 36.6, 0.01), level="community", name="孤", parent_code="370102009"),
        {"type": "Feature", "geometry": None, "properties": {}},
    )
    with pytest.raises(Invalid) as exc:
        services.boundaries_import(actor=services.SYSTEM, feature_collection=fc)
    errors = exc.value.detail["errors"]
    assert [(e["index"], e["error"]) for e in errors] == [
        (1, "boundary.ring_too_short"), (2, "region.bad_code"), (3, "boundary_import.parent_missing"), (4, "boundary_import.code_missing"),
    ]
    assert not Region.objects.filter(code="370102001003").exists()
    report = services.boundaries_import(actor=services.SYSTEM, feature_collection=fc, dry_run=True)
    assert not report["ok"] and len(report["errors"]) == 4 and report["created"] == 1


def test_P1_import_dry_run_writes_nothing(tree):
    fc = _fc(_feat("370102001003", square(117.02, 36.65, 0.01), level="community", name="丙社区", parent_code="370102001"))
    report = services.boundaries_import(actor=services.SYSTEM, feature_collection=fc, dry_run=True)
    assert report["ok"] and report["created"] == 1 and report["dry_run"]
    assert not Region.objects.filter(code="370102001003").exists()
    assert not AuditEntry.objects.exists()


def test_O2_import_outside_scope_is_row_error(tree):
    worker = f.account(perms=[Perm.PLACE_VIEW, Perm.PLACE_EDIT, Perm.BOUNDARY_EDIT], scope=tree.community_a)
    fc = _fc(_feat(tree.grid_b.code, square(117.0, 36.6, 0.01)), _feat(tree.grid_a.code, square(117.0, 36.65, 0.011)))
    with pytest.raises(Invalid) as exc:
        services.boundaries_import(actor=worker, feature_collection=fc)
    assert [(e["index"], e["error"]) for e in exc.value.detail["errors"]] == [(0, "not_found")]


def test_P1_geojson_round_trip_via_commands(tree, tmp_path, db):
    out = tmp_path / "grids.geojson"
    call_command("places_export_geojson", "--out", str(out))
    data = json.loads(out.read_text(encoding="utf-8"))
    assert len(data["features"]) == 7
    props = {ft["properties"]["code"]: ft["properties"] for ft in data["features"]}
    assert props["370102001001001"]["parent_code"] == "370102001001" and props["370102001001001"]["level"] == "grid"
    # Re-importing the export changes nothing.
    assert services.boundaries_import(actor=services.SYSTEM, feature_collection=data)["unchanged"] == 7
    # Into an empty database it rebuilds the same tree.
    Region.objects.all().delete()
    call_command("places_import_geojson", str(out))
    assert sorted(Region.objects.values_list("code", "level")) == sorted((c, p["level"]) for c, p in props.items())
    again = selectors.boundaries_geojson(actor=services.SYSTEM)
    assert [ft["geometry"] for ft in again["features"]] == [ft["geometry"] for ft in data["features"]]


def test_P1_export_level_filter_and_command_errors(tree, tmp_path, capsys):
    call_command("places_export_geojson", "--level", "grid")
    data = json.loads(capsys.readouterr().out)
    assert {ft["properties"]["code"] for ft in data["features"]} == {tree.grid_a.code, tree.grid_b.code}
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps(_fc(_feat("1", square(0, 0, 1), level="grid", name="x", parent_code=tree.community_a.code))))
    with pytest.raises(CommandError):
        call_command("places_import_geojson", str(bad))
    with pytest.raises(CommandError):
        call_command("places_import_geojson", str(bad), "--dry-run")
    with pytest.raises(CommandError):
        call_command("places_import_geojson", str(tmp_path / "missing.geojson"))


def test_P1_import_api(api_as, tree):
    admin = f.account(perms=[Perm.PLACE_VIEW, Perm.PLACE_EDIT, Perm.BOUNDARY_EDIT], scope=tree.city)
    c = api_as(admin)
    fc = _fc(_feat("370102001003", square(117.02, 36.65, 0.01), level=Level.COMMUNITY, name="丙社区", parent_code="370102001"))
    r = c.post("/api/v1/places/boundaries/import?dry_run=true", fc)
    assert r.status_code == 200 and r.json()["created"] == 1 and r.json()["dry_run"] is True
    assert not Region.objects.filter(code="370102001003").exists()
    r = c.post("places/boundaries/import", fc)
    assert r.status_code == 200 and r.json()["created"] == 1
    bad = _fc(_feat("370102001004", square(117.0, 36.6, 0.01), level="grid", name="x", parent_code="370102001"))
    r = c.post("places/boundaries/import", bad)
    assert r.status_code == 422 and r.json()["code"] == "boundary_import.failed"
    assert r.json()["detail"]["errors"][0]["error"] == "region.wrong_level"
    r = c.post("places/boundaries/import", {"type": "Feature", "features": []})
    assert r.status_code == 422 and r.json()["code"] == "boundary_import.not_feature_collection"
    fc2 = c.get("places/boundaries.geojson", {"level": "community"}).json()
    assert {ft["properties"]["code"] for ft in fc2["features"]} == {"370102001001", "370102001002", "370102001003"}
    assert c.get("places/boundaries.geojson", {"parent_id": tree.street.pk}).json()["features"][0]["properties"]["level"] == "community"
