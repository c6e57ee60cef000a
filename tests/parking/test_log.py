"""Decision log (K3): every plate entry/exit decision stored with plate, lot, direction, result, reason,
time and session, in the decision's own transaction; statistics per lot and hour from it; the API.
And the write path of plate_entry/plate_exit pinned statement by statement (K2 p99 work)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from linli.parking import decision
from linli.parking import services as svc
from linli.parking.models import GuidanceDisplay, ParkingEvent, ParkingSession
from linli.parking.perms import ParkingPerm as P
from tests import factories as f

from .conftest import T0

pytestmark = pytest.mark.django_db
H = dt.timedelta(hours=1)


def _log(lot):
    return list(ParkingEvent.objects.filter(lot=lot).order_by("id").values_list("plate", "direction", "allowed", "reason", "session_id"))


def test_K3_every_entry_and_exit_decision_is_logged(lot_site):
    s = lot_site
    svc.flag_add(actor=s.manager, region=s.tree.community_a, plate="鲁B99999", kind="stolen", reason="报案")
    a = svc.plate_entry(lot=s.lot, plate="鲁A12345", at=T0)
    again = svc.plate_entry(lot=s.lot, plate="鲁A12345", at=T0 + H / 2)
    svc.plate_entry(lot=s.lot, plate="鲁B99999", at=T0)
    svc.plate_entry(lot=s.lot, plate="ABC", at=T0)
    due = svc.plate_exit(lot=s.lot, plate="鲁A12345", at=T0 + 2 * H)
    svc.plate_exit(lot=s.lot, plate="鲁A54321", at=T0 + 2 * H)
    assert again.allowed and again.reason == "already_inside" and again.session_id == a.session_id
    assert _log(s.lot) == [
        ("鲁A12345", "entry", True, "visitor", a.session_id),
        ("鲁A12345", "entry", True, "already_inside", a.session_id),
        ("鲁B99999", "entry", False, "plate_stolen", None),
        ("ABC", "entry", False, "plate_invalid", None),
        ("鲁A12345", "exit", False, "payment_due", a.session_id),
        ("鲁A54321", "exit", False, "no_session", None),
    ]
    assert ParkingEvent.objects.get(reason="payment_due").amount_due_fen == due.amount_due_fen == 700
    assert ParkingSession.objects.filter(plate="鲁A12345").count() == 1
    assert ParkingEvent.objects.filter(lot=s.lot_b).count() == 0


def test_K3_overuse_denial_and_multi_plate_pass_logged(lot_site):
    s = lot_site
    svc.lot_update(actor=s.manager, lot=s.lot, overuse_policy="deny")
    svc.pass_create(actor=s.manager, lot=s.lot, person=s.owner, kind="monthly", plates_=["鲁A12345", "鲁A23456"], valid_from=T0 - 24 * H,
                    valid_until=T0 + 24 * H)
    first = svc.plate_entry(lot=s.lot, plate="鲁A12345", at=T0)
    assert svc.plate_entry(lot=s.lot, plate="鲁A12345", at=T0 + H).reason == "already_inside"  # its own car is not 一卡多车
    assert svc.plate_entry(lot=s.lot, plate="鲁A23456", at=T0 + H).reason == "pass_overuse"
    assert [r[3] for r in _log(s.lot)] == ["pass", "already_inside", "pass_overuse"]
    assert _log(s.lot)[1][4] == first.session_id


def _lock() -> str:
    return "SELECT FOR UPDATE" if connection.features.has_select_for_update else "SELECT"


def _statements(fn) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return [q["sql"].split()[0].upper() + (" FOR UPDATE" if "FOR UPDATE" in q["sql"].upper() else "") for q in ctx.captured_queries
            if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT"))]


def test_K2_plate_entry_write_path_is_two_inserts(lot_site, settings):
    s = lot_site
    svc.pass_create(actor=s.manager, lot=s.lot, person=s.owner, kind="monthly", plates_=["鲁A12345"], valid_from=T0 - 24 * H,
                    valid_until=T0 + 24 * H)
    svc.pass_create(actor=s.manager, lot=s.lot, person=s.owner, kind="monthly", plates_=["鲁A11111", "鲁A22222"], valid_from=T0 - 24 * H,
                    valid_until=T0 + 24 * H)
    decision.get_index()
    settings.LINLI_PARKING_CHECK_MS = 60_000  # the index is warm: no change-log poll inside the measured calls
    assert _statements(lambda: svc.plate_entry(lot=s.lot.pk, plate="鲁A54321", at=T0)) == ["INSERT", "INSERT"]  # visitor
    assert _statements(lambda: svc.plate_entry(lot=s.lot.pk, plate="鲁A12345", at=T0)) == ["INSERT", "INSERT"]  # one-plate pass
    # a pass shared by two cars locks its own row (the narrowest) while counting its cars inside
    assert _statements(lambda: svc.plate_entry(lot=s.lot.pk, plate="鲁A11111", at=T0)) == [_lock(), "SELECT", "INSERT", "INSERT"]
    assert _statements(lambda: svc.plate_entry(lot=s.lot.pk, plate="鲁A0000I", at=T0)) == ["INSERT"]  # invalid plate: the log only
    assert _statements(lambda: svc.plate_exit(lot=s.lot.pk, plate="鲁A12345", at=T0 + H)) == [_lock(), "UPDATE", "INSERT"]
    assert _statements(lambda: svc.plate_exit(lot=s.lot.pk, plate="鲁A54321", at=T0 + 3 * H)) == [_lock(), "UPDATE", "INSERT"]  # amount due
    assert _statements(lambda: svc.plate_exit(lot=s.lot.pk, plate="鲁A54321", at=T0 + 3 * H)) == [_lock(), "INSERT"]  # unchanged: no write


def test_K3_event_stats_per_hour_from_the_log(lot_site, api_as):
    s = lot_site
    svc.flag_add(actor=s.manager, region=s.tree.community_a, plate="鲁B99999", kind="blocked", reason="欠费")
    svc.plate_entry(lot=s.lot, plate="鲁A12345", at=T0 + 5 * dt.timedelta(minutes=1))
    svc.plate_entry(lot=s.lot, plate="鲁A23456", at=T0 + 10 * dt.timedelta(minutes=1))
    svc.plate_entry(lot=s.lot, plate="鲁B99999", at=T0 + 20 * dt.timedelta(minutes=1))
    svc.plate_exit(lot=s.lot, plate="鲁A12345", at=T0 + H + 10 * dt.timedelta(minutes=1))  # free minutes are 15: 70 min is due
    svc.plate_exit(lot=s.lot, plate="鲁A23456", at=T0 + H + 20 * dt.timedelta(minutes=1))
    r = api_as(s.manager).get(f"parking/lots/{s.lot.pk}/event-stats", {"since": T0.isoformat(), "until": (T0 + 2 * H).isoformat()})
    assert r.status_code == 200
    hours = r.json()
    assert [h["hour"][11:16] for h in hours] == ["09:00", "10:00"]  # Asia/Shanghai hours
    assert (hours[0]["entries"], hours[0]["entries_denied"], hours[1]["exits"], hours[1]["exits_denied"]) == (2, 1, 0, 2)
    assert api_as(s.other).get(f"parking/lots/{s.lot.pk}/event-stats").status_code == 404
    bad = api_as(s.manager).get(f"parking/lots/{s.lot.pk}/event-stats", {"since": T0.isoformat(), "until": (T0 - H).isoformat()})
    assert bad.status_code == 422 and bad.json()["code"] == "parking.stats_range"


def test_K3_events_api_is_paginated_scoped_and_filtered(lot_site, api_as, django_assert_max_num_queries):
    s = lot_site
    for i in range(12):
        svc.plate_entry(lot=s.lot, plate=f"鲁A200{i:02d}", at=T0 + i * dt.timedelta(minutes=1))
    svc.plate_entry(lot=s.lot_b, plate="鲁A30000", at=T0)
    api = api_as(s.manager)
    with django_assert_max_num_queries(6):
        r = api.get("parking/events", {"limit": 5})
    body = r.json()
    assert r.status_code == 200 and len(body["items"]) == 5 and body["next_cursor"]
    assert body["items"][0]["plate"] == "鲁A20011"
    nxt = api.get("parking/events", {"limit": 5, "cursor": body["next_cursor"]}).json()
    assert nxt["items"][0]["plate"] == "鲁A20006"
    assert all(e["lot_id"] == s.lot.pk for e in api.get("parking/events", {"limit": 100}).json()["items"])
    assert [e["plate"] for e in api_as(s.other).get("parking/events").json()["items"]] == ["鲁A30000"]
    assert api.get("parking/events", {"plate": "鲁a20003"}).json()["items"][0]["plate"] == "鲁A20003"
    assert api.get("parking/events", {"direction": "sideways"}).status_code == 422
    assert api_as(f.account(perms=["place.view"], scope=s.tree.community_a)).get("parking/events").json()["items"] == []


def test_K4_display_api_create_and_revoke(lot_site, api_as):
    s = lot_site
    api = api_as(s.manager)
    r = api.post(f"parking/lots/{s.lot.pk}/displays", {"name": "地库入口"})
    assert r.status_code == 201 and r.json()["token"].startswith("gd_") and "/console/parking/wall/gd_" in r.json()["url"]
    token, did = r.json()["token"], r.json()["id"]
    assert GuidanceDisplay.objects.get(pk=did).token_hash != token
    from django.test import Client

    assert Client().get(f"/console/parking/wall/{token}/").status_code == 200
    viewer = f.account(perms=[P.VIEW], scope=s.tree.community_a)
    assert api_as(viewer).post(f"parking/displays/{did}/revoke").status_code == 403
    assert api_as(s.other).post(f"parking/displays/{did}/revoke").status_code == 404
    assert api.post(f"parking/displays/{did}/revoke").json()["revoked_at"]
    assert Client().get(f"/console/parking/wall/{token}/").status_code == 404
    assert api.post(f"parking/lots/{s.lot.pk}/displays", {"name": "  "}).json()["code"] == "parking.display_name"


def test_K2_rule_patch_validates(lot_site, api_as):
    s = lot_site
    api = api_as(s.manager)
    r = api.patch(f"parking/rules/{s.rule.pk}", {"night_start_minute": 1320})
    assert r.status_code == 422 and r.json()["code"] == "parking.rule_night"
    r = api.patch(f"parking/rules/{s.rule.pk}", {"night_start_minute": 1320, "night_end_minute": 420, "night_fen": 300})
    assert r.status_code == 200 and r.json()["night_fen"] == 300
    assert api.patch(f"parking/rules/{s.rule.pk}", {"first_fen": None}).json()["code"] == "parking.rule_field_null"
    assert api.patch(f"parking/rules/{s.rule.pk}", {"step_minutes": 0}).status_code == 422
    assert api_as(s.other).patch(f"parking/rules/{s.rule.pk}", {"name": "x"}).status_code == 404
    assert decision.get_index().lots[s.lot.pk].terms.night_fen == 300  # lots using it bill with the new terms at once


def test_K2_booth_close_by_api(lot_site, api_as):
    s = lot_site
    d = svc.plate_entry(lot=s.lot, plate="鲁A12345", at=T0)
    booth = f.account(perms=[P.VIEW, P.OPERATE], scope=s.tree.community_a)
    assert api_as(booth).post(f"parking/sessions/{d.session_id}/close", {"note": ""}).json()["code"] == "parking.close_note"
    r = api_as(booth).post(f"parking/sessions/{d.session_id}/close", {"note": "相机漏拍"})
    assert r.status_code == 200 and r.json()["status"] == "exited"
    assert api_as(booth).post(f"parking/sessions/{d.session_id}/close", {"note": "again"}).status_code == 409
    assert ParkingEvent.objects.filter(session_id=d.session_id, reason="closed_by_hand").count() == 1


def test_K2_device_entry_endpoint_is_the_two_inserts_end_to_end(lot_site, settings):
    from django.test import Client

    s = lot_site
    decision.get_index()
    settings.LINLI_PARKING_CHECK_MS = 60_000
    c = Client()

    def call():
        r = c.post("/api/v1/parking/device/entry", data={"plate": "鲁A54321"}, content_type="application/json",
                   headers={"Authorization": f"Bearer {s.token}"})
        assert r.status_code == 200 and r.json()["reason"] == "visitor"

    assert _statements(call) == ["INSERT", "INSERT"]  # token from the index, no session/user lookups


@pytest.mark.django_db(transaction=True)
def test_K2_async_commit_is_opt_in_and_only_for_the_decisions_own_transaction(lot_site, settings):
    if connection.vendor != "postgresql":
        pytest.skip("synchronous_commit is a PostgreSQL setting")
    from django.db import transaction

    s = lot_site
    decision.get_index()
    settings.LINLI_PARKING_CHECK_MS = 60_000
    assert _statements(lambda: svc.plate_entry(lot=s.lot.pk, plate="鲁A11111", at=T0)) == ["INSERT", "INSERT"]
    settings.LINLI_PARKING_ASYNC_COMMIT = True
    assert _statements(lambda: svc.plate_entry(lot=s.lot.pk, plate="鲁A22222", at=T0)) == ["SET", "INSERT", "INSERT"]
    with transaction.atomic():  # inside a caller's transaction the caller's durability is left alone
        assert _statements(lambda: svc.plate_entry(lot=s.lot.pk, plate="鲁A33333", at=T0)) == ["INSERT", "INSERT"]
    assert ParkingSession.objects.filter(lot=s.lot).count() == 3
