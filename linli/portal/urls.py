import importlib.util

from django.urls import include, path

from . import views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("elder/", views.elder_toggle, name="elder"),
    path("home/", views.my_home, name="my_home"),
    path("profile/", views.profile, name="profile"),
    path("consents/", views.consents, name="consents"),
]

# Domain sections live in their own modules (linli/portal/urls_<section>.py); mounted when present.
for _prefix, _module in (("cases/", "urls_cases"), ("kb/", "urls_kb"), ("access/", "urls_access"),
                         ("parking/", "urls_parking"), ("sharing/", "urls_sharing")):
    if importlib.util.find_spec(f"linli.portal.{_module}") is not None:
        urlpatterns.append(path(_prefix, include(f"linli.portal.{_module}")))
