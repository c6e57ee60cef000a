"""Staff console (issue 3 surfaces): access, scoping (O2), places (P1–P4), people (H1–H3), login throttling."""

from __future__ import annotations

import datetime as dt
import itertools
import re

import pytest
from django.test import Client
from django.urls import NoReverseMatch, reverse

from linli.audit.models import AuditEntry
from linli.orgs.perms import Perm
from linli.people.models import Household, SpecialGroupTag
from linli.places.models import Facility, Unit
from tests import factories as f

pytestmark = pytest.mark.django_db

VIEW_PERMS = [Perm.PLACE_VIEW, Perm.PERSON_VIEW, Perm.SPECIAL_GROUP_VIEW]


class World:
    """Two communities, each with an estate, a house, a person living there and a special-group tag."""

    def __init__(self, tree) -> None:
        self.tree = tree
        self.house_a = f.house(tree.grid_a, number="101")
        self.house_b = f.house(tree.grid_b, number="201")
        self.building_a, self.building_b = self.house_a.building, self.house_b.building
        self.estate_a, self.estate_b = self.building_a.estate, self.building_b.estate
        self.id_a = f.make_id_number(seq=11)
        self.person_a = f.person(tree.grid_a, name="王秀英", id_number=self.id_a, phone="+8613911112222")
        self.person_b = f.person(tree.grid_b, name="李建国", phone="+8613933334444")
        hh = Household.objects.create(house=self.house_a, head=self.person_a, name="王秀英户")
        r = f.residency(self.person_a, self.house_a)
        r.household = hh
        r.save()
        f.residency(self.person_b, self.house_b, relation="tenant")
        SpecialGroupTag.objects.create(person=self.person_a, group="elderly_alone", since=dt.date(2024, 1, 1))
        SpecialGroupTag.objects.create(person=self.person_b, group="elderly_alone")
        Facility.objects.create(region=tree.community_a, kind="canteen", name="甲社区长者食堂", capacity=40)
        self.worker = f.account("worker_a", perms=VIEW_PERMS, scope=tree.community_a)


@pytest.fixture
def world(tree):
    return World(tree)


def client_for(account) -> Client:
    c = Client()
    c.force_login(account)
    return c


def pages_a(w: World) -> list[str]:
    t = w.tree
    return [
        reverse("console:home"),
        reverse("console:places"),
        reverse("console:region", args=[t.community_a.pk]),
        reverse("console:region", args=[t.grid_a.pk]),
        reverse("console:region_children", args=[t.community_a.pk]),
        reverse("console:region_boundaries", args=[t.community_a.pk]),
        reverse("console:locate") + "?lat=36.655&lng=117.005",
        reverse("console:estates"),
        reverse("console:estate", args=[w.estate_a.pk]),
        reverse("console:building", args=[w.building_a.pk]),
        reverse("console:house", args=[w.house_a.pk]),
        reverse("console:people") + "?q=王",
        reverse("console:person", args=[w.person_a.pk]),
        reverse("console:groups"),
        reverse("console:group", args=["elderly_alone"]),
        reverse("console:me"),
        reverse("console:region_coverage", args=[t.community_a.pk]),
    ]


def test_O2_every_console_page_renders_for_a_scoped_worker(world):
    c = client_for(world.worker)
    for url in pages_a(world):
        r = c.get(url)
        assert r.status_code == 200, url
    coverage = c.get(reverse("console:region_coverage", args=[world.tree.community_a.pk])).content.decode()
    assert "长者食堂" in coverage and "40" in coverage
    page = c.get(reverse("console:house", args=[world.house_a.pk])).content.decode()
    assert "王秀英" in page and "实住" in page and world.id_a not in page
    assert world.id_a[:4] + "**********" + world.id_a[-4:] in page


