"""L1 console pages: take a call, the agent screen (caller match masked, knowledge search with
用此答复, one case form with duplicate candidates, end call), call records and the call page."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from linli.cases.models import Case, Channel
from linli.hotline import services as svc
from linli.hotline.models import Call, CallArticle, Outcome
from linli.orgs.models import AccountKind
from tests import factories as f
from tests.cases.world import A_LAT, A_LNG, report

from .conftest import CALLER

pytestmark = pytest.mark.django_db
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")


def as_(account) -> Client:
    c = Client()
    c.force_login(account)
    return c


def _take(c: Client, caller: str = CALLER) -> Call:
    r = c.post(reverse("console:hotline_call_new"), {"caller": caller})
    assert r.status_code == 302, r.content
    return Call.objects.latest("id")


def test_L1_home_prefills_screen_pop_number_and_needs_case_intake(hw):
    r = as_(hw.agent).get(reverse("console:hotline_home"), {"caller": "13805312468", "cti_id": "pbx-9"})
    assert r.status_code == 200 and 'value="13805312468"' in r.content.decode() and 'value="pbx-9"' in r.content.decode()
    r = as_(hw.supervisor_a).get(reverse("console:hotline_home"))  # hotline.view only: straight to the call records
    assert r.status_code == 302 and r.url == reverse("console:hotline_calls")
    assert as_(f.account("clerk", perms=["place.view"], scope=hw.w.tree.city)).get(reverse("console:hotline_home")).status_code == 403
    resident = f.account("res", kind=AccountKind.RESIDENT)
    assert as_(resident).get(reverse("console:hotline_home")).status_code == 302
    r = as_(hw.agent).post(reverse("console:hotline_call_new"), {"caller": "abc"})
    assert r.status_code == 422 and "来电号码格式错误" in r.content.decode()


def test_L1_agent_screen_shows_masked_caller_house_and_history(hw):
    old = report(hw.w, actor=hw.agent, channel="hotline", reporter_person=hw.caller, title="楼道灯不亮")
    c = as_(hw.agent)
    call = _take(c)
    r = c.get(reverse("console:hotline_call", args=[call.pk]))
    html = r.content.decode()
    assert r.status_code == 200
    assert "王*兰" in html and "王秀兰" not in html and "138****2468" in html and "13805312468" not in html
    assert hw.w.house_a.address in html and old.number in html and "楼道灯不亮" in html


def test_L1_agent_screen_query_count_is_bounded(hw, django_assert_max_num_queries):
    for _ in range(3):
        report(hw.w, actor=hw.agent, channel="hotline", reporter_person=hw.caller)
    c = as_(hw.agent)
    call = _take(c)
    c.get(reverse("console:hotline_call", args=[call.pk]))
    with django_assert_max_num_queries(20):
        assert c.get(reverse("console:hotline_call", args=[call.pk])).status_code == 200


def test_L1_knowledge_search_live_results_and_use_this_answer(hw):
    c = as_(hw.agent)
    call = _take(c)
    r = c.get(reverse("console:hotline_call_kb", args=[call.pk]), {"q": "老人补贴怎么领"}, headers={"HX-Request": "true"})
    article = hw.articles["elderly-allowance"]
    assert r.status_code == 200 and article.title in r.content.decode() and "用此答复" in r.content.decode()
    plain = c.get(reverse("console:hotline_call_kb", args=[call.pk]), {"q": "老人补贴"})
    assert plain.status_code == 302 and "q=" in plain.url
    r = c.post(reverse("console:hotline_call_answer", args=[call.pk]), {"article": article.pk}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and 'id="used-articles"' in r.content.decode() and article.title in r.content.decode()
    assert CallArticle.objects.filter(call=call, article=article).exists()
    assert c.post(reverse("console:hotline_call_answer", args=[call.pk]), {"article": "x"}).status_code == 404


def test_L1_one_form_opens_a_hotline_case_with_photo(hw):
    c = as_(hw.agent)
    call = _take(c)
    photo = SimpleUploadedFile("p.png", PNG, content_type="image/png")
    r = c.post(reverse("console:hotline_call_case", args=[call.pk]), {
        "category": hw.w.cat.pk, "title": "单元门口路面塌陷", "description": "来电反映", "house": hw.w.house_a.pk,
        "person": hw.caller.pk, "photos": [photo]})
    assert r.status_code == 302, r.content.decode()[:2000]
    call.refresh_from_db()
    case = call.case
    assert case.channel == Channel.HOTLINE and case.reporter_person_id == hw.caller.pk and len(case.photos) == 1
    page = c.get(reverse("console:hotline_call", args=[call.pk])).content.decode()
    assert case.number in page and 'id="case-opened"' in page
    r = c.post(reverse("console:hotline_call_end", args=[call.pk]), {"outcome": "case_opened", "category": "complaint", "notes": "已告知"})
    assert r.status_code == 302
    call.refresh_from_db()
    assert call.outcome == Outcome.CASE_OPENED
    page = c.get(reverse("console:hotline_call", args=[call.pk])).content.decode()  # ended: the record, not the screen
    assert 'id="call-outcome"' in page and "已立案转办" in page and 'id="case-form"' not in page and 'id="next-call"' in page


def test_L1_case_form_shows_duplicates_then_confirm(hw):
    existing = report(hw.w, lat=A_LAT, lng=A_LNG)
    c = as_(hw.agent)
    call = _take(c, "13912345678")
    form = {"category": hw.w.cat.pk, "title": "人行道坏了", "lat": A_LAT, "lng": A_LNG}
    r = c.post(reverse("console:hotline_call_case", args=[call.pk]), form)
    assert r.status_code == 409 and existing.number in r.content.decode() and "仍然新建工单" in r.content.decode()
    assert not Case.objects.filter(channel=Channel.HOTLINE).exists()
    r = c.post(reverse("console:hotline_call_case", args=[call.pk]), {**form, "confirm_new": "on"})
    assert r.status_code == 302 and Case.objects.filter(channel=Channel.HOTLINE).count() == 1


def test_L1_case_form_and_end_form_errors_are_shown(hw):
    c = as_(hw.agent)
    call = _take(c)
    r = c.post(reverse("console:hotline_call_case", args=[call.pk]), {"category": hw.w.cat.pk, "title": "没有位置"})
    assert r.status_code == 422 and "请选择来电人的房屋" in r.content.decode()
    r = c.post(reverse("console:hotline_call_end", args=[call.pk]), {"outcome": "kb_answer"})
    assert r.status_code == 422 and "尚未引用知识文章" in r.content.decode()
    r = c.post(reverse("console:hotline_call_end", args=[call.pk]), {"outcome": "nonsense"})
    assert r.status_code == 422
    r = as_(hw.agent_b).post(reverse("console:hotline_call_end", args=[call.pk]), {"outcome": "abandoned"})
    assert r.status_code == 404


def test_L1_confirm_person_on_screen(hw, tree):
    husband = f.person(tree.grid_a, name="刘建国", phone="+8613805312468")
    c = as_(hw.agent)
    call = _take(c)
    html = c.get(reverse("console:hotline_call", args=[call.pk])).content.decode()
    assert "刘*国" in html and "王*兰" in html
    assert c.post(reverse("console:hotline_call_person", args=[call.pk]), {"person": husband.pk}).status_code == 302
    call.refresh_from_db()
    assert call.person_id == husband.pk


def test_L1_call_records_page_filters_scope_and_queries(hw, django_assert_max_num_queries):
    for i in range(5):
        call = svc.call_incoming(actor=hw.agent, caller=f"1390000{i:04d}")
        svc.call_open_case(actor=hw.agent, call=call, category=hw.w.cat, title=f"来电{i}", house=hw.w.house_a, confirm_new=True)
        svc.call_end(actor=hw.agent, call=call, outcome=Outcome.CASE_OPENED)
    svc.call_incoming(actor=hw.agent_b, caller=CALLER)
    c = as_(hw.supervisor_a)
    url = reverse("console:hotline_calls")
    c.get(url)
    with django_assert_max_num_queries(14):
        r = c.get(url)
    html = r.content.decode()
    assert r.status_code == 200 and html.count("139****") == 5 and "138****2468" not in html
    assert "139****" not in c.get(url, {"outcome": "abandoned"}).content.decode()
    assert f'<option value="{hw.agent.pk}">' in html and f'value="{hw.agent_b.pk}"' not in html  # agents of visible calls
    assert c.get(url, {"agent": hw.agent.pk}).content.decode().count("139****") == 5
    assert c.get(url, {"agent": hw.agent_b.pk}).status_code == 200  # not a choice here: shown as a form error
    assert c.get(url, {"date_from": "not-a-date"}).status_code == 200  # an invalid filter is shown, not a 500
    assert as_(f.account("clerk", perms=["place.view"], scope=hw.w.tree.city)).get(url).status_code == 403
    call = Call.objects.filter(agent=hw.agent).first()
    r = c.get(reverse("console:hotline_call", args=[call.pk]))
    assert r.status_code == 200 and "已立案转办" in r.content.decode() and 'id="case-form"' not in r.content.decode()
    other = Call.objects.get(agent=hw.agent_b)
    assert c.get(reverse("console:hotline_call", args=[other.pk])).status_code == 404


def test_L1_reveal_on_call_page_is_audited(hw, tree):
    call = svc.call_incoming(actor=hw.agent, caller=CALLER)
    chief = f.account("chief", perms=["hotline.view", "person.reveal"], scope=tree.city)
    r = as_(chief).post(reverse("console:hotline_call_reveal", args=[call.pk]), {"purpose": "回拨"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and "+8613805312468" in r.content.decode()
    r = as_(hw.supervisor_a).post(reverse("console:hotline_call_reveal", args=[call.pk]), {"purpose": "回拨"}, headers={"HX-Request": "true"})
    assert r.status_code == 404  # the call is still filed at the agent's city scope, outside community A
