"""Resident portal case pages: report a problem (my home or a point, photos), my cases only, the
public timeline, rating and reopening within the window (C1 C4 O2)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from linli.cases.models import Case, CaseRating
from linli.cases.services import case_accept, case_close, case_dispatch, case_resolve, case_start, case_verify
from linli.orgs.models import AccountKind
from tests import factories as f
from tests.cases.world import A_LAT, A_LNG, make_world, report

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


def _file(w, **kw) -> Case:
    c = as_(w.resident)
    data = {"category": w.cat.pk, "title": "楼道灯坏了", "description": "三楼楼道灯不亮", "where": f"house:{w.house_a.pk}", **kw}
    r = c.post(reverse("portal:cases_new"), data)
    assert r.status_code == 302, r.text
    return Case.objects.order_by("-id").first()


def _finish(w, case: Case) -> None:
    case_accept(actor=w.worker_a, case=case)
    case_dispatch(actor=w.worker_a, case=case, to=w.dept, note="内部：请尽快")
    case_start(actor=w.handler, case=case)
    case_resolve(actor=w.handler, case=case, note="已更换灯泡")
    case_verify(actor=w.worker_a, case=case)
    case_close(actor=w.worker_a, case=case)


def test_C1_anonymous_goes_to_portal_login_and_staff_to_console(w):
    r = Client().get(reverse("portal:cases_home"))
    assert r.status_code == 302 and reverse("portal:login") in r.url
    assert as_(w.worker_a).get(reverse("portal:cases_home")).url == reverse("console:home")


def test_C1_resident_reports_from_my_home_with_photo(w):
    c = as_(w.resident)
    assert reverse("portal:cases_home") in c.get(reverse("portal:home")).text
    form = c.get(reverse("portal:cases_new"))
    assert form.status_code == 200 and w.house_a.address in form.text
    photo = SimpleUploadedFile("lamp.png", PNG, content_type="image/png")
    case = _file(w, photos=[photo])
    assert case.channel == "portal" and case.house_id == w.house_a.pk and case.reporter_account_id == w.resident.pk
    assert case.region_id == w.tree.grid_a.pk and len(case.photos) == 1
    page = c.get(reverse("portal:cases_case", args=[case.pk]))
    assert page.status_code == 200 and "楼道灯坏了" in page.text and "上报" in page.text
    img = c.get(reverse("portal:cases_photo", args=[case.pk]), {"ref": case.photos[0]})
    assert img.status_code == 200 and img["Content-Type"] == "image/png"
    assert c.get(reverse("portal:cases_photo", args=[case.pk]), {"ref": "../../etc/passwd"}).status_code == 404
    assert case.number in c.get(reverse("portal:cases_home")).text


def test_C1_resident_reports_at_a_point_and_errors_are_chinese(w):
    case = _file(w, where="point", lat=A_LAT, lng=A_LNG, address="小区南门")
    assert case.house_id is None and case.lat == A_LAT
    c = as_(w.resident)
    missing = c.post(reverse("portal:cases_new"), {"category": w.cat.pk, "title": "x", "where": "point"})
    assert missing.status_code == 422 and "请填写经纬度" in missing.text
    outside = c.post(reverse("portal:cases_new"), {"category": w.cat.pk, "title": "x", "where": "point", "lat": 30, "lng": 100})
    assert outside.status_code == 422 and "不在任何网格" in outside.text
    other = f.house(w.tree.grid_b)
    forged = c.post(reverse("portal:cases_new"), {"category": w.cat.pk, "title": "x", "where": f"house:{other.pk}"})
    assert forged.status_code == 422  # not one of my homes: not a valid choice


def test_O2_resident_sees_only_own_cases(w):
    mine = _file(w)
    staff_case = report(w, title="网格员巡查发现")
    other_person = f.person(w.tree.grid_a, name="王五")
    neighbour = f.account("neighbour", kind=AccountKind.RESIDENT, person=other_person)
    c = as_(neighbour)
    listing = c.get(reverse("portal:cases_home"))
    assert mine.number not in listing.text and staff_case.number not in listing.text and "还没有反映过问题" in listing.text
    assert c.get(reverse("portal:cases_case", args=[mine.pk])).status_code == 404
    assert c.post(reverse("portal:cases_act", args=[mine.pk, "comment"]), {"note": "x"}).status_code == 404
    assert as_(w.resident).get(reverse("portal:cases_case", args=[staff_case.pk])).status_code == 404


def test_C4_public_timeline_then_rate_once(w):
    case = _file(w)
    _finish(w, case)
    c = as_(w.resident)
    page = c.get(reverse("portal:cases_case", args=[case.pk]))
    assert "已更换灯泡" in page.text and "内部：请尽快" not in page.text and "handler" not in page.text
    assert "评价办理结果" in page.text and "要求重新办理" in page.text
    bad = c.post(reverse("portal:cases_act", args=[case.pk, "rate"]), {"score": "9"})
    assert bad.status_code == 422 and "满意度须为1到5分" in bad.text
    assert c.post(reverse("portal:cases_act", args=[case.pk, "rate"]), {"score": "5", "comment": "很快"}).status_code == 302
    rating = CaseRating.objects.get(case=case)
    assert rating.score == 5 and not rating.on_behalf
    assert "评价办理结果" not in c.get(reverse("portal:cases_case", args=[case.pk])).text
    again = c.post(reverse("portal:cases_act", args=[case.pk, "rate"]), {"score": "4"})
    assert again.status_code == 409 and "已评价" in again.text


def test_C4_reopen_within_window_only(w):
    case = _file(w)
    _finish(w, case)
    c = as_(w.resident)
    empty = c.post(reverse("portal:cases_act", args=[case.pk, "reopen"]), {"note": ""})
    assert empty.status_code == 422 and "请填写说明" in empty.text
    assert c.post(reverse("portal:cases_act", args=[case.pk, "reopen"]), {"note": "灯又坏了"}).status_code == 302
    case.refresh_from_db()
    assert case.status == "dispatched" and case.reopen_count == 1
    case2 = _file(w, title="垃圾桶满了")
    _finish(w, case2)
    Case.objects.filter(pk=case2.pk).update(closed_at=timezone.now() - dt.timedelta(days=30))
    assert "要求重新办理" not in c.get(reverse("portal:cases_case", args=[case2.pk])).text
    late = c.post(reverse("portal:cases_act", args=[case2.pk, "reopen"]), {"note": "还有问题"})
    assert late.status_code == 409 and "已超过重开期限" in late.text


def test_C1_resident_comment_and_query_count(w, django_assert_max_num_queries):
    case = _file(w)
    c = as_(w.resident)
    assert c.post(reverse("portal:cases_act", args=[case.pk, "comment"]), {"note": "补充：晚上很黑"}).status_code == 302
    assert "补充：晚上很黑" in c.get(reverse("portal:cases_case", args=[case.pk])).text
    for i in range(5):
        _file(w, title=f"问题{i}")
    with django_assert_max_num_queries(8):
        assert c.get(reverse("portal:cases_home")).status_code == 200