def test_O2_anonymous_is_sent_to_login(world):
    c = Client()
    for url in pages_a(world):
        r = c.get(url)
        assert r.status_code == 302, url
        assert r["Location"].startswith(reverse("console:login") + "?next="), url
    r = c.get(reverse("console:region_children", args=[world.tree.community_a.pk]), headers={"HX-Request": "true"})
    assert r.headers["HX-Redirect"].startswith(reverse("console:login"))


def test_O2_resident_accounts_cannot_use_the_console(world):
    resident = f.account("resident1", kind="resident", perms=VIEW_PERMS, scope=world.tree.community_a)
    r = client_for(resident).get(reverse("console:home"))
    assert r.status_code == 302 and r["Location"].startswith(reverse("console:login"))


def test_O2_objects_of_the_other_community_are_404(world):
    c = client_for(world.worker)
    t = world.tree
    for url in [
        reverse("console:region", args=[t.community_b.pk]),
        reverse("console:region_children", args=[t.community_b.pk]),
        reverse("console:region_boundaries", args=[t.grid_b.pk]),
        reverse("console:region_coverage", args=[t.community_b.pk]),
        reverse("console:region", args=[t.street.pk]),
        reverse("console:estate", args=[world.estate_b.pk]),
        reverse("console:building", args=[world.building_b.pk]),
        reverse("console:house", args=[world.house_b.pk]),
        reverse("console:person", args=[world.person_b.pk]),
        reverse("console:estates") + f"?region={t.community_b.pk}",
        reverse("console:group", args=["elderly_alone"]) + f"?region={t.community_b.pk}",
    ]:
        r = c.get(url)
        assert r.status_code == 404, url
        assert "乙社区" not in r.content.decode() and "李建国" not in r.content.decode()
    assert c.post(reverse("console:person_reveal", args=[world.person_b.pk]), {"reveal": ["id_number"], "purpose": "核实身份信息"}).status_code == 404


def test_O2_lists_show_only_own_community(world):
    c = client_for(world.worker)
    estates = c.get(reverse("console:estates")).content.decode()
    assert world.estate_a.name in estates and world.estate_b.name not in estates
    people = c.get(reverse("console:people"), {"q": "1"}).content.decode()  # matches nobody by name
    assert "李建国" not in people
    assert "李建国" not in c.get(reverse("console:people"), {"q": "李建国"}, headers={"HX-Request": "true"}).content.decode()
    group = c.get(reverse("console:group", args=["elderly_alone"])).content.decode()
    assert "王秀英" in group and "李建国" not in group
    tree = c.get(reverse("console:places")).content.decode()
    assert "甲社区" in tree and "乙社区" not in tree and "解放路街道" not in tree


def test_P1_tree_children_and_boundaries(world):
    c = client_for(f.account("street", perms=[Perm.PLACE_VIEW], scope=world.tree.street))
    kids = c.get(reverse("console:region_children", args=[world.tree.street.pk]), headers={"HX-Request": "true"}).content.decode()
    assert "甲社区" in kids and "乙社区" in kids and "<html" not in kids
    data = c.get(reverse("console:region_boundaries", args=[world.tree.street.pk])).json()
    assert data["type"] == "FeatureCollection"
    assert {feat["properties"]["name"] for feat in data["features"]} == {"甲社区", "乙社区"}
    leaf = c.get(reverse("console:region_boundaries", args=[world.tree.grid_a.pk])).json()
    assert [feat["properties"]["name"] for feat in leaf["features"]] == ["甲一网格"]  # a grid shows its own outline
    page = c.get(reverse("console:region", args=[world.tree.community_a.pk])).content.decode()
    assert 'id="region-map"' in page and "leaflet.js" in page and "tile" not in page.lower()
    assert "解放路街道" in page  # breadcrumb


def test_P4_locate_a_point(world):
    c = client_for(world.worker)
    r = c.get(reverse("console:locate"), {"lat": 36.655, "lng": 117.005}, headers={"HX-Request": "true"})
    assert "甲一网格" in r.content.decode()
    outside = c.get(reverse("console:locate"), {"lat": 36.655, "lng": 117.015}, headers={"HX-Request": "true"}).content.decode()
    assert "乙一网格" not in outside and "alert" in outside
    bad = c.get(reverse("console:locate"), {"lat": 200, "lng": 117}, headers={"HX-Request": "true"}).content.decode()
    assert "纬度" in bad


