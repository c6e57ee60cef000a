"""/portal/sharing/ — share my space, book a space or a charger, charging, my earnings (K6 K7).
Included inside the "portal" namespace: portal:sharing_home, portal:sharing_share, …"""

from django.urls import path

from . import views_sharing as v

urlpatterns = [
    path("", v.sharing_home, name="sharing_home"),
    path("share/", v.sharing_share, name="sharing_share"),
    path("share/<int:window_id>/withdraw/", v.sharing_withdraw, name="sharing_withdraw"),
    path("find/", v.sharing_find, name="sharing_find"),
    path("bookings/<int:booking_id>/<slug:action>/", v.sharing_booking_act, name="sharing_booking_act"),
    path("chargers/", v.sharing_chargers, name="sharing_chargers"),
    path("chargers/<int:obj_id>/<slug:action>/", v.sharing_charge_act, name="sharing_charge_act"),
    path("earnings/", v.sharing_earnings, name="sharing_earnings"),
]
