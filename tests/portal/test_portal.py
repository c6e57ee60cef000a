"""Resident H5 portal: login, own home and household only, masked data, consents (H2 H6 U1 O2)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from linli.audit.models import AuditEntry
from linli.orgs.models import AccountKind
from linli.people.models import Consent, Household
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def family(tree):
    home = f.house(tree.grid_a, number="601")
    me = f.person(tree.grid_a, name="林居民", id_number=f.make_id_number(seq=601), phone="+8613900001111")
    spouse = f.person(tree.grid_a, name="林家人", id_number=f.make_id_number(seq=602, female=True))
    lodger = f.person(tree.grid_a, name="租客王五", id_number=f.make_id_number(seq=603))
    stranger_house = f.house(tree.grid_b, number="909")
    stranger = f.person(tree.grid_b, name="外人赵六", id_number=f.make_id_number(seq=604))
    f.residency(me, home, "owner")
    f.residency(spouse, home, "family_member")
    f.residency(lodger, home, "tenant")
    f.residency(stranger, stranger_house, "owner")
    acc = f.account("linjumin", kind=AccountKind.RESIDENT, person=me)
    return {"me": me, "home": home, "account": acc, "lodger": lodger, "stranger_house": stranger_house}


def logged_in(acc) -> Client:
    c = Client()
    c.force_login(acc)
    return c


def test_U1_portal_login_with_password_goes_home(family):
    c = Client()
    page = c.get(reverse("portal:login"))
    assert page.status_code == 200 and 'lang="zh-Hans"' in page.text and 'name="viewport"' in page.text
    r = c.post(reverse("portal:login"), {"username": "linjumin", "password": f.PASSWORD})
    assert r.status_code == 302 and r.url == reverse("portal:home")
    home = c.get(r.url)
    assert "林居民，您好" in home.text and family["home"].address in home.text
    for name in ("portal:cases_home", "portal:kb_home", "portal:my_home", "portal:profile", "portal:consents"):
        assert f'href="{reverse(name)}"' in home.text  # every service is one tap from home
    bad = Client().post(reverse("portal:login"), {"username": "linjumin", "password": "wrong-password"})
    assert bad.status_code == 400 and "用户名或密码错误" in bad.text


def test_O2_portal_requires_login_and_sends_staff_to_console(tree, family):
    r = Client().get(reverse("portal:my_home"))
    assert r.status_code == 302 and r.url.startswith(reverse("portal:login"))
    staff = f.account("staffer", perms=["person.view"], scope=tree.community_a)
    assert logged_in(staff).get(reverse("portal:home")).url == reverse("console:home")
    r = Client().post(reverse("portal:login"), {"username": "staffer", "password": f.PASSWORD})
    assert r.status_code == 302 and r.url == reverse("console:home")


def test_H2_portal_my_home_shows_own_household_masks_others(family, django_assert_max_num_queries):
    c = logged_in(family["account"])
    with django_assert_max_num_queries(8):
        page = c.get(reverse("portal:my_home"))
    text = page.text
    assert family["home"].address in text
    assert "林居民" in text and "林家人" in text            # own household: full names
    assert "租客王五" not in text and "租**五" in text        # another household in the same house: masked
    assert family["stranger_house"].address not in text and "外人" not in text
    assert family["me"].id_number not in text and "139****1111" in text and "+8613900001111" not in text


def test_H2_portal_household_membership_decides_full_names(family):
    hh = Household.objects.create(house=family["home"], head=family["me"])
    family["me"].residencies.update(household=hh)
    family["lodger"].residencies.update(household=hh)
    text = logged_in(family["account"]).get(reverse("portal:my_home")).text
    assert "租客王五" in text and "林*人" in text


def test_H1_portal_profile_masked(family):
    text = logged_in(family["account"]).get(reverse("portal:profile")).text
    me = family["me"]
    assert "林居民" in text and me.id_number not in text and me.id_number[:4] + "**********" + me.id_number[-4:] in text


def test_H6_portal_consents_grant_and_withdraw_audited(family):
    c = logged_in(family["account"])
    page = c.get(reverse("portal:consents"))
    assert "人脸信息(单独同意)" in page.text and "单独同意" in page.text
    r = c.post(reverse("portal:consents"), {"purpose": "biometric_face", "action": "grant"})
    assert r.status_code == 302
    consent = Consent.objects.get(person=family["me"], purpose="biometric_face")
    assert consent.withdrawn_at is None and consent.channel == "portal"
    assert "已同意" in c.get(reverse("portal:consents")).text
    c.post(reverse("portal:consents"), {"purpose": "biometric_face", "action": "withdraw"})
    consent.refresh_from_db()
    assert consent.withdrawn_at is not None
    assert set(AuditEntry.objects.filter(object_type="people.consent").values_list("action", flat=True)) == {"consent.grant", "consent.withdraw"}
    r = c.post(reverse("portal:consents"), {"purpose": "nonsense", "action": "grant"}, follow=True)
    assert "授权用途无效" in r.text


def test_U1_portal_elder_mode_toggle(family):
    c = logged_in(family["account"])
    c.post(reverse("portal:elder"), {"next": "/portal/"})
    assert 'class="elder"' in c.get(reverse("portal:home")).text


@pytest.mark.parametrize(
    "nxt", ["//evil.example", "https://evil.example", "/\\evil", "\\\\evil.example", "/console/", "https://evil.example/portal/"]
)
def test_O2_U1_portal_login_and_elder_switch_refuse_open_redirects(family, nxt):
    home = reverse("portal:home")
    c = Client()
    r = c.post(reverse("portal:login"), {"username": "linjumin", "password": f.PASSWORD, "next": nxt})
    assert r.status_code == 302 and r.url == home
    assert c.get(reverse("portal:login"), {"next": nxt}).url == home  # already signed in
    r = c.post(reverse("portal:elder"), {"next": nxt})
    assert r.status_code == 302 and r.url == home
    assert Client().get(reverse("portal:login"), {"next": nxt}).context["next"] == ""  # not carried in the form


def test_O2_U1_portal_session_follows_next_under_portal_and_logout_needs_post(family):
    consents = reverse("portal:consents")
    r = Client().post(reverse("portal:login"), {"username": "linjumin", "password": f.PASSWORD, "next": consents})
    assert r.status_code == 302 and r.url == consents
    c = logged_in(family["account"])
    assert c.get(reverse("portal:login"), {"next": consents}).url == consents  # already signed in
    assert c.get(reverse("portal:login")).url == reverse("portal:home")
    assert c.get(reverse("portal:logout")).status_code == 405
    r = c.post(reverse("portal:logout"))
    assert r.status_code == 302 and r.url == reverse("portal:login")
    assert AuditEntry.objects.filter(action="auth.logout", actor_id=family["account"].pk).exists()
    assert c.get(reverse("portal:home")).url.startswith(reverse("portal:login"))


def test_O2_portal_refuses_service_accounts_and_bad_forms(tree):
    f.account("machine", kind=AccountKind.SERVICE)
    r = Client().post(reverse("portal:login"), {"username": "machine", "password": f.PASSWORD})
    assert r.status_code == 403 and "该账号不能登录居民服务" in r.text
    assert Client().post(reverse("portal:login"), {"username": "x"}).status_code == 400


def test_H2_resident_without_person_sees_notice(tree):
    acc = f.account(kind=AccountKind.RESIDENT)
    for name in ("portal:home", "portal:my_home", "portal:profile", "portal:consents"):
        r = logged_in(acc).get(reverse(name))
        assert r.status_code == 200 and "还没有关联居民信息" in r.text
