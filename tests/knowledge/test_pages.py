"""L2 console (/console/kb/) and portal (/portal/kb/) pages."""

from django.test import Client

from linli.knowledge.models import Article
from tests import factories as f


def _as(acc) -> Client:
    c = Client()
    c.force_login(acc)
    return c


def test_L2_console_search_article_and_htmx_partial(kb, viewer):
    c = _as(viewer)
    home = c.get("/console/kb/")
    assert home.status_code == 200 and "知识库" in home.text and "新建文章" not in home.text
    res = c.get("/console/kb/", {"q": "老人补贴怎么领"})
    assert res.status_code == 200 and "高龄津贴怎么申领" in res.text
    part = c.get("/console/kb/", {"q": "垃圾怎么分"}, headers={"HX-Request": "true"})
    assert part.status_code == 200 and "<html" not in part.text and "济南生活垃圾怎么分类" in part.text
    page = c.get(f"/console/kb/{kb['garbage-sorting'].pk}/")
    assert page.status_code == 200 and "<strong>厨余垃圾</strong>" in page.text and "版本历史" not in page.text
    assert c.get(f"/console/kb/{kb['garbage-sorting'].pk}/edit/").status_code == 403


def test_L2_console_needs_knowledge_view(kb, tree):
    other = f.account(perms=["person.view"], scope=tree.community_a)
    assert _as(other).get("/console/kb/").status_code == 403


def test_L2_console_editor_creates_edits_publishes(kb, editor, tree):
    c = _as(editor)
    assert c.get("/console/kb/new/").status_code == 200
    bad = c.post("/console/kb/new/", {"slug": "x", "title": "", "category": "safety", "body": "短"})
    assert bad.status_code == 422
    res = c.post("/console/kb/new/", {"slug": "winter-roads", "title": "冬季路面结冰出行提示", "category": "safety", "region": "",
                                      "keywords": "下雪路滑，结冰", "tags": "冬季", "body": "雪后路面结冰，老人尽量减少外出，**慢行**。"})
    assert res.status_code == 302, res.content
    art = Article.objects.get(slug="winter-roads")
    assert art.status == "draft" and art.keywords == ["下雪路滑", "结冰"] and art.region is None
    assert c.post(f"/console/kb/{art.pk}/publish/").status_code == 302
    res = c.post(f"/console/kb/{art.pk}/edit/", {"title": "冬季路面结冰出行提示", "category": "safety", "keywords": "结冰",
                                                 "tags": "", "body": art.body + "\n- 穿防滑鞋", "note": "加一条"})
    assert res.status_code == 302
    art.refresh_from_db()
    assert art.status == "published" and art.version == 3
    page = c.get(f"/console/kb/{art.pk}/")
    assert "版本历史" in page.text and "加一条" in page.text and "<li>穿防滑鞋</li>" in page.text
    assert c.post(f"/console/kb/{art.pk}/delete/").status_code == 404


def test_L2_portal_resident_searches_and_reads(kb, resident):
    c = _as(resident)
    home = c.get("/portal/kb/")
    assert home.status_code == 200 and "办事指南" in home.text and "老人补贴怎么领" in home.text
    res = c.get("/portal/kb/", {"q": "孩子上学要什么材料"})
    assert res.status_code == 200 and "孩子上小学要准备什么材料" in res.text
    assert "居住证怎么办理" in c.get("/portal/kb/", {"category": "hukou"}).text
    art = c.get(f"/portal/kb/{kb['id-card-loss'].pk}/")
    assert art.status_code == 200 and "临时居民身份证" in art.text and "<script" not in art.text.split("<main")[1]
    assert c.get("/portal/kb/999999/").status_code == 404


def test_L2_portal_is_for_signed_in_residents(kb, editor):
    assert Client().get("/portal/kb/").status_code == 302
    assert _as(editor).get("/portal/kb/").status_code == 302  # staff go to the console


def test_L2_body_render_escapes_markup():
    from linli.knowledge.render import to_html

    html = to_html("<script>alert(1)</script> **粗**\n\n1. 一\n2. 二")
    assert "<script>" not in html and "&lt;script&gt;" in html and "<strong>粗</strong>" in html and "<ol>" in html


def test_L2_console_nav_shows_knowledge_to_holders_only(kb, viewer, tree):
    assert 'href="/console/kb/"' in _as(viewer).get("/console/").text
    other = f.account(perms=["person.view"], scope=tree.community_a)
    assert 'href="/console/kb/"' not in _as(other).get("/console/").text
