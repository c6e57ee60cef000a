"""L2: segmentation, colloquial search on the engine of the run (SQLite FTS5 or PostgreSQL tsvector)."""

import pytest
from django.db import connection

from linli.knowledge import search, segment
from linli.knowledge.models import Article

COLLOQUIAL = [
    ("老人补贴怎么领", "elderly-allowance"),
    ("孩子上学要什么材料", "school-enrolment"),
    ("垃圾怎么分", "garbage-sorting"),
    ("身份证丢了怎么办", "id-card-loss"),
    ("身份证过期了去哪换", "id-card-renewal"),
    ("刚生了孩子怎么上户口", "newborn-registration"),
    ("楼上装修太吵了找谁", "noise-complaint"),
    ("被困在电梯里怎么办", "elevator-fault"),
    ("闻到煤气味怎么办", "gas-leak-outage"),
    ("电动车能推到楼上充电吗", "ebike-charging"),
    ("家里没钱生活能申请低保吗", "dibao"),
    ("外地人在济南怎么办暂住证", "residence-permit"),
    ("老板不发工资怎么办", "wage-arrears"),
    ("被狗咬了要打针吗", "rabies-exposure"),
]


def test_L2_segmentation_words_and_subwords():
    words = segment.tokens("居住证怎么办理？")
    assert "居住证" in words and "居住" in words and "办理" in words
    assert "？" not in words
    assert segment.index_text("高龄津贴") .split() == segment.tokens("高龄津贴")


def test_L2_query_drops_filler_and_expands_colloquial_words():
    terms = segment.query_terms("老人补贴怎么领")
    assert "怎么" not in terms
    assert {"老人", "补贴", "高龄津贴", "申领"} <= set(terms)
    assert {"补领", "居民身份证"} <= set(segment.query_terms("我身份证丢了"))
    assert segment.query_terms("  ") == ()
    assert segment.query_terms("的了吗") == ()


@pytest.mark.parametrize(("question", "slug"), COLLOQUIAL)
def test_L2_colloquial_question_finds_article_in_top3(kb, resident, api_as, question, slug):
    res = api_as(resident).get("knowledge/search", {"q": question, "limit": 5})
    assert res.status_code == 200, res.content
    slugs = [i["slug"] for i in res.json()["items"]]
    assert slug in slugs[:3], (question, slugs)


def test_L2_title_outranks_body_mention(kb):
    ids = search.ranked_ids("高龄津贴")
    assert Article.objects.get(pk=ids[0]).slug == "elderly-allowance"


def test_L2_index_of_the_engine_exists(kb):
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("SELECT count(*) FROM knowledge_article_fts WHERE knowledge_article_fts MATCH %s", ['"垃圾分类"'])
        else:
            cur.execute("SELECT count(*) FROM knowledge_article WHERE search_vector @@ to_tsquery('simple', '垃圾分类')")
        assert cur.fetchone()[0] >= 1


def test_L2_reindex_keeps_results(kb):
    assert search.reindex_all() == Article.objects.count()
    assert Article.objects.get(pk=search.ranked_ids("垃圾怎么分")[0]).slug == "garbage-sorting"


def test_L2_starter_set_has_60_published_articles_with_reminder(kb):
    published = Article.objects.filter(status="published")
    assert published.count() >= 60
    assert all("以当地最新政策为准" in a.body for a in published)
    assert {a.category.kind for a in published} == {"convenience", "admin"}
