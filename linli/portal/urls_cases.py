"""/portal/cases/ — report a problem, my cases, rate and reopen. Included inside the "portal"
namespace: portal:cases_home, portal:cases_new, portal:cases_case, …"""

from django.urls import path

from . import views_cases as v

urlpatterns = [
    path("", v.cases_home, name="cases_home"),
    path("new/", v.case_new, name="cases_new"),
    path("<int:case_id>/", v.case_detail, name="cases_case"),
    path("<int:case_id>/photo/", v.case_photo, name="cases_photo"),
    path("<int:case_id>/act/<slug:action>/", v.case_act, name="cases_act"),
]
