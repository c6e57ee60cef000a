"""/portal/access/ — my credentials and QR, invite visitors, confirm walk-ins; the visitor's pass page.
Included inside the "portal" namespace: portal:access_home, portal:access_qr, …"""

from django.urls import path

from . import views_access as v

urlpatterns = [
    path("", v.access_home, name="access_home"),
    path("qr/", v.access_qr, name="access_qr"),
    path("qr/image/", v.access_qr_image, name="access_qr_image"),
    path("invites/new/", v.invite_new, name="access_invite_new"),
    path("invites/<int:invite_id>/", v.invite_detail, name="access_invite"),
    path("invites/<int:invite_id>/<slug:action>/", v.invite_action, name="access_invite_action"),
    path("pass/<str:token>/", v.access_pass, name="access_pass"),
]
