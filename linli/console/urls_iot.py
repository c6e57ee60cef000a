"""/console/iot/ — devices, map, alarms, rules, bin collection (V1), transfer-station emissions (V2). Included by linli.console.urls inside the "console"
namespace, so the names are console:iot_home, console:iot_devices, …"""

from django.urls import path

from . import views_iot as v
from . import views_iot_env as env

urlpatterns = [
    path("", v.iot_home, name="iot_home"),
    path("devices/", v.device_list, name="iot_devices"),
    path("devices/map/", v.device_map, name="iot_map"),
    path("devices/map.json", v.device_map_data, name="iot_map_data"),
    path("devices/<int:device_id>/", v.device_detail, name="iot_device"),
    path("devices/<int:device_id>/credentials/", v.device_reset_credentials, name="iot_device_credentials"),
    path("devices/<int:device_id>/commands/", v.device_command, name="iot_device_command"),
    path("alarms/", v.alarm_console, name="iot_alarms"),
    path("alarms/feed/", v.alarm_feed, name="iot_alarm_feed"),
    path("alarms/stream/", v.alarm_stream, name="iot_alarm_stream"),
    path("alarms/<int:alarm_id>/<str:action>/", v.alarm_action, name="iot_alarm_action"),
    path("rules/", v.rule_list, name="iot_rules"),
    path("rules/new/", v.rule_create, name="iot_rule_create"),
    path("rules/<int:rule_id>/", v.rule_edit, name="iot_rule_edit"),
    path("bins/", env.bin_list, name="iot_bins"),
    path("bins/<int:device_id>/collect/", env.bin_collect, name="iot_bin_collect"),
    path("bins/routes/", env.route_list, name="iot_routes"),
    path("bins/routes/new/", env.route_edit, name="iot_route_create"),
    path("bins/routes/<int:route_id>/", env.route_edit, name="iot_route_edit"),
    path("emissions/", env.emission_list, name="iot_emissions"),
]
