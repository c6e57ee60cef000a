"""/portal/kb/ — 办事指南 for residents (L2). Included inside the "portal" namespace."""

from django.urls import path

from . import views_kb as v

urlpatterns = [
    path("", v.kb_home, name="kb_home"),
    path("<int:article_id>/", v.kb_article, name="kb_article"),
]
