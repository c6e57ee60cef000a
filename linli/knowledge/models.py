"""Knowledge base (L2): categories, articles with publish state and versions.

``search_title`` / ``search_keywords`` / ``search_body`` hold the jieba-segmented text (space-separated
words, written by the services). The full-text index over them is engine-specific and created in
migrations: an FTS5 table ``knowledge_article_fts`` on SQLite (kept in step by linli.knowledge.search),
a generated ``search_vector`` tsvector column with a GIN index on PostgreSQL.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from linli.core.models import TimeStamped


class CategoryKind(models.TextChoices):
    CONVENIENCE = "convenience", _("便民知识")
    ADMIN = "admin", _("行政咨询")


class Status(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PUBLISHED = "published", _("已发布")
    ARCHIVED = "archived", _("已归档")


class Category(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=60)
    kind = models.CharField(max_length=16, choices=CategoryKind.choices)
    sort = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort", "id"]
        verbose_name = "知识分类"

    def __str__(self) -> str:
        return self.name


class Article(TimeStamped):
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=120)
    body = models.TextField(help_text="纯文本或 Markdown")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="articles")
    tags = models.JSONField(default=list, blank=True)
    keywords = models.JSONField(default=list, blank=True, help_text="群众常用说法，参与检索")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT, db_index=True)
    version = models.PositiveIntegerField(default=1)
    published_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    region = models.ForeignKey("places.Region", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               help_text="适用范围；空 = 全市")
    search_title = models.TextField(default="", blank=True, editable=False)
    search_keywords = models.TextField(default="", blank=True, editable=False)
    search_body = models.TextField(default="", blank=True, editable=False)

    class Meta:
        verbose_name = "知识文章"
        indexes = [models.Index(fields=["status", "category"])]

    def __str__(self) -> str:
        return self.title


class ArticleVersion(models.Model):
    """One row per saved version (the state after that save); never edited."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=120)
    body = models.TextField()
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+")
    tags = models.JSONField(default=list)
    keywords = models.JSONField(default=list)
    status = models.CharField(max_length=12, choices=Status.choices)
    note = models.CharField(max_length=200, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [models.UniqueConstraint(fields=["article", "version"], name="kb_version_unique")]

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"
