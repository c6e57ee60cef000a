"""/console/parking/ — lots, per-lot dashboard and live feed, sessions, passes, spaces, decision log,
guidance screens (wall URLs without login), billing rules, vehicles, plate flags and alarms. Included
inside the "console" namespace: console:parking_home, console:parking_lot, …"""

from django.urls import path

from . import views_parking as v

urlpatterns = [
    path("", v.parking_home, name="parking_home"),
    path("lots/new/", v.lot_create, name="parking_lot_new"),
    path("lots/<int:lot_id>/", v.lot_detail, name="parking_lot"),
    path("lots/<int:lot_id>/settings/", v.lot_settings, name="parking_lot_settings"),
    path("lots/<int:lot_id>/feed/", v.lot_feed, name="parking_feed"),
    path("lots/<int:lot_id>/figures/", v.lot_figures, name="parking_figures"),
    path("stream/", v.parking_stream, name="parking_stream"),
    path("lots/<int:lot_id>/sessions/", v.session_list, name="parking_sessions"),
    path("lots/<int:lot_id>/passes/", v.pass_list, name="parking_passes"),
    path("lots/<int:lot_id>/spaces/", v.space_list, name="parking_spaces"),
    path("lots/<int:lot_id>/events/", v.event_list, name="parking_events"),
    path("lots/<int:lot_id>/guidance/", v.guidance, name="parking_guidance"),
    path("lots/<int:lot_id>/displays/", v.display_create, name="parking_display_create"),
    path("displays/<int:display_id>/revoke/", v.display_revoke, name="parking_display_revoke"),
    path("wall/<str:token>/", v.wall, name="parking_wall"),
    path("sessions/<int:session_id>/<slug:action>/", v.session_act, name="parking_session_act"),
    path("passes/<int:pass_id>/cancel/", v.pass_cancel, name="parking_pass_cancel"),
    path("rules/", v.rule_list, name="parking_rules"),
    path("rules/new/", v.rule_edit, name="parking_rule_new"),
    path("rules/<int:rule_id>/", v.rule_edit, name="parking_rule_edit"),
    path("vehicles/", v.vehicle_list, name="parking_vehicles"),
    path("flags/", v.flag_list, name="parking_flags"),
    path("flags/<int:flag_id>/remove/", v.flag_remove, name="parking_flag_remove"),
    path("alarms/", v.alarm_list, name="parking_alarms"),
    path("alarms/<int:alarm_id>/ack/", v.alarm_ack, name="parking_alarm_ack"),
]
