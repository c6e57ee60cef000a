"""Console case pages (issue 4 surfaces): inbox per role with SLA countdowns, map, case page with
timeline and action forms, staff intake with duplicate candidates, league tables (C1–C4, L3, O2)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from linli.cases.models import Case, CaseEvent, CaseRating
from linli.cases.services import (
    case_accept,
    case_close,
    case_dispatch,
    case_rate,
    case_resolve,
    case_start,
    case_verify,
)
from tests.cases.world import A_LAT, A_LNG, B_LAT, B_LNG, make_world, report

pytestmark = pytest.mark.django_db
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture(autouse=True)
def _fast(settings, tmp_path):
    from linli.places import spatial

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path
    spatial.invalidate()
    yield
    spatial.invalidate()


@pytest.fixture
def w(tree):
    return make_world(tree)


def as_(account) -> Client:
    c = Client()
    c.force_login(account)
    return c


def test_C3_anonymous_is_sent_to_login(w):
    case = report(w)
    for url in (reverse("console:cases_home"), reverse("console:cases_case", args=[case.pk]), reverse("console:cases_league"),
                reverse("console:cases_new")):
        r = Client().get(url)
        assert r.status_code == 302 and reverse("console:login") in r.url


def test_C3_inbox_tabs_and_sla_countdown(w):
    ok = report(w, title="井盖松动")
    late = report(w, title="路灯不亮")
    Case.objects.filter(pk=late.pk).update(due_at=timezone.now() - dt.timedelta(hours=3), warn_at=timezone.now() - dt.timedelta(hours=5),
                                           sla_started_at=timezone.now() - dt.timedelta(days=3))
    c = as_(w.worker_a)
    page = c.get(reverse("console:cases_home"))
    assert page.status_code == 200
    assert ok.number in page.text and late.number in page.text
    assert "已超时 3小时" in page.text and "剩余" in page.text and 'class="badge sla late"' in page.text
    overdue = c.get(reverse("console:cases_home"), {"box": "overdue"})
    assert late.number in overdue.text and ok.number not in overdue.text
    mine = as_(w.grid_worker_a).get(reverse("console:cases_home"), {"box": "mine"})
    assert ok.number in mine.text  # routed to grid A's worker at intake


def test_C3_inbox_filters_status_and_category(w):
    a = report(w, title="人行道破损")
    b = report(w, category=w.urgent, title="井盖缺失")
    case_accept(actor=w.worker_a, case=b)
    c = as_(w.worker_a)
    by_status = c.get(reverse("console:cases_home"), {"box": "area", "status": "accepted"})
    assert b.number in by_status.text and a.number not in by_status.text
    by_cat = c.get(reverse("console:cases_home"), {"box": "area", "category": w.cat.pk})
    assert a.number in by_cat.text and b.number not in by_cat.text


def test_C3_inbox_cursor_pagination(w, monkeypatch):
    from linli.console import views_cases

    monkeypatch.setattr(views_cases, "PAGE_SIZE", 2)
    cases = [report(w, title=f"问题{i}") for i in range(3)]
    c = as_(w.worker_a)
    first = c.get(reverse("console:cases_home"), {"box": "area"})
    assert cases[2].number in first.text and cases[0].number not in first.text and 'rel="next"' in first.text
    nxt = first.text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = c.get(reverse("console:cases_home") + nxt)
    assert cases[0].number in second.text and cases[2].number not in second.text


def test_O2_cross_community_case_is_404_and_not_listed(w):
    b_case = report(w, actor=w.grid_worker_b, lat=B_LAT, lng=B_LNG, title="乙社区问题")
    c = as_(w.worker_a)
    assert c.get(reverse("console:cases_case", args=[b_case.pk])).status_code == 404
    assert c.post(reverse("console:cases_act", args=[b_case.pk, "accept"]), {"note": "x"}).status_code == 404
    assert b_case.number not in c.get(reverse("console:cases_home"), {"box": "area"}).text
    geo = c.get(reverse("console:cases_map")).json()
    assert b_case.pk not in [f["id"] for f in geo["features"] if f["geometry"]["type"] == "Point"]
    assert c.get(reverse("console:cases_photo", args=[b_case.pk]), {"ref": "x"}).status_code == 404


def test_C1_map_geojson_has_open_case_points(w):
    case = report(w)
    geo = as_(w.worker_a).get(reverse("console:cases_map")).json()
    points = [f for f in geo["features"] if f["geometry"]["type"] == "Point"]
    assert [p["id"] for p in points] == [case.pk]
    assert points[0]["geometry"]["coordinates"] == [A_LNG, A_LAT]
    grids = [f for f in geo["features"] if f["geometry"]["type"] != "Point"]
    assert [g["properties"]["id"] for g in grids] == [w.tree.grid_a.pk]  # community A's grid only, not clickable
    assert grids[0]["properties"]["self"]
    Case.objects.filter(pk=case.pk).update(lat=None, lng=None)  # reported at a house: shown at the grid centre
    point = next(f for f in as_(w.worker_a).get(reverse("console:cases_map")).json()["features"] if f["geometry"]["type"] == "Point")
    assert point["properties"]["approx"] and point["geometry"]["coordinates"] == [w.tree.grid_a.centroid_lng, w.tree.grid_a.centroid_lat]


def test_C3_case_page_masks_contact_and_shows_only_allowed_actions(w):
    case = report(w, actor=w.hotline, channel="hotline", reporter_contact="13912345678")
    page = as_(w.worker_a).get(reverse("console:cases_case", args=[case.pk]))
    assert page.status_code == 200
    assert "13912345678" not in page.text and "139****5678" in page.text
    assert reverse("console:cases_act", args=[case.pk, "accept"]) in page.text
    assert reverse("console:cases_act", args=[case.pk, "resolve"]) not in page.text
    handler = as_(w.handler).get(reverse("console:cases_case", args=[case.pk]))
    assert handler.status_code == 200  # the routed department sees it
    assert reverse("console:cases_act", args=[case.pk, "accept"]) not in handler.text


def test_C3_L3_full_loop_through_console_forms(w):
    case = report(w)
    worker, handler = as_(w.worker_a), as_(w.handler)
    act = lambda c, name, **data: c.post(reverse("console:cases_act", args=[case.pk, name]), data)  # noqa: E731
    assert act(worker, "accept", note="已受理").status_code == 302
    assert act(worker, "dispatch", organisation=w.dept.pk, note="请处置").status_code == 302
    assert act(handler, "start").status_code == 302
    photo = SimpleUploadedFile("after.png", PNG, content_type="image/png")
    r = handler.post(reverse("console:cases_act", args=[case.pk, "resolve"]), {"note": "已修复", "photos": [photo]})
    assert r.status_code == 302
    ev = CaseEvent.objects.get(case=case, kind="resolved")
    assert len(ev.photos) == 1
    img = worker.get(reverse("console:cases_photo", args=[case.pk]), {"ref": ev.photos[0]})
    assert img.status_code == 200 and img["Content-Type"] == "image/png"
    assert act(worker, "verify", note="现场核实").status_code == 302
    assert act(worker, "close").status_code == 302
    assert act(worker, "rate", score="4", comment="电话回访满意").status_code == 302
    case.refresh_from_db()
    assert case.status == "closed" and CaseRating.objects.get(case=case).on_behalf
    page = worker.get(reverse("console:cases_case", args=[case.pk]))
    for label in ("受理", "派单", "开始处置", "办结", "核查通过", "结案", "评价", "已修复"):
        assert label in page.text


def test_C3_errors_are_shown_in_chinese(w, tmp_path):
    case = report(w)
    case_accept(actor=w.worker_a, case=case)
    case_dispatch(actor=w.worker_a, case=case, to=w.dept)
    case_start(actor=w.handler, case=case)
    c = as_(w.handler)
    photo = SimpleUploadedFile("p.png", PNG, content_type="image/png")
    empty = c.post(reverse("console:cases_act", args=[case.pk, "resolve"]), {"note": "", "photos": [photo]})
    assert empty.status_code == 422 and "请填写说明" in empty.text
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # the failed step's upload is removed again
    illegal = c.post(reverse("console:cases_act", args=[case.pk, "close"]), {})
    assert illegal.status_code == 409 and "不能执行" in illegal.text
    denied = as_(w.street_supervisor).post(reverse("console:cases_act", args=[case.pk, "resolve"]), {"note": "x"})
    assert denied.status_code == 403 and "没有执行此操作的权限" in denied.text
    bad_photo = c.post(reverse("console:cases_act", args=[case.pk, "comment"]),
                       {"note": "看", "photos": [SimpleUploadedFile("x.txt", b"hi", content_type="text/plain")]})
    assert bad_photo.status_code == 422 and "照片须为" in bad_photo.text


def test_L3_transfer_cohandle_reassign_return_comment(w):
    case = report(w)
    case_accept(actor=w.worker_a, case=case)
    case_dispatch(actor=w.worker_a, case=case, to=w.dept)
    worker, handler = as_(w.worker_a), as_(w.handler)
    url = lambda name: reverse("console:cases_act", args=[case.pk, name])  # noqa: E731
    assert worker.post(url("co_handle"), {"organisations": [w.property_co.pk], "note": "协助"}).status_code == 302
    assert handler.post(url("transfer"), {"organisation": w.dept2.pk, "note": "属住建职责"}).status_code == 302
    case.refresh_from_db()
    assert case.assigned_org_id == w.dept2.pk
    assert worker.post(url("reassign"), {"organisation": w.dept.pk, "account": w.handler.pk}).status_code == 302
    assert handler.post(url("return"), {"note": "非本单位职责"}).status_code == 302
    assert worker.post(url("comment"), {"note": "请重新研判"}).status_code == 302
    case.refresh_from_db()
    assert case.status == "accepted"
    kinds = list(CaseEvent.objects.filter(case=case).values_list("kind", flat=True))
    assert kinds[-5:] == ["co_handle_added", "transferred", "reassigned", "returned", "commented"]


def test_C1_staff_report_offers_duplicates_then_files(w):
    first = report(w)
    c = as_(w.hotline)
    data = {"channel": "hotline", "category": w.cat.pk, "title": "人行道砖松了", "description": "来电反映", "lat": A_LAT + 0.0001,
            "lng": A_LNG, "reporter_contact": "13800001111"}
    offered = c.post(reverse("console:cases_new"), data)
    assert offered.status_code == 200 and first.number in offered.text and "可能是同一问题" in offered.text
    assert Case.objects.count() == 1
    photo = SimpleUploadedFile("scene.png", PNG, content_type="image/png")
    filed = c.post(reverse("console:cases_new"), {**data, "confirm_new": "on", "photos": [photo]})
    assert filed.status_code == 302
    new = Case.objects.exclude(pk=first.pk).get()
    assert new.channel == "hotline" and new.reporter_contact_masked == "138****1111" and len(new.photos) == 1
    # the accepting worker sees the duplicate on the new case and merges it
    worker = as_(w.worker_a)
    page = worker.get(reverse("console:cases_case", args=[new.pk]))
    assert first.number in page.text and "合并到此工单" in page.text
    assert worker.post(reverse("console:cases_act", args=[new.pk, "merge"]), {"into": first.pk}).status_code == 302
    new.refresh_from_db()
    assert new.status == "merged" and new.merged_into_id == first.pk


def test_C1_staff_report_errors(w):
    c = as_(w.hotline)
    missing = c.post(reverse("console:cases_new"), {"channel": "hotline", "category": w.cat.pk, "title": "无位置"})
    assert missing.status_code == 422 and "经纬度" in missing.text
    outside = c.post(reverse("console:cases_new"), {"channel": "hotline", "category": w.cat.pk, "title": "外地", "lat": 30.0, "lng": 100.0})
    assert outside.status_code == 422 and "不在任何网格" in outside.text
    assert as_(w.handler).get(reverse("console:cases_new")).status_code == 403
    by_grid = c.post(reverse("console:cases_new"), {"channel": "hotline", "category": w.cat.pk, "title": "按网格登记", "region": w.tree.grid_b.pk})
    assert by_grid.status_code == 302 and Case.objects.get(title="按网格登记").region_id == w.tree.grid_b.pk
    form = as_(w.worker_a).get(reverse("console:cases_new"))
    assert w.tree.grid_a.name in form.text and w.tree.grid_b.name not in form.text
    assert as_(w.worker_b).post(reverse("console:cases_new"), {"channel": "patrol", "category": w.cat.pk, "title": "越界",
                                                               "lat": A_LAT, "lng": A_LNG}).status_code == 404


def test_C4_league_tables_by_org_and_grid(w):
    case = report(w)
    case_accept(actor=w.worker_a, case=case)
    case_dispatch(actor=w.worker_a, case=case, to=w.dept)
    case_start(actor=w.handler, case=case)
    case_resolve(actor=w.handler, case=case, note="好了")
    case_verify(actor=w.worker_a, case=case)
    case_close(actor=w.worker_a, case=case)
    case_rate(actor=w.worker_a, case=case, score=5)
    c = as_(w.district_supervisor)
    month = timezone.localdate().strftime("%Y-%m")
    by_org = c.get(reverse("console:cases_league"), {"by": "org", "month": month})
    assert by_org.status_code == 200 and w.dept.name in by_org.text and "100%" in by_org.text and 'data-chart="league-data"' in by_org.text
    by_grid = c.get(reverse("console:cases_league"), {"by": "grid", "month": month})
    assert w.tree.grid_a.name in by_grid.text
    old = c.get(reverse("console:cases_league"), {"month": "2020-01"})
    assert "本月没有可统计的工单" in old.text


def test_C3_inbox_query_count_is_flat(w, django_assert_max_num_queries):
    for i in range(3):
        report(w, title=f"事件{i}")
    c = as_(w.worker_a)
    c.get(reverse("console:cases_home"))  # warm caches (session, grants)
    with django_assert_max_num_queries(12):
        few = c.get(reverse("console:cases_home"), {"box": "area"})
    for i in range(12):
        report(w, title=f"更多{i}")
    with django_assert_max_num_queries(12):
        many = c.get(reverse("console:cases_home"), {"box": "area"})
    assert few.status_code == many.status_code == 200
