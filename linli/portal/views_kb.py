"""Resident portal pages of the knowledge base (/portal/kb/, L2): ask in your own words, browse
by category, read a guide. Only published articles for the city or the resident's own area."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_GET

from linli.core.errors import NotFound
from linli.knowledge import selectors as kb
from linli.knowledge.render import to_html

from .views import portal_view

EXAMPLES = ["老人补贴怎么领", "孩子上学要什么材料", "垃圾怎么分", "身份证丢了", "暖气不热", "怎么交医保"]


@require_GET
@portal_view
def kb_home(request):
    actor = request.user
    q = (request.GET.get("q") or "").strip()[:100]
    category = request.GET.get("category") or None
    ctx: dict = {"q": q, "category": category, "categories": kb.category_list(), "examples": EXAMPLES}
    if q:
        ctx["hits"] = kb.article_search(actor=actor, q=q, category=category, limit=10)
    elif category:
        ctx["rows"] = list(kb.article_list(actor=actor, category=category).order_by("id")[:100])
    return render(request, "portal/kb/home.html", ctx)


@require_GET
@portal_view
def kb_article(request, article_id: int):
    try:
        article = kb.article_get(actor=request.user, article_id=article_id)
    except NotFound:
        return render(request, "portal/kb/missing.html", status=404)
    return render(request, "portal/kb/article.html", {"article": article, "body_html": to_html(article.body)})
