"""Writes of the knowledge base (L2): create, update (→ new version), publish, archive.

Keyword-only and atomic; each checks ``knowledge.edit`` over the article's region (city-wide
articles need a city-wide grant), writes the segmented search text and its index row, one
ArticleVersion row and one audit entry.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from linli.audit.services import record, snapshot
from linli.core.errors import Conflict, Invalid, NotFound, validation_detail
from linli.core.i18n import Msg
from linli.orgs.perms import check_perm_anywhere
from linli.places.models import Region

from . import search
from .models import Article, ArticleVersion, Category, Status
from .perms import KbPerm

AUDIT_FIELDS = ["slug", "title", "category", "tags", "keywords", "status", "version", "region"]


def can_edit(actor, region: Region | None) -> bool:
    """knowledge.edit over ``region``; for a city-wide article (None) over a top-level region."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return False
    paths = actor.scope_paths(KbPerm.EDIT)
    if paths is None:
        return True
    if region is None:
        return any(len(p) <= Region.steplen for p in paths)
    return any(region.path.startswith(p) for p in paths)


def check_edit(actor, region: Region | None) -> None:
    check_perm_anywhere(actor, KbPerm.EDIT)
    if not can_edit(actor, region):
        raise NotFound("knowledge.not_found", Msg("文章不存在或不在您的管辖范围内", "Article not found or outside your scope"))


def _clean_list(values: Sequence[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or []:
        v = str(v).strip()[:40]
        if v and v not in out:
            out.append(v)
    return out[:30]


def _save(article: Article, *, actor, note: str) -> Article:
    article.updated_by = actor if getattr(actor, "pk", None) else None
    try:
        article.full_clean(exclude=["updated_by", "region", "category"])
    except ValidationError as exc:
        raise Invalid("knowledge.invalid", Msg("文章内容不完整或有误", "Article is incomplete or invalid"),
                      detail=validation_detail(exc)) from exc
    search.fill(article)
    article.save()
    search.sync(article.pk, article.search_title, article.search_keywords, article.search_body)
    ArticleVersion.objects.create(
        article=article, version=article.version, title=article.title, body=article.body, category=article.category,
        tags=article.tags, keywords=article.keywords, status=article.status, note=note[:200], created_by=article.updated_by,
    )
    return article


def _locked(article_id: int) -> Article:
    try:
        return Article.objects.select_for_update(of=("self",)).select_related("region", "category").get(pk=article_id)
    except Article.DoesNotExist as exc:
        raise NotFound("knowledge.not_found", Msg("文章不存在或不在您的管辖范围内", "Article not found or outside your scope")) from exc


@transaction.atomic
def article_create(*, actor, slug: str, title: str, body: str, category: Category, tags: Sequence[str] = (),
                   keywords: Sequence[str] = (), region: Region | None = None, publish: bool = False) -> Article:
    check_edit(actor, region)
    if Article.objects.filter(slug=slug).exists():
        raise Conflict("knowledge.slug_taken", Msg("标识“{slug}”已被使用", "Slug '{slug}' is already taken"), slug=slug)
    now = timezone.now()
    article = Article(slug=slug, title=title.strip(), body=body.strip(), category=category, tags=_clean_list(tags),
                      keywords=_clean_list(keywords), region=region, version=1,
                      status=Status.PUBLISHED if publish else Status.DRAFT, published_at=now if publish else None)
    _save(article, actor=actor, note="创建")
    record(actor=actor, action="knowledge.article_create", obj=article, after=snapshot(article, AUDIT_FIELDS),
           region_path=region.path if region else "")
    return article


@transaction.atomic
def article_update(*, actor, article_id: int, title: str | None = None, body: str | None = None,
                   category: Category | None = None, tags: Sequence[str] | None = None,
                   keywords: Sequence[str] | None = None, note: str = "") -> Article:
    """Edit the text; the article gets the next version number and keeps its publish state."""
    article = _locked(article_id)
    check_edit(actor, article.region)
    before = snapshot(article, AUDIT_FIELDS)
    if title is not None:
        article.title = title.strip()
    if body is not None:
        article.body = body.strip()
    if category is not None:
        article.category = category
    if tags is not None:
        article.tags = _clean_list(tags)
    if keywords is not None:
        article.keywords = _clean_list(keywords)
    article.version += 1
    _save(article, actor=actor, note=note or "修改")
    record(actor=actor, action="knowledge.article_update", obj=article, before=before, after=snapshot(article, AUDIT_FIELDS),
           region_path=article.region.path if article.region else "")
    return article


def _set_status(*, actor, article_id: int, status: str, action: str, note: str) -> Article:
    article = _locked(article_id)
    check_edit(actor, article.region)
    if article.status == status:
        raise Conflict("knowledge.same_status", Msg("文章已是该状态", "Article already has this status"))
    before = snapshot(article, AUDIT_FIELDS)
    article.status = status
    if status == Status.PUBLISHED:
        article.published_at = timezone.now()
    article.version += 1
    _save(article, actor=actor, note=note)
    record(actor=actor, action=action, obj=article, before=before, after=snapshot(article, AUDIT_FIELDS),
           region_path=article.region.path if article.region else "")
    return article


@transaction.atomic
def article_publish(*, actor, article_id: int) -> Article:
    return _set_status(actor=actor, article_id=article_id, status=Status.PUBLISHED, action="knowledge.article_publish", note="发布")


@transaction.atomic
def article_archive(*, actor, article_id: int) -> Article:
    return _set_status(actor=actor, article_id=article_id, status=Status.ARCHIVED, action="knowledge.article_archive", note="归档")
