"""/console/access/ — gates and live feeds, credentials, rules, visitor desk, watch list. Included by
linli.console.urls inside the "console" namespace: console:access_home, console:access_gates, …"""

from django.urls import path

from . import views_access as v

urlpatterns = [
    path("", v.access_home, name="access_home"),
    path("gates/", v.gates, name="access_gates"),
    path("gates/new/", v.gate_create, name="access_gate_create"),
    path("gates/<int:gate_id>/", v.gate_detail, name="access_gate"),
    path("gates/<int:gate_id>/feed/", v.gate_feed, name="access_gate_feed"),
    path("gates/<int:gate_id>/<slug:action>/", v.gate_action, name="access_gate_action"),
    path("last-seen/", v.last_seen, name="access_last_seen"),
    path("stream/", v.access_stream, name="access_stream"),
    path("people/", v.people, name="access_people"),
    path("people/<int:person_id>/", v.person_detail, name="access_person"),
    path("credentials/<int:credential_id>/<slug:action>/", v.credential_action, name="access_credential_action"),
    path("rules/", v.rules, name="access_rules"),
    path("rules/<slug:action>/", v.rule_action, name="access_rule_action"),
    path("visitors/", v.visitors, name="access_visitors"),
    path("visitors/register/", v.visitor_register, name="access_visitor_register"),
    path("visitors/<int:invite_id>/", v.visitor_detail, name="access_visitor"),
    path("visitors/<int:invite_id>/<slug:action>/", v.visitor_action, name="access_visitor_action"),
    path("watch/", v.watch, name="access_watch"),
    path("watch/<slug:action>/", v.watch_action, name="access_watch_action"),
]
