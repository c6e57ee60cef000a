"""/console/sharing/ — shared spaces and EV charging (K6 K7). Included by linli.console.urls inside the
"console" namespace: console:sharing_home, console:sharing_chargers, console:sharing_settlement."""

from django.urls import path

from . import views_sharing as v

urlpatterns = [
    path("", v.sharing_home, name="sharing_home"),
    path("chargers/", v.sharing_chargers, name="sharing_chargers"),
    path("settlement/", v.sharing_settlement, name="sharing_settlement"),
]
