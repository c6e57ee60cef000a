from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from django.views.i18n import set_language

from linli.api import api

urlpatterns = [
    path("", TemplateView.as_view(template_name="landing.html"), name="landing"),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("i18n/setlang/", set_language, name="set_language"),
    path("console/", include("linli.console.urls")),
    path("portal/", include("linli.portal.urls")),
    path("open311/v2/", include("linli.open311.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
