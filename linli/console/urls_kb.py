"""/console/kb/ — knowledge base (L2). Included inside the "console" namespace: console:kb_home, …"""

from django.urls import path

from . import views_kb as v

urlpatterns = [
    path("", v.kb_home, name="kb_home"),
    path("new/", v.kb_edit, name="kb_new"),
    path("<int:article_id>/", v.kb_article, name="kb_article"),
    path("<int:article_id>/edit/", v.kb_edit, name="kb_edit"),
    path("<int:article_id>/<str:action>/", v.kb_status, name="kb_status"),
]
