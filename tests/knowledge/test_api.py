"""L2 API: publish/draft visibility, versions, permissions and scope, audit, pagination."""

import pytest

from linli.audit.models import AuditEntry
from linli.knowledge import services as svc
from linli.knowledge.models import Article, Category
from linli.orgs.models import AccountKind
from tests import factories as f

NEW = {"slug": "test-heating-subsidy", "title": "供暖补贴测试文章", "body": "困难家庭冬季取暖补贴的申请办法（测试）。",
       "category": "utilities", "keywords": ["取暖补贴"], "tags": ["测试"]}


def _slugs(res):
    return [i["slug"] for i in res.json()["items"]]


def test_L2_editor_creates_draft_invisible_until_published(kb, editor, resident, viewer, api_as):
    res = api_as(editor).post("knowledge/articles", NEW)
    assert res.status_code == 201, res.content
    art = res.json()
    assert art["status"] == "draft" and art["version"] == 1
    for who in (resident, viewer):
        assert api_as(who).get(f"knowledge/articles/{art['id']}").status_code == 404
        assert "test-heating-subsidy" not in _slugs(api_as(who).get("knowledge/search", {"q": "取暖补贴"}))
    assert api_as(editor).get(f"knowledge/articles/{art['id']}").status_code == 200

    pub = api_as(editor).post(f"knowledge/articles/{art['id']}/publish")
    assert pub.status_code == 200 and pub.json()["status"] == "published" and pub.json()["published_at"]
    assert api_as(resident).get(f"knowledge/articles/{art['id']}").status_code == 200
    assert _slugs(api_as(resident).get("knowledge/search", {"q": "取暖补贴"}))[0] == "test-heating-subsidy"

    assert api_as(editor).post(f"knowledge/articles/{art['id']}/archive").status_code == 200
    assert api_as(resident).get(f"knowledge/articles/{art['id']}").status_code == 404
    assert "test-heating-subsidy" not in _slugs(api_as(editor).get("knowledge/search", {"q": "取暖补贴"}))


def test_L2_update_makes_a_new_version_and_reindexes(kb, editor, api_as):
    art = kb["garbage-sorting"]
    res = api_as(editor).patch(f"knowledge/articles/{art.pk}", {"title": "济南垃圾分类四分法", "body": art.body + "\n补充：过期化妆品属于有害垃圾。",
                                                                "note": "补充示例"})
    assert res.status_code == 200, res.content
    assert res.json()["version"] == 2 and res.json()["status"] == "published"
    versions = api_as(editor).get(f"knowledge/articles/{art.pk}/versions").json()["items"]
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["note"] == "补充示例" and versions[0]["created_by"] == editor.display_name
    assert _slugs(api_as(editor).get("knowledge/search", {"q": "化妆品"}))[0] == "garbage-sorting"
    entry = AuditEntry.objects.filter(action="knowledge.article_update").latest("seq")
    assert entry.before["version"] == 1 and entry.after["version"] == 2 and entry.actor_id == editor.pk


def test_L2_permissions_view_only_cannot_write(kb, viewer, resident, api_as):
    for who in (viewer, resident):
        assert api_as(who).post("knowledge/articles", NEW).status_code == 403
        art = kb["heating"]
        assert api_as(who).patch(f"knowledge/articles/{art.pk}", {"title": "改标题试试"}).status_code == 403
        assert api_as(who).post(f"knowledge/articles/{art.pk}/archive").status_code == 403


