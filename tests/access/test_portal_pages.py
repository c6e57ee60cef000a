"""Resident portal (A1 A4): my credentials and QR, inviting visitors, confirming walk-ins, the visitor's pass page."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from linli.access import services as svc
from linli.access.models import Credential, InviteStatus, VisitorInvite
from linli.audit.models import AuditEntry

from .conftest import card, client_for, resident

pytestmark = pytest.mark.django_db
ID_A = "11010519491231002X"


def _local(d: dt.datetime) -> str:
    return d.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%dT%H:%M")


def _qr_token(html: str) -> str:
    return re.search(r"/portal/access/pass/([^/\"]+)/", html).group(1)


def test_A1_portal_shows_my_masked_credentials_and_a_working_qr(site):
    card(site, site.owner, "AB12CD34", house=site.h11)
    c = client_for(resident(site.owner))
    home = c.get(reverse("portal:access_home")).content.decode()
    assert "****CD34" in home and "AB12CD34" not in home
    page = c.get(reverse("portal:access_qr"))
    html = page.content.decode()
    assert page.status_code == 200 and "<svg" in html and "hx-trigger=\"every 100s\"" in html and "cdn" not in html.lower()
    assert "vendor/htmx/htmx.min.js" in html
    part = client_for(resident(site.owner)).get(reverse("portal:access_qr_image") + f"?house={site.h11.pk}")
    assert part.status_code == 200 and part.content.decode().startswith("<div id=\"qr\"")
    # the QR a resident gets opens their own doors: issue one through the service the page uses and decide with it
    token, _exp, cred = svc.qr_issue(actor=resident(site.owner), person=site.owner, house=site.h11, ttl=60)
    assert site.decide(site.u11_door, kind="qr", value=token).allowed
    assert not site.decide(site.b2_door, kind="qr", value=token).allowed
    assert Credential.objects.filter(person=site.owner, kind="qr").count() == 1


def test_A1_staff_and_anonymous_cannot_use_the_portal_pages(site):
    assert Client().get(reverse("portal:access_qr"))["Location"].startswith(reverse("portal:login"))
    assert client_for(site.manager).get(reverse("portal:access_home"))["Location"] == reverse("console:home")


def test_A4_resident_invites_a_visitor_gets_pass_and_cancels_it(site):
    acc = resident(site.owner)
    c = client_for(acc)
    start = timezone.now()
    r = c.post(reverse("portal:access_invite_new"), {"house": site.h11.pk, "visitor_name": "钱访客", "visitor_phone": "13800138000",
                                                      "valid_from": _local(start), "valid_until": _local(start + dt.timedelta(hours=3)),
                                                      "plate": "京A88888"})
    inv = VisitorInvite.objects.get()
    assert r["Location"] == reverse("portal:access_invite", args=[inv.pk])
    assert inv.status == InviteStatus.CONFIRMED and inv.visitor_phone_tail == "8000"
    page = c.get(r["Location"]).content.decode()
    assert "<svg" in page and "钱访客" in page and "通行码" in page and "13800138000" not in page
    token = _qr_token(page)
    assert site.decide(site.u11_door, kind="qr", value=token).allowed
    # the visitor opens the link without logging in
    public = Client().get(reverse("portal:access_pass", args=[token]))
    assert public.status_code == 200 and "<svg" in public.content.decode() and "王小明" not in public.content.decode()
    assert Client().get(reverse("portal:access_pass", args=["forged.token"])).status_code == 404
    # list, then cancel: the pass stops working at once
    assert "钱访客" in c.get(reverse("portal:access_home")).content.decode()
    c.post(reverse("portal:access_invite_action", args=[inv.pk, "cancel"]))
    inv.refresh_from_db()
    assert inv.status == InviteStatus.CANCELLED
    assert site.decide(site.u11_door, kind="qr", value=token).reason == "visitor_not_valid"
    assert AuditEntry.objects.filter(action="access.visitor_cancel", object_id=str(inv.pk)).exists()


def test_A4_invite_form_rejects_bad_input_with_a_message(site):
    c = client_for(resident(site.owner))
    start = timezone.now()
    r = c.post(reverse("portal:access_invite_new"), {"house": site.h11.pk, "visitor_name": "钱访客", "valid_from": _local(start),
                                                      "valid_until": _local(start + dt.timedelta(days=9))})
    assert r.status_code == 422 and "最长7天" in r.content.decode()
    r = c.post(reverse("portal:access_invite_new"), {"house": site.h11.pk, "visitor_name": "钱访客", "valid_from": _local(start),
                                                      "valid_until": _local(start + dt.timedelta(hours=1)), "plate": "ABC"})
    assert r.status_code == 422 and "车牌号格式不正确" in r.content.decode()
    r = c.post(reverse("portal:access_invite_new"), {"house": site.h2.pk, "visitor_name": "钱访客", "valid_from": _local(start),
                                                      "valid_until": _local(start + dt.timedelta(hours=1))})
    assert r.status_code == 422  # not my house: not even a choice
    assert not VisitorInvite.objects.exists()


def test_A4_host_confirms_walk_in_and_others_get_404(site):
    inv = svc.visitor_register_at_gate(actor=site.manager, gate=site.main_gate, house=site.h11, visitor_name="周来访", id_number=ID_A)
    owner = client_for(resident(site.owner))
    home = owner.get(reverse("portal:access_home")).content.decode()
    assert "待您确认的来访" in home and "周来访" in home and "****002X" in home and ID_A not in home
    other = client_for(resident(site.other))
    assert other.get(reverse("portal:access_invite", args=[inv.pk])).status_code == 404
    assert other.post(reverse("portal:access_invite_action", args=[inv.pk, "confirm"])).status_code == 404
    owner.post(reverse("portal:access_invite_action", args=[inv.pk, "confirm"]))
    inv.refresh_from_db()
    assert inv.status == InviteStatus.CONFIRMED
    again = owner.post(reverse("portal:access_invite_action", args=[inv.pk, "reject"]), follow=True)
    assert "不是待确认状态" in again.content.decode()
    # the tenant of the same house cannot cancel the desk's registration (not theirs), only the host may confirm
    tenant = client_for(resident(site.tenant))
    r = tenant.post(reverse("portal:access_invite_action", args=[inv.pk, "cancel"]))
    assert r.status_code == 404


def test_A4_portal_access_home_query_count_is_flat(site, django_assert_max_num_queries):
    acc = resident(site.owner)
    start = timezone.now()
    for i in range(5):
        svc.visitor_invite(actor=acc, house=site.h11, visitor_name=f"客{i}", valid_from=start, valid_until=start + dt.timedelta(hours=2))
        svc.visitor_register_at_gate(actor=site.manager, gate=site.main_gate, house=site.h11, visitor_name=f"门{i}", id_number=ID_A)
    card(site, site.owner, "AB12CD34", house=site.h11)
    c = client_for(acc)
    with django_assert_max_num_queries(12):
        assert c.get(reverse("portal:access_home")).status_code == 200
