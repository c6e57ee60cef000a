"""/api/v1/knowledge — search (colloquial questions), categories, articles (list, detail, versions),
and for holders of knowledge.edit: create, edit (new version), publish, archive (L2)."""

from __future__ import annotations

from typing import Any

from ninja import Router
from ninja import Status as Http

from linli.core.errors import Invalid, NotFound
from linli.core.i18n import Msg
from linli.core.pagination import paginate
from linli.core.schemas import ERRORS, Page
from linli.places.models import Region

from . import selectors as sel
from . import services as svc
from .models import Status
from .schemas import ArticleDetailOut, ArticleIn, ArticleOut, ArticlePatch, CategoryOut, SearchOut, VersionOut

router = Router()


def _page(qs, cursor: str | None, limit: int | None, order: str = "-id") -> dict[str, Any]:
    rows, next_cursor = paginate(qs, cursor=cursor, limit=limit, order=order)
    return {"items": rows, "next_cursor": next_cursor}


def _region(region_id: int | None) -> Region | None:
    if region_id is None:
        return None
    region = Region.objects.filter(pk=region_id).first()
    if region is None:
        raise NotFound("place.region_not_found")
    return region


@router.get("/search", response={200: SearchOut, **ERRORS}, summary="搜索知识（支持口语化问题）")
def search(request, q: str, category: str | None = None, limit: int = 10):
    if limit < 1 or limit > sel.MAX_SEARCH:
        raise Invalid("knowledge.bad_limit", Msg("条数须在1到{max}之间", "limit must be between 1 and {max}"), max=sel.MAX_SEARCH)
    return {"query": q, "items": sel.article_search(actor=request.auth, q=q, category=category, limit=limit)}


@router.get("/categories", response={200: Page[CategoryOut], **ERRORS}, summary="知识分类")
def list_categories(request, cursor: str | None = None, limit: int | None = 200):
    return _page(sel.category_list(), cursor, limit, order="id")


@router.get("/articles", response={200: Page[ArticleOut], **ERRORS}, summary="文章列表")
def list_articles(request, category: str | None = None, status: Status | None = None, q: str | None = None,
                  cursor: str | None = None, limit: int | None = None):
    return _page(sel.article_list(actor=request.auth, category=category, status=status, q=q), cursor, limit)


@router.get("/articles/{article_id}", response={200: ArticleDetailOut, **ERRORS}, summary="文章详情")
def get_article(request, article_id: int):
    return sel.article_get(actor=request.auth, article_id=article_id)


@router.get("/articles/{article_id}/versions", response={200: Page[VersionOut], **ERRORS}, summary="版本历史")
def list_versions(request, article_id: int, cursor: str | None = None, limit: int | None = None):
    return _page(sel.article_versions(actor=request.auth, article_id=article_id), cursor, limit)


@router.post("/articles", response={201: ArticleDetailOut, **ERRORS}, summary="新建文章（knowledge.edit）")
def create_article(request, payload: ArticleIn):
    article = svc.article_create(
        actor=request.auth, slug=payload.slug, title=payload.title, body=payload.body, category=sel.category_get(payload.category),
        tags=payload.tags, keywords=payload.keywords, region=_region(payload.region_id), publish=payload.publish,
    )
    return Http(201, article)


@router.patch("/articles/{article_id}", response={200: ArticleDetailOut, **ERRORS}, summary="修改文章（生成新版本）")
def update_article(request, article_id: int, payload: ArticlePatch):
    sel.article_get(actor=request.auth, article_id=article_id)
    return svc.article_update(
        actor=request.auth, article_id=article_id, title=payload.title, body=payload.body,
        category=sel.category_get(payload.category) if payload.category else None, tags=payload.tags,
        keywords=payload.keywords, note=payload.note,
    )


@router.post("/articles/{article_id}/publish", response={200: ArticleDetailOut, **ERRORS}, summary="发布")
def publish_article(request, article_id: int):
    sel.article_get(actor=request.auth, article_id=article_id)
    return svc.article_publish(actor=request.auth, article_id=article_id)


@router.post("/articles/{article_id}/archive", response={200: ArticleDetailOut, **ERRORS}, summary="归档")
def archive_article(request, article_id: int):
    sel.article_get(actor=request.auth, article_id=article_id)
    return svc.article_archive(actor=request.auth, article_id=article_id)
