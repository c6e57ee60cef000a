"""Console access screens (A1–A5): gate console with live feed and statistics, credentials, rules,
visitor desk, watch list. Permissions across scopes, masking, audit, query counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from linli.access import services as svc
from linli.access.models import (
    AccessAlarm,
    AccessBlock,
    AccessRule,
    Credential,
    InviteStatus,
    VisitorInvite,
    WatchListEntry,
)
from linli.audit.models import AuditEntry
from tests import factories as f

from .conftest import card, client_for, consent

pytestmark = pytest.mark.django_db
ID_A = "11010519491231002X"


def _events(site, n=3):
    card(site, site.owner, "AB12CD34", house=site.h11)
    for i in range(n):
        svc.decide_and_log(gate=_row(site.main_gate), credential_kind="card", credential_value="AB12CD34", event_uid=f"ev-{i}")
    svc.decide_and_log(gate=_row(site.main_gate), credential_kind="card", credential_value="FFFF0000", event_uid="ev-bad")


def _row(gate):
    from linli.access import decision

    return decision.get_index().gates[gate.code]


def test_A5_gate_console_lists_gates_in_scope_with_feed_and_chart(site):
    _events(site)
    c = client_for(site.manager)
    assert c.get(reverse("console:access_home"))["Location"] == reverse("console:access_gates")
    page = c.get(reverse("console:access_gates")).content.decode()
    assert "南门" in page and "乙小区大门" not in page
    detail = c.get(reverse("console:access_gate", args=[site.main_gate.pk])).content.decode()
    assert 'hx-trigger="every 3s' in detail and "王*明" in detail and "王小明" not in detail
    assert "unknown_credential" in detail and "data-gate-chart" in detail and "通过3 拒绝1" in detail  # text alternative
    feed = c.get(reverse("console:access_gate_feed", args=[site.main_gate.pk]), HTTP_HX_REQUEST="true")
    assert feed.status_code == 200 and feed.content.decode().index("unknown_credential") < feed.content.decode().index("resident")
    # out of scope gate: 404; a user without access perms: 403
    assert c.get(reverse("console:access_gate", args=[site.gate_b.pk])).status_code == 404
    assert c.get(reverse("console:access_gate_feed", args=[site.gate_b.pk]), HTTP_HX_REQUEST="true").status_code == 404
    for perm, page in (("access.visitor_desk", "access_visitors"), ("access.credential_issue", "access_people"), ("access.watch_list", "access_watch")):
        only = client_for(f.account(f"only-{perm}", perms=[perm], scope=site.tree.community_a))
        assert only.get(reverse("console:access_home"))["Location"] == reverse(f"console:{page}"), perm
    nobody = client_for(f.account("nobody", perms=["person.view"], scope=site.tree.community_a))
    assert nobody.get(reverse("console:access_gates")).status_code == 403
    assert nobody.get(reverse("console:access_home")).status_code == 403


def test_A5_last_seen_lookup_is_scoped_and_masked(site):
    _events(site, 1)
    c = client_for(site.manager)
    page = c.get(reverse("console:access_last_seen"), {"q": "王小明"}).content.decode()
    assert "王*明" in page and "从未通行" not in page
    other = c.get(reverse("console:access_last_seen"), {"q": "赵邻居"}).content.decode()
    assert "从未通行" in other
    assert "王*明" not in client_for(site.manager_b).get(reverse("console:access_last_seen"), {"q": "王小明"}).content.decode()


def test_A1_issue_card_and_revocation_denies_immediately(site):
    c = client_for(site.manager)
    url = reverse("console:access_person", args=[site.owner.pk])
    r = c.post(url, {"kind": "card", "house": site.h11.pk, "value": "CAFE1234"})
    assert r.status_code == 302
    cred = Credential.objects.get(person=site.owner, kind="card")
    page = c.get(url).content.decode()
    assert "****1234" in page and "CAFE1234" not in page
    assert site.decide(site.main_gate, value="CAFE1234").allowed
    r = c.post(reverse("console:access_credential_action", args=[cred.pk, "revoke"]), {"reason": "丢失"})
    assert r.status_code == 302
    assert site.decide(site.main_gate, value="CAFE1234").reason == "credential_revoked"
    assert AuditEntry.objects.filter(action="access.credential_revoke", object_id=str(cred.pk)).exists()


def test_A1_biometric_needs_consent_and_face_is_never_the_only_way(site):
    c = client_for(site.manager)
    url = reverse("console:access_person", args=[site.owner.pk])
    r = c.post(url, {"kind": "face", "house": site.h11.pk, "template_ref": "FACE-001"})
    assert r.status_code == 422 and "单独同意" in r.content.decode()
    consent(site.owner, "biometric_face")
    r = c.post(url, {"kind": "face", "house": site.h11.pk, "template_ref": "FACE-001"}, follow=True)
    assert "不能作为唯一通行方式" in r.content.decode()
    assert "人脸不能作为唯一通行方式" in c.get(url).content.decode()
    c.post(url, {"kind": "card", "house": site.h11.pk, "value": "BEEF5678"})
    assert "人脸不能作为唯一通行方式" not in c.get(url).content.decode()


def test_A1_set_expiry_and_suspend_through_console(site):
    cred = card(site, site.owner, "ABCD9999", house=site.h11)
    c = client_for(site.manager)
    past = (timezone.now() - dt.timedelta(days=1)).astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%dT%H:%M")
    c.post(reverse("console:access_credential_action", args=[cred.pk, "expiry"]), {"valid_until": past})
    assert site.decide(site.main_gate, value="ABCD9999").reason == "credential_expired"
    c.post(reverse("console:access_credential_action", args=[cred.pk, "expiry"]), {"valid_until": ""})
    assert site.decide(site.main_gate, value="ABCD9999").allowed
    r = c.post(reverse("console:access_credential_action", args=[cred.pk, "expiry"]), {"valid_until": "nonsense"}, follow=True)
    assert r.status_code == 200 and "日期时间格式不正确" in r.content.decode()
    c.post(reverse("console:access_credential_action", args=[cred.pk, "suspend"]))
    assert site.decide(site.main_gate, value="ABCD9999").reason == "credential_suspended"
    # another community's manager: 404; a viewer without access.manage: 403
    assert client_for(site.manager_b).post(reverse("console:access_credential_action", args=[cred.pk, "reactivate"])).status_code == 404
    viewer = client_for(f.account("viewer", perms=["access.view"], scope=site.tree.community_a))
    assert viewer.post(reverse("console:access_credential_action", args=[cred.pk, "reactivate"])).status_code == 403


def test_A2_rules_holidays_and_blocks_from_the_console(site):
    c = client_for(site.manager)
    r = c.post(reverse("console:access_rule_action", args=["rule_create"]),
               {"group": site.g_estate.pk, "audience": "residents", "weekdays": ["0", "1"], "start": "06:00", "end": "22:00", "name": "白天"})
    assert r.status_code == 302
    rule = AccessRule.objects.get(group=site.g_estate)
    assert rule.weekdays == 0b11 and (rule.start_minute, rule.end_minute) == (360, 1320)
    page = c.get(reverse("console:access_rules")).content.decode()
    assert "06:00–22:00" in page and "周一、周二" in page
    bad = c.post(reverse("console:access_rule_action", args=["rule_create"]),
                 {"group": site.g_estate.pk, "audience": "residents", "weekdays": ["0"], "start": "25:00", "end": "22:00"}, follow=True)
    assert "时段无效" in bad.content.decode()
    c.post(reverse("console:access_rule_action", args=["rule_delete"]), {"id": rule.pk})
    assert not AccessRule.objects.exists()
    c.post(reverse("console:access_rule_action", args=["holiday_add"]), {"region": site.tree.community_a.pk, "date": "2030-10-01", "name": "国庆"})
    assert "国庆" in c.get(reverse("console:access_rules")).content.decode()
    card(site, site.owner, "AAAA1111", house=site.h11)
    c.post(reverse("console:access_rule_action", args=["block_add"]), {"person": site.owner.pk, "reason": "欠费核查"})
    assert site.decide(site.main_gate, value="AAAA1111").reason == "blocked"
    block = AccessBlock.objects.get()
    c.post(reverse("console:access_rule_action", args=["block_lift"]), {"id": block.pk})
    assert site.decide(site.main_gate, value="AAAA1111").allowed
    # other community's manager cannot touch this group's rules (404)
    r = client_for(site.manager_b).post(reverse("console:access_rule_action", args=["rule_create"]),
                                        {"group": site.g_estate.pk, "audience": "residents", "weekdays": ["0"], "start": "06:00", "end": "22:00"})
    assert r.status_code == 404


def test_A4_visitor_desk_registers_checks_watch_list_and_issues_pass(site):
    c = client_for(site.manager)
    svc.watch_add(actor=site.manager, region=site.tree.community_a, kind="plate", reason="套牌", plate="京A12345", policy="allow_and_alarm",
                  source="公安")
    page = c.get(reverse("console:access_visitors"), {"house_q": site.h11.address}).content.decode()
    assert f'value="{site.h11.pk}"' in page
    r = c.post(reverse("console:access_visitor_register"), {"house": site.h11.pk, "gate": site.main_gate.pk, "visitor_name": "孙访客",
                                                             "id_type": "resident_id", "id_number": ID_A, "plate": "京A12345", "hours": "2"})
    inv = VisitorInvite.objects.get()
    assert r["Location"] == reverse("console:access_visitor", args=[inv.pk])
    assert inv.status == InviteStatus.PENDING and inv.visitor_id_tail == "002X" and ID_A not in str(inv.__dict__)
    detail = c.get(r["Location"]).content.decode()
    assert "关注名单命中" in detail and "按策略放行" in detail and "孙*客" in detail and ID_A not in detail
    assert AccessAlarm.objects.filter(visitor_invite=inv).exists()
    c.post(reverse("console:access_visitor_action", args=[inv.pk, "confirm"]))
    detail = c.get(r["Location"]).content.decode()
    assert "<svg" in detail and "访客通行二维码" in detail
    today = c.get(reverse("console:access_visitors")).content.decode()
    assert "孙*客" in today and "命中关注名单" in today
    bad = c.post(reverse("console:access_visitor_register"), {"house": site.h11.pk, "gate": site.main_gate.pk, "visitor_name": "错号",
                                                               "id_type": "resident_id", "id_number": "110105194912310021"}, follow=True)
    assert bad.status_code == 200 and VisitorInvite.objects.count() == 1
    # other community's desk: the visit is a 404
    assert client_for(site.manager_b).get(r["Location"]).status_code == 404


def test_A4_watch_list_add_remove_and_acknowledge(site):
    c = client_for(site.manager)
    c.post(reverse("console:access_watch_action", args=["add"]), {"kind": "person", "id_number": ID_A, "reason": "在逃", "source": "公安",
                                                                   "policy": "deny", "region": site.tree.community_a.pk})
    w = WatchListEntry.objects.get()
    page = c.get(reverse("console:access_watch")).content.decode()
    assert "****002X" in page and ID_A not in page
    svc.visitor_register_at_gate(actor=site.manager, gate=site.main_gate, house=site.h11, visitor_name="某人", id_number=ID_A)
    assert VisitorInvite.objects.get().status == InviteStatus.DENIED
    alarm = AccessAlarm.objects.get()
    c.post(reverse("console:access_watch_action", args=["ack"]), {"id": alarm.pk})
    alarm.refresh_from_db()
    assert alarm.acknowledged_at is not None
    c.post(reverse("console:access_watch_action", args=["remove"]), {"id": w.pk})
    w.refresh_from_db()
    assert not w.is_active
    no_watch = client_for(f.account("deskonly", perms=["access.visitor_desk"], scope=site.tree.community_a))
    assert no_watch.get(reverse("console:access_watch")).status_code == 403
    assert client_for(site.manager_b).post(reverse("console:access_watch_action", args=["ack"]), {"id": alarm.pk}).status_code == 404


def test_A5_list_pages_have_flat_query_counts(site, django_assert_max_num_queries):
    _events(site, 5)
    c = client_for(site.manager)
    for i in range(3):
        svc.watch_add(actor=site.manager, region=site.tree.community_a, kind="plate", reason="x", plate=f"京B1234{i}")
        svc.visitor_register_at_gate(actor=site.manager, gate=site.main_gate, house=site.h11, visitor_name=f"访客{i}", id_number=ID_A)
    pages = [reverse("console:access_gates"), reverse("console:access_gate", args=[site.main_gate.pk]), reverse("console:access_rules"),
             reverse("console:access_visitors"), reverse("console:access_watch"),
             reverse("console:access_person", args=[site.owner.pk])]
    for url in pages:
        with django_assert_max_num_queries(24):
            assert c.get(url).status_code == 200, url
    with django_assert_max_num_queries(8):
        c.get(reverse("console:access_gate_feed", args=[site.main_gate.pk]), HTTP_HX_REQUEST="true")


def test_A1_gate_created_from_console_shows_token_once(site):
    c = client_for(site.manager)
    r = c.post(reverse("console:access_gate_create"), {"what": "gate", "group": site.g_b1.pk, "code": "b1-east", "name": "1号楼东门",
                                                        "kind": "door"})
    assert r.status_code == 200 and "gt_" in r.content.decode()
    dup = c.post(reverse("console:access_gate_create"), {"what": "gate", "group": site.g_b1.pk, "code": "b1-east", "name": "x"}, follow=True)
    assert "编码已存在" in dup.content.decode()