def test_P2_building_unit_filter_and_house_attributes(world):
    c = client_for(world.worker)
    other = Unit.objects.create(building=world.building_a, number="2")
    page = c.get(reverse("console:building", args=[world.building_a.pk]), {"unit": other.pk}).content.decode()
    assert "暂无房屋" in page
    page = c.get(reverse("console:building", args=[world.building_a.pk])).content.decode()
    assert reverse("console:house", args=[world.house_a.pk]) in page
    house = c.get(reverse("console:house", args=[world.house_a.pk])).content.decode()
    for label in ("房屋性质", "房屋结构", "户型", "建筑面积", "使用情况", "王秀英户"):
        assert label in house


def test_H1_person_search_by_name_id_phone_and_last4(world):
    c = client_for(world.worker)
    url = reverse("console:people")
    for q in ("王秀", world.id_a, "13911112222", "+86 139 1111 2222", world.id_a[-4:], "2222"):
        r = c.get(url, {"q": q}, headers={"HX-Request": "true"})
        body = r.content.decode()
        assert r.status_code == 200 and "王秀英" in body, q
        assert world.id_a not in body and "13911112222" not in body
    bad = c.get(url, {"q": "370102198001011234"}).content.decode()  # wrong check digit → friendly message
    assert "校验" in bad or "没有找到" in bad


def test_H1_reveal_needs_the_permission_and_a_purpose_and_is_audited(world):
    url = reverse("console:person_reveal", args=[world.person_a.pk])
    no_perm = client_for(world.worker)
    page = no_perm.get(reverse("console:person", args=[world.person_a.pk])).content.decode()
    assert url not in page
    r = no_perm.post(url, {"reveal": ["id_number"], "purpose": "核实身份信息"}, headers={"HX-Request": "true"})
    assert r.status_code == 403 and world.id_a not in r.content.decode()

    revealer = f.account("revealer", perms=[*VIEW_PERMS, Perm.PERSON_REVEAL], scope=world.tree.community_a)
    c = client_for(revealer)
    assert url in c.get(reverse("console:person", args=[world.person_a.pk])).content.decode()
    r = c.post(url, {"reveal": ["id_number"], "purpose": ""}, headers={"HX-Request": "true"})
    assert r.status_code == 422 and world.id_a not in r.content.decode()
    before = AuditEntry.objects.filter(action="person.reveal").count()
    r = c.post(url, {"reveal": ["id_number", "phone"], "purpose": "上门核实身份信息"}, headers={"HX-Request": "true"})
    body = r.content.decode()
    assert r.status_code == 200 and world.id_a in body and "+8613911112222" in body
    assert "no-store" in r["Cache-Control"]
    entry = AuditEntry.objects.filter(action="person.reveal").order_by("-seq").first()
    assert AuditEntry.objects.filter(action="person.reveal").count() == before + 1
    assert entry.actor_id == revealer.pk and entry.channel == "console" and entry.detail["purpose"] == "上门核实身份信息"
    assert c.get(url).status_code == 405


def test_H3_special_groups_need_their_permission(world):
    plain = f.account("plain", perms=[Perm.PLACE_VIEW, Perm.PERSON_VIEW], scope=world.tree.community_a)
    c = client_for(plain)
    assert c.get(reverse("console:groups")).status_code == 403
    assert c.get(reverse("console:group", args=["elderly_alone"])).status_code == 403
    home = c.get(reverse("console:home")).content.decode()
    assert reverse("console:groups") not in home
    person = c.get(reverse("console:person", args=[world.person_a.pk])).content.decode()
    assert "独居老人" not in person and "特殊人群标签" not in person
    assert "王*英" in person  # special-group member's name masked for this actor
    full = client_for(world.worker).get(reverse("console:person", args=[world.person_a.pk])).content.decode()
    assert "独居老人" in full
    assert client_for(world.worker).get(reverse("console:group", args=["nope"])).status_code == 404


