"""/open311/v2/ — GeoReport v2 routes; every resource in .json and .xml."""

from django.urls import re_path

from . import views

FMT = r"\.(?P<fmt>[a-z]+)$"

urlpatterns = [
    re_path(r"^discovery" + FMT, views.discovery, name="open311-discovery"),
    re_path(r"^services" + FMT, views.services, name="open311-services"),
    re_path(r"^services/(?P<service_code>[A-Za-z0-9_-]+)" + FMT, views.service_definition, name="open311-service"),
    re_path(r"^requests" + FMT, views.requests, name="open311-requests"),
    re_path(r"^requests/(?P<service_request_id>[A-Za-z0-9_-]+)" + FMT, views.request_detail, name="open311-request"),
    re_path(r"^tokens/(?P<token_id>[A-Za-z0-9_-]+)" + FMT, views.token, name="open311-token"),
]
