"""/console/patrols/ — grid patrols (C6). Included by linli.console.urls inside the "console"
namespace, so the names are console:patrols_home, console:patrols_task, …"""

from django.urls import path

from . import views_patrols as v

urlpatterns = [
    path("", v.patrols_home, name="patrols_home"),
    path("tasks/<int:task_id>/", v.task_detail, name="patrols_task"),
    path("tasks/<int:task_id>/map.json", v.task_map, name="patrols_task_map"),
    path("tasks/<int:task_id>/photo/", v.task_photo, name="patrols_photo"),
    path("tasks/<int:task_id>/start/", v.task_start, name="patrols_start"),
    path("tasks/<int:task_id>/checkin/", v.task_check_in, name="patrols_checkin"),
    path("tasks/<int:task_id>/finding/", v.task_finding, name="patrols_finding"),
    path("tasks/<int:task_id>/finish/", v.task_finish, name="patrols_finish"),
    path("tasks/<int:task_id>/<slug:action>/", v.task_manage, name="patrols_manage"),
    path("routes/", v.route_list, name="patrols_routes"),
    path("routes/new/", v.route_edit, name="patrols_route_new"),
    path("routes/<int:route_id>/", v.route_edit, name="patrols_route"),
    path("routes/grids.geojson", v.route_map, name="patrols_grids"),
    path("plan/", v.plan, name="patrols_plan"),
    path("map/", v.patrol_map, name="patrols_map"),
    path("map/data.json", v.patrol_map_data, name="patrols_map_data"),
]
