"""API schemas of the knowledge base (L2): separate In and Out."""

from __future__ import annotations

import datetime as dt

from ninja import Field, Schema

SLUG = r"^[a-z0-9][a-z0-9-]{1,79}$"


class CategoryOut(Schema):
    id: int
    code: str
    name: str
    kind: str


class CategoryRef(Schema):
    code: str
    name: str
    kind: str


class ArticleOut(Schema):
    id: int
    slug: str
    title: str
    category: CategoryRef
    tags: list[str]
    status: str
    version: int
    published_at: dt.datetime | None
    updated_at: dt.datetime
    region_id: int | None


class ArticleHitOut(ArticleOut):
    snippet: str


class SearchOut(Schema):
    query: str
    items: list[ArticleHitOut]


class ArticleDetailOut(ArticleOut):
    body: str
    keywords: list[str]
    updated_by: str | None = Field(None, alias="updated_by.display_name")


class ArticleIn(Schema):
    slug: str = Field(..., pattern=SLUG)
    title: str = Field(..., min_length=2, max_length=120)
    body: str = Field(..., min_length=10, max_length=50_000)
    category: str
    tags: list[str] = Field(default_factory=list, max_length=30)
    keywords: list[str] = Field(default_factory=list, max_length=30)
    region_id: int | None = None
    publish: bool = False


class ArticlePatch(Schema):
    title: str | None = Field(None, min_length=2, max_length=120)
    body: str | None = Field(None, min_length=10, max_length=50_000)
    category: str | None = None
    tags: list[str] | None = Field(None, max_length=30)
    keywords: list[str] | None = Field(None, max_length=30)
    note: str = Field("", max_length=200)


class VersionOut(Schema):
    id: int
    version: int
    title: str
    status: str
    note: str
    created_at: dt.datetime
    created_by: str | None = Field(None, alias="created_by.display_name")
