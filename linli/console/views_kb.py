"""Console pages of the knowledge base (/console/kb/, L2): search as you type (htmx), browse by
category, read an article, and for holders of knowledge.edit: create, edit (new version),
publish, archive, version history. Hotline agents answer callers from here."""

from __future__ import annotations

from django import forms
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from linli.core.errors import NotFound
from linli.core.pagination import paginate
from linli.knowledge import selectors as kb
from linli.knowledge import services as svc
from linli.knowledge.models import Category, Status
from linli.knowledge.perms import KbPerm
from linli.knowledge.render import to_html
from linli.knowledge.schemas import SLUG
from linli.orgs.perms import check_perm_anywhere
from linli.places.models import Region

from .access import console_view, is_htmx

PAGE = 30


def _words(text: str) -> list[str]:
    return [w.strip() for w in text.replace("，", ",").replace("、", ",").split(",") if w.strip()]


class ArticleForm(forms.Form):
    slug = forms.RegexField(label=_("标识（英文小写、数字和连字符）"), regex=SLUG, max_length=80)
    title = forms.CharField(label=_("标题"), min_length=2, max_length=120)
    category = forms.ModelChoiceField(label=_("分类"), queryset=Category.objects.all(), to_field_name="code")
    region = forms.TypedChoiceField(label=_("适用范围"), coerce=int, empty_value=None, required=False)
    keywords = forms.CharField(label=_("群众常用说法（逗号分隔，参与检索）"), max_length=1000, required=False)
    tags = forms.CharField(label=_("标签（逗号分隔）"), max_length=500, required=False)
    body = forms.CharField(label=_("正文（支持 **加粗**、“- ”列表、“1. ”编号）"), min_length=10, max_length=50_000,
                           widget=forms.Textarea(attrs={"rows": 18}))
    note = forms.CharField(label=_("修改说明"), max_length=200, required=False)

    def __init__(self, *args, actor, article=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.article = article
        if article is not None:
            del self.fields["slug"], self.fields["region"]
            return
        del self.fields["note"]
        choices = [("", _("全市"))] if svc.can_edit(actor, None) else []
        paths = actor.scope_paths(KbPerm.EDIT)
        regions = Region.objects.filter(depth__lte=4) if paths is None else Region.objects.filter(path__in=paths)
        choices += [(r.pk, r.name) for r in regions.order_by("path")[:200]]
        self.fields["region"].choices = choices


def _can_edit_any(actor) -> bool:
    paths = actor.scope_paths(KbPerm.EDIT)
    return paths is None or bool(paths)


@require_GET
@console_view
def kb_home(request):
    actor = request.user
    check_perm_anywhere(actor, KbPerm.VIEW)
    q = (request.GET.get("q") or "").strip()[:100]
    category = request.GET.get("category") or None
    status = request.GET.get("status") or None
    ctx: dict = {"q": q, "category": category, "status": status, "categories": kb.category_list(),
                 "can_edit": _can_edit_any(actor), "statuses": Status.choices}
    if q:
        ctx["hits"] = kb.article_search(actor=actor, q=q, category=category, limit=kb.MAX_SEARCH)
    else:
        cursor = request.GET.get("cursor") or None
        rows, next_cursor = paginate(kb.article_list(actor=actor, category=category, status=status), cursor=cursor, limit=PAGE)
        ctx.update(rows=rows, next_cursor=next_cursor, is_first_page=not cursor)
    template = "console/kb/_results.html" if is_htmx(request) else "console/kb/home.html"
    return render(request, template, ctx)


@require_GET
@console_view
def kb_article(request, article_id: int):
    actor = request.user
    check_perm_anywhere(actor, KbPerm.VIEW)
    article = kb.article_get(actor=actor, article_id=article_id)
    can_edit = svc.can_edit(actor, article.region)
    versions = list(kb.article_versions(actor=actor, article_id=article_id)[:50]) if can_edit else []
    return render(request, "console/kb/article.html", {"article": article, "body_html": to_html(article.body),
                                                       "can_edit": can_edit, "versions": versions})


@require_http_methods(["GET", "POST"])
@console_view
def kb_edit(request, article_id: int | None = None):
    actor = request.user
    check_perm_anywhere(actor, KbPerm.EDIT)
    article = None
    if article_id is not None:
        article = kb.article_get(actor=actor, article_id=article_id)
        svc.check_edit(actor, article.region)
    if request.method == "POST":
        form = ArticleForm(request.POST, actor=actor, article=article)
        if form.is_valid():
            d = form.cleaned_data
            if article is None:
                region = Region.objects.filter(pk=d["region"]).first() if d.get("region") else None
                if d.get("region") and region is None:
                    raise NotFound("place.region_not_found")
                article = svc.article_create(actor=actor, slug=d["slug"], title=d["title"], body=d["body"], category=d["category"],
                                             tags=_words(d["tags"]), keywords=_words(d["keywords"]), region=region)
            else:
                article = svc.article_update(actor=actor, article_id=article.pk, title=d["title"], body=d["body"],
                                             category=d["category"], tags=_words(d["tags"]), keywords=_words(d["keywords"]),
                                             note=d.get("note") or "")
            return redirect("console:kb_article", article_id=article.pk)
        status = 422
    else:
        initial = {}
        if article is not None:
            initial = {"title": article.title, "category": article.category.code, "body": article.body,
                       "keywords": "，".join(article.keywords), "tags": "，".join(article.tags)}
        form = ArticleForm(initial=initial, actor=actor, article=article)
        status = 200
    return render(request, "console/kb/edit.html", {"form": form, "article": article}, status=status)


@require_POST
@console_view
def kb_status(request, article_id: int, action: str):
    actor = request.user
    kb.article_get(actor=actor, article_id=article_id)
    if action == "publish":
        svc.article_publish(actor=actor, article_id=article_id)
    elif action == "archive":
        svc.article_archive(actor=actor, article_id=article_id)
    else:
        raise NotFound()
    return redirect("console:kb_article", article_id=article_id)
