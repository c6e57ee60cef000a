"""Load the starter articles (starter_data) — used by migration 0003 and the tests. Idempotent:
categories by code and articles by slug that already exist are left as they are."""

from __future__ import annotations

from django.db import connection as default_connection
from django.utils import timezone

from . import search, segment
from .starter_data import ARTICLES, CATEGORIES

REMINDER = "（本文为一般性办事指引，具体条件、材料和流程以当地最新政策为准。）"


def body_of(text: str) -> str:
    text = text.strip()
    return text if "以当地最新政策为准" in text else f"{text}\n\n{REMINDER}"


def load_starter(Category, Article, ArticleVersion, *, connection=None) -> int:
    """Create missing categories and published articles (version 1); returns articles created."""
    conn = connection or default_connection
    cats = {}
    for sort, (code, name, kind) in enumerate(CATEGORIES):
        cats[code], _ = Category.objects.get_or_create(code=code, defaults={"name": name, "kind": kind, "sort": sort})
    existing = set(Article.objects.filter(slug__in=[a[0] for a in ARTICLES]).values_list("slug", flat=True))
    now = timezone.now()
    created = 0
    for slug, cat, title, keywords, body in ARTICLES:
        if slug in existing:
            continue
        body = body_of(body)
        article = Article.objects.create(
            slug=slug, title=title, body=body, category=cats[cat], tags=[cats[cat].name], keywords=list(keywords),
            status="published", version=1, published_at=now,
            search_title=segment.index_text(title), search_keywords=segment.index_text(" ".join([*keywords, cats[cat].name])),
            search_body=segment.index_text(body),
        )
        search.sync(article.pk, article.search_title, article.search_keywords, article.search_body, using=conn)
        ArticleVersion.objects.create(article=article, version=1, title=title, body=body, category=cats[cat],
                                      tags=article.tags, keywords=article.keywords, status="published", note="初始知识库")
        created += 1
    return created
