"""/console/cases/ — the case loop (issue 4). Included by linli.console.urls inside the "console"
namespace, so the names are console:cases_home, console:cases_case, …"""

from django.urls import path

from . import views_cases as v

urlpatterns = [
    path("", v.cases_home, name="cases_home"),
    path("map.geojson", v.cases_map, name="cases_map"),
    path("new/", v.case_new, name="cases_new"),
    path("league/", v.cases_league, name="cases_league"),
    path("<int:case_id>/", v.case_detail, name="cases_case"),
    path("<int:case_id>/photo/", v.case_photo, name="cases_photo"),
    path("<int:case_id>/act/<slug:action>/", v.case_act, name="cases_act"),
]
