"""/portal/parking/ — my car (vehicles, passes, cars inside), where is my car (K5), pay before leaving
(K2). Included inside the "portal" namespace: portal:parking_home, portal:parking_find, portal:parking_pay."""

from django.urls import path

from . import views_parking as v

urlpatterns = [
    path("", v.parking_home, name="parking_home"),
    path("find/", v.find_car, name="parking_find"),
    path("pay/<int:session_id>/", v.pay, name="parking_pay"),
]