def test_L2_scoped_editor_writes_only_in_scope(kb, tree, api_as):
    local = f.account("kb_local", perms=["knowledge.view", "knowledge.edit"], scope=tree.community_a)
    assert api_as(local).post("knowledge/articles", NEW).status_code == 404  # city-wide needs a city grant
    mine = api_as(local).post("knowledge/articles", {**NEW, "region_id": tree.community_a.pk})
    assert mine.status_code == 201
    assert api_as(local).post("knowledge/articles", {**NEW, "slug": "other-b", "region_id": tree.community_b.pk}).status_code == 404
    other = svc.article_create(actor=f.account(superuser=True), slug="b-only", title="乙社区通知", body="乙社区的草稿内容。",
                               category=Category.objects.get(code="community"), region=tree.community_b)
    assert api_as(local).get(f"knowledge/articles/{other.pk}").status_code == 404
    assert "b-only" not in _slugs(api_as(local).get("knowledge/articles", {"status": "draft"}))
    assert api_as(local).patch(f"knowledge/articles/{other.pk}", {"title": "越权修改"}).status_code == 404
    assert api_as(local).patch(f"knowledge/articles/{kb['heating'].pk}", {"title": "越权修改"}).status_code == 404


def test_L2_resident_sees_region_articles_of_own_home_only(kb, tree, resident, api_as):
    admin = f.account(superuser=True)
    cat = Category.objects.get(code="community")
    a = svc.article_create(actor=admin, slug="a-canteen", title="甲社区长者食堂开饭时间", body="甲社区长者食堂每天中午开饭。",
                           category=cat, region=tree.community_a, publish=True)
    b = svc.article_create(actor=admin, slug="b-canteen", title="乙社区长者食堂开饭时间", body="乙社区长者食堂每天中午开饭。",
                           category=cat, region=tree.community_b, publish=True)
    client = api_as(resident)
    assert client.get(f"knowledge/articles/{a.pk}").status_code == 200
    assert client.get(f"knowledge/articles/{b.pk}").status_code == 404
    found = _slugs(client.get("knowledge/search", {"q": "长者食堂开饭时间", "limit": 20}))
    assert "a-canteen" in found and "b-canteen" not in found
    stranger = f.account(kind=AccountKind.RESIDENT)
    assert api_as(stranger).get(f"knowledge/articles/{a.pk}").status_code == 404


def test_L2_bad_input_is_4xx(kb, editor, api_as):
    c = api_as(editor)
    assert c.get("knowledge/search", {"q": "低保", "limit": 21}).status_code == 422
    assert c.get("knowledge/search", {"q": "的了吗"}).json()["items"] == []
    assert c.post("knowledge/articles", {**NEW, "slug": "Bad Slug"}).status_code == 422
    assert c.post("knowledge/articles", {**NEW, "category": "nope"}).status_code == 404
    assert c.post("knowledge/articles", {**NEW, "slug": "heating"}).status_code == 409
    assert c.post(f"knowledge/articles/{kb['heating'].pk}/publish").status_code == 409
    assert c.get("knowledge/articles/999999").status_code == 404


def test_L2_anonymous_gets_401(kb, client):
    assert client.get("/api/v1/knowledge/search", {"q": "低保"}).status_code == 401


def test_L2_list_is_paginated_with_constant_queries(kb, resident, api_as, django_assert_max_num_queries):
    c = api_as(resident)
    c.get("knowledge/articles", {"limit": 1})
    with django_assert_max_num_queries(8):
        page = c.get("knowledge/articles", {"limit": 30})
    body = page.json()
    assert len(body["items"]) == 30 and body["next_cursor"]
    rest = c.get("knowledge/articles", {"limit": 200, "cursor": body["next_cursor"]}).json()["items"]
    assert len(body["items"]) + len(rest) == Article.objects.filter(status="published", region__isnull=True).count()
    assert len(c.get("knowledge/articles", {"category": "elderly"}).json()["items"]) == 5
    assert c.get("knowledge/categories").json()["items"][0]["code"] == "hukou"


@pytest.mark.parametrize("limit", [1, 20])
def test_L2_search_limit(kb, resident, api_as, limit):
    assert len(api_as(resident).get("knowledge/search", {"q": "老人", "limit": limit}).json()["items"]) <= limit


def test_L2_search_query_count_is_constant(kb, resident, api_as, django_assert_max_num_queries):
    c = api_as(resident)
    c.get("knowledge/search", {"q": "低保"})
    with django_assert_max_num_queries(8):
        res = c.get("knowledge/search", {"q": "老人补贴怎么领", "limit": 20})
    assert len(res.json()["items"]) >= 5