def test_O2_login_logout_and_throttling(world, settings):
    settings.LINLI_LOGIN_MAX_FAILURES = 3
    c = Client()
    url = reverse("console:login")
    assert c.get(url).status_code == 200
    r = c.post(url, {"username": "worker_a", "password": f.PASSWORD, "next": reverse("console:places")})
    assert r.status_code == 302 and r["Location"] == reverse("console:places")
    assert c.get(reverse("console:home")).status_code == 200
    assert c.get(reverse("console:logout")).status_code == 405
    assert c.post(reverse("console:logout")).status_code == 302
    assert c.get(reverse("console:home")).status_code == 302

    r = c.post(url, {"username": "worker_a", "password": "wrong", "next": "https://evil.example/"})
    assert r.status_code == 400 and "用户名或密码错误" in r.content.decode()
    for _ in range(3):
        r = c.post(url, {"username": "worker_a", "password": "wrong"})
    assert r.status_code == 429
    assert "秒后再试" in r.content.decode() or "频繁" in r.content.decode()
    r = c.post(url, {"username": "worker_a", "password": f.PASSWORD})
    assert r.status_code == 429  # still locked even with the right password

    f.account("resident2", kind="resident")
    r = Client().post(url, {"username": "resident2", "password": f.PASSWORD})
    assert r.status_code == 403 and "居民" in r.content.decode()


def test_open_redirect_is_refused(world):
    r = Client().post(reverse("console:login"), {"username": "worker_a", "password": f.PASSWORD, "next": "https://evil.example/"})
    assert r.status_code == 302 and r["Location"] == reverse("console:home")


@pytest.mark.parametrize("nxt", ["//evil.example", "https://evil.example", "/\\evil", "\\\\evil.example"])
def test_O2_U1_console_login_and_elder_switch_refuse_open_redirects(world, nxt):
    home = reverse("console:home")
    c = Client()
    r = c.post(reverse("console:login"), {"username": "worker_a", "password": f.PASSWORD, "next": nxt})
    assert r.status_code == 302 and r["Location"] == home
    assert c.get(reverse("console:login"), {"next": nxt})["Location"] == home  # already signed in
    r = c.post(reverse("console:elder"), {"next": nxt})
    assert r.status_code == 302 and r["Location"] == home
    assert Client().get(reverse("console:login"), {"next": nxt}).context["next"] == ""  # not carried in the form


def test_O2_U1_console_session_follows_local_next_and_logout_needs_post(world):
    c = client_for(world.worker)
    r = c.get(reverse("console:login"), {"next": reverse("console:places")})
    assert r.status_code == 302 and r["Location"] == reverse("console:places")
    assert c.post(reverse("console:elder"), {"next": "/"})["Location"] == "/"  # the landing page's switch
    assert c.get(reverse("console:elder")).status_code == 405
    assert c.put(reverse("console:login")).status_code == 405
    assert c.post(reverse("console:login"), {"username": ""}).status_code == 400
    r = c.post(reverse("console:logout"))
    assert r.status_code == 302 and r["Location"] == reverse("console:login")
    assert AuditEntry.objects.filter(action="auth.logout", actor_id=world.worker.pk).exists()
    assert c.get(reverse("console:home")).status_code == 302


def test_U1_elder_mode_and_language_switch(world):
    c = client_for(world.worker)
    page = c.get(reverse("console:home")).content.decode()
    assert 'class=""' in page or "elder" not in page.split("<head>")[0]
    r = c.post(reverse("console:elder"), {"next": reverse("console:places")})
    assert r.status_code == 302 and r["Location"] == reverse("console:places") and r.cookies["linli_elder"].value == "1"
    assert 'class="elder"' in c.get(reverse("console:places")).content.decode()
    c.post(reverse("console:elder"))
    assert 'class="elder"' not in c.get(reverse("console:places")).content.decode()

    assert 'lang="zh-Hans"' in c.get(reverse("console:home")).content.decode()
    c.post(reverse("set_language"), {"language": "en", "next": reverse("console:home")})
    page = c.get(reverse("console:home")).content.decode()
    assert 'lang="en"' in page and "Sign out" in page


