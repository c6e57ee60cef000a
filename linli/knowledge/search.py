"""Full-text index and ranked search for articles (L2), one code path per database engine.

SQLite: an FTS5 table ``knowledge_article_fts(title, keywords, body)`` keyed by the article id,
rewritten by :func:`sync` inside the writing service's transaction; ranked by ``bm25`` with title ×10,
keywords ×5, body ×1. PostgreSQL: a generated ``search_vector`` column (title weight A, keywords B,
body C) with a GIN index, ranked by ``ts_rank_cd`` (normalised by log document length). Both match any query word (OR); the ranking does
the rest. Returns article ids best first; visibility is applied by the selector.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Q

from . import segment
from .models import Article

FTS_TABLE = "knowledge_article_fts"
CANDIDATES = 200


def fill(article) -> None:
    """Set the segmented search columns from the article's text (before save)."""
    article.search_title = segment.index_text(article.title)
    article.search_keywords = segment.index_text(" ".join([*(article.keywords or []), *(article.tags or [])]))
    article.search_body = segment.index_text(article.body)


def sync(article_id: int, title: str, keywords: str, body: str, *, using=None) -> None:
    """Keep the SQLite FTS5 row of one article in step (PostgreSQL's column is generated)."""
    conn = using or connection
    if conn.vendor != "sqlite":
        return
    with conn.cursor() as cur:
        cur.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [article_id])
        cur.execute(f"INSERT INTO {FTS_TABLE}(rowid, title, keywords, body) VALUES (%s, %s, %s, %s)",
                    [article_id, title, keywords, body])


def ranked_ids(q: str, *, limit: int = CANDIDATES) -> list[int]:
    terms = segment.query_terms(q)
    if not terms:
        return []
    if connection.vendor == "sqlite":
        match = " OR ".join('"' + t.replace('"', "") + '"' for t in terms)
        sql = (f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s "
               f"ORDER BY bm25({FTS_TABLE}, 10.0, 5.0, 1.0) LIMIT %s")
        params = [match, limit]
    elif connection.vendor == "postgresql":
        tsq = " | ".join(t.replace("'", "") for t in terms if t.replace("'", ""))
        sql = ("SELECT id FROM knowledge_article, to_tsquery('simple', %s) query WHERE search_vector @@ query "
               "ORDER BY ts_rank_cd('{0.1, 0.3, 0.6, 1.0}', search_vector, query, 1) DESC, id LIMIT %s")
        params = [tsq, limit]
    else:  # other engines: no index, plain containment on the segmented columns
        cond = Q()
        for t in terms:
            cond |= Q(search_title__contains=t) | Q(search_keywords__contains=t) | Q(search_body__contains=t)
        return list(Article.objects.filter(cond).values_list("id", flat=True)[:limit])
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return [row[0] for row in cur.fetchall()]


def reindex_all() -> int:
    """Re-segment every article and rebuild the index (after the synonym table or dictionary changes)."""
    n = 0
    for article in Article.objects.all().iterator():
        fill(article)
        Article.objects.filter(pk=article.pk).update(search_title=article.search_title, search_keywords=article.search_keywords,
                                                     search_body=article.search_body)
        sync(article.pk, article.search_title, article.search_keywords, article.search_body)
        n += 1
    return n
