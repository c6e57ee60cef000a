"""/console/hotline/ — the service hotline (L1). Included inside the "console" namespace:
console:hotline_home (agent: take a call), console:hotline_call (agent screen / call record), …"""

from django.urls import path

from . import views_hotline as v

urlpatterns = [
    path("", v.hotline_home, name="hotline_home"),
    path("calls/", v.call_list, name="hotline_calls"),
    path("calls/new/", v.call_new, name="hotline_call_new"),
    path("calls/<int:call_id>/", v.call_detail, name="hotline_call"),
    path("calls/<int:call_id>/kb/", v.call_kb, name="hotline_call_kb"),
    path("calls/<int:call_id>/answer/", v.call_answer, name="hotline_call_answer"),
    path("calls/<int:call_id>/person/", v.call_person, name="hotline_call_person"),
    path("calls/<int:call_id>/case/", v.call_case, name="hotline_call_case"),
    path("calls/<int:call_id>/end/", v.call_end, name="hotline_call_end"),
    path("calls/<int:call_id>/reveal/", v.call_reveal, name="hotline_call_reveal"),
    path("calls/<int:call_id>/callback/", v.call_callback, name="hotline_call_callback"),
]