def test_U1_pages_have_landmarks_and_labels(world):
    page = client_for(world.worker).get(reverse("console:people")).content.decode()
    assert 'href="#main"' in page and '<main id="main"' in page and 'role="banner"' in page and "aria-label" in page
    assert '<label for="id_q"' in page


def test_data_section_link_only_when_installed_and_permitted(world):
    try:
        data_url = reverse("console:data_home")
    except NoReverseMatch:
        data_url = None
    exporter = f.account("exporter", perms=[*VIEW_PERMS, Perm.DATA_EXPORT], scope=world.tree.community_a)
    with_perm = client_for(exporter).get(reverse("console:home")).content.decode()
    without = client_for(world.worker).get(reverse("console:home")).content.decode()
    assert "/console/data/" not in without
    if data_url is None:
        assert "/console/data/" not in with_perm
    else:
        assert f'href="{data_url}"' in with_perm


# ---- query-count pins on list pages ------------------------------------------------------------


_numbers = itertools.count(500)


def _grow(w: World, n: int) -> None:
    for _ in range(n):
        i = next(_numbers)
        h = f.house(w.tree.grid_a, est=w.estate_a, number=str(i))
        p = f.person(w.tree.grid_a, name=f"王{i}号")
        f.residency(p, h)
        SpecialGroupTag.objects.create(person=p, group="elderly_alone")
        f.estate(w.tree.community_a)


@pytest.mark.parametrize("name", ["estates", "people", "building", "group", "house", "home", "places", "region"])
def test_O2_list_pages_use_a_constant_number_of_queries(world, name, django_assert_max_num_queries):
    c = client_for(world.worker)
    urls = {
        "estates": reverse("console:estates"),
        "people": reverse("console:people") + "?q=王",
        "building": reverse("console:building", args=[world.building_a.pk]),
        "group": reverse("console:group", args=["elderly_alone"]),
        "house": reverse("console:house", args=[world.house_a.pk]),
        "home": reverse("console:home"),
        "places": reverse("console:places"),
        "region": reverse("console:region", args=[world.tree.community_a.pk]),
    }
    c.get(urls[name])
    _grow(world, 2)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        assert c.get(urls[name]).status_code == 200
    _grow(world, 8)
    with django_assert_max_num_queries(len(small)):
        assert c.get(urls[name]).status_code == 200


def test_O2_me_page_tokens_are_shown_once_and_revocable(world):
    from linli.orgs.models import ApiToken, hash_token

    c = client_for(world.worker)
    page = c.get(reverse("console:me")).content.decode()
    assert "查看区域与房屋" in page and "甲社区" in page  # my permissions and where
    r = c.post(reverse("console:token_create"), {"name": "巡查App", "days": "90"}, headers={"HX-Request": "true"})
    body = r.content.decode()
    raw = re.search(r'id="raw-token" class="token">([^<]+)<', body).group(1)
    token = ApiToken.objects.get(key_hash=hash_token(raw))
    assert token.account_id == world.worker.pk and token.expires_at is not None
    assert raw not in c.get(reverse("console:me")).content.decode()  # shown once
    assert c.post(reverse("console:token_create"), {"name": "", "days": "7"}).status_code == 422

    other = f.account("other_staff", perms=VIEW_PERMS, scope=world.tree.community_b)
    assert client_for(other).post(reverse("console:token_revoke", args=[token.pk])).status_code == 404
    r = c.post(reverse("console:token_revoke", args=[token.pk]))
    assert r.status_code == 200 and "已吊销" in r.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
