"""Reads of the knowledge base (L2): who sees which article, search, list, detail, versions.

Published articles are public information: every signed-in staff account sees all of them; a
resident sees the city-wide ones and those scoped to a region containing one of their homes.
Drafts and archived articles are seen only by holders of ``knowledge.edit`` over the article's
region. Anything else is simply absent (404).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from linli.core.errors import NotFound
from linli.core.i18n import Msg
from linli.orgs.models import AccountKind
from linli.places.models import Region

from . import search, segment
from .models import Article, ArticleVersion, Category, Status
from .perms import KbPerm

MAX_SEARCH = 20


def _prefixes(path: str) -> list[str]:
    return [path[:i] for i in range(Region.steplen, len(path) + 1, Region.steplen)]


def _home_paths(actor) -> list[str]:
    from linli.people.models import Residency

    if not getattr(actor, "person_id", None):
        return []
    return list(Residency.objects.filter(person_id=actor.person_id, move_out__isnull=True)
                .values_list("house__region__path", flat=True))


def visible(actor) -> QuerySet[Article]:
    qs = Article.objects.select_related("category", "region")
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return qs.none()
    published = Q(status=Status.PUBLISHED)
    if getattr(actor, "kind", None) == AccountKind.RESIDENT and not actor.is_superuser:
        prefixes = sorted({p for home in _home_paths(actor) for p in _prefixes(home)})
        return qs.filter(published & (Q(region__isnull=True) | Q(region__path__in=prefixes)))
    paths = actor.scope_paths(KbPerm.EDIT)
    if paths is None:
        return qs
    if not paths:
        return qs.filter(published)
    editable = Q(pk__in=[])
    for p in paths:
        editable |= Q(region__path__startswith=p)
    if any(len(p) <= Region.steplen for p in paths):
        editable |= Q(region__isnull=True)
    return qs.filter(published | editable)


def article_get(*, actor, article_id: int | None = None, slug: str | None = None) -> Article:
    lookup = {"pk": article_id} if article_id is not None else {"slug": slug}
    try:
        return visible(actor).get(**lookup)
    except (Article.DoesNotExist, ValueError) as exc:
        raise NotFound("knowledge.not_found", Msg("文章不存在或不在您的管辖范围内", "Article not found or outside your scope")) from exc


def article_list(*, actor, category: str | None = None, status: str | None = None, q: str | None = None) -> QuerySet[Article]:
    qs = visible(actor)
    if category:
        qs = qs.filter(category__code=category)
    if status:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(title__icontains=q.strip())
    return qs


def article_search(*, actor, q: str, category: str | None = None, limit: int = 10, published_only: bool = True) -> list[Article]:
    """Best first, at most ``limit`` (≤ 20) articles matching the (colloquial) question ``q``."""
    limit = max(1, min(limit or 10, MAX_SEARCH))
    ids = search.ranked_ids(q)
    if not ids:
        return []
    qs = visible(actor).filter(pk__in=ids)
    if published_only:
        qs = qs.filter(status=Status.PUBLISHED)
    if category:
        qs = qs.filter(category__code=category)
    order = {pk: i for i, pk in enumerate(ids)}
    rows = sorted(qs, key=lambda a: order[a.pk])[:limit]
    terms = segment.query_terms(q)
    for a in rows:
        a.snippet = snippet(a.body, terms)
    return rows


def snippet(body: str, terms: tuple[str, ...], width: int = 90) -> str:
    text = " ".join(body.split())
    hits = [text.find(t) for t in sorted(terms, key=len, reverse=True) if len(t) > 1 and t in text]
    start = max(0, min(hits) - 20) if hits else 0
    out = text[start:start + width]
    return ("…" if start else "") + out + ("…" if start + width < len(text) else "")


def article_versions(*, actor, article_id: int) -> QuerySet[ArticleVersion]:
    article = article_get(actor=actor, article_id=article_id)
    return ArticleVersion.objects.filter(article=article).select_related("created_by")


def category_list() -> QuerySet[Category]:
    return Category.objects.all()


def category_get(code: str) -> Category:
    try:
        return Category.objects.get(code=code)
    except Category.DoesNotExist as exc:
        raise NotFound("knowledge.category_not_found", Msg("分类不存在", "Category not found")) from exc
