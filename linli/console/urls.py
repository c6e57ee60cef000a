import importlib.util

from django.urls import include, path

from . import views

app_name = "console"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("elder/", views.elder_toggle, name="elder"),
    path("me/", views.me, name="me"),
    path("me/tokens/", views.token_create, name="token_create"),
    path("me/tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("places/", views.places_tree, name="places"),
    path("places/locate/", views.locate, name="locate"),
    path("places/<int:region_id>/", views.region_detail, name="region"),
    path("places/<int:region_id>/children/", views.region_children, name="region_children"),
    path("places/<int:region_id>/coverage/", views.region_coverage, name="region_coverage"),
    path("places/<int:region_id>/boundaries.geojson", views.region_boundaries, name="region_boundaries"),
    path("estates/", views.estate_list, name="estates"),
    path("estates/<int:estate_id>/", views.estate_detail, name="estate"),
    path("buildings/<int:building_id>/", views.building_detail, name="building"),
    path("houses/<int:house_id>/", views.house_detail, name="house"),
    path("people/", views.person_search, name="people"),
    path("people/<int:person_id>/", views.person_detail, name="person"),
    path("people/<int:person_id>/reveal/", views.person_reveal, name="person_reveal"),
    path("groups/", views.group_index, name="groups"),
    path("groups/<slug:group>/", views.group_list, name="group"),
]

# Domain sections live in their own modules (linli/console/urls_<section>.py); mounted when present.
for prefix, module in (("data/", "urls_data"), ("cases/", "urls_cases"), ("iot/", "urls_iot"), ("parking/", "urls_parking"), ("sharing/", "urls_sharing"),
                       ("access/", "urls_access"), ("hotline/", "urls_hotline"), ("patrols/", "urls_patrols"), ("kb/", "urls_kb")):
    if importlib.util.find_spec(f"linli.console.{module}") is not None:
        urlpatterns.append(path(prefix, include(f"linli.console.{module}")))
