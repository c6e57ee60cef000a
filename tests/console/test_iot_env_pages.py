"""Console environment pages (V1 bins collection list and routes, V2 transfer-station emissions):
scope, permissions, the htmx "collected" button, the route editor with validation, query counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from linli.iot.models import BinCollection, CollectionRoute
from linli.iot.perms import IotPerm
from linli.iot.rollups import rollup_run
from tests import factories as f
from tests.console.test_iot_pages import client_for
from tests.iot.helpers import device, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def bins(tree):
    a1, _ = device(tree.grid_a, "trash_bin", serial="BIN-A-1", name="甲一1号桶", location_note="3号楼东")
    a2, _ = device(tree.grid_a, "trash_bin", serial="BIN-A-2", name="甲一2号桶")
    b1, _ = device(tree.grid_b, "trash_bin", serial="BIN-B-1", name="乙一1号桶")
    send(a1, {"fill_level": 91, "weight": 40})
    send(a2, {"fill_level": 20})
    send(b1, {"fill_level": 99})
    return a1, a2, b1


def test_V1_collection_list_page_scoped_printable_and_collect_button(tree, bins, django_assert_max_num_queries):
    a1, a2, _b1 = bins
    crew = f.account("bin_crew", perms=[IotPerm.DEVICE_VIEW, IotPerm.BIN_COLLECT], scope=tree.community_a)
    c = client_for(crew)
    c.get(reverse("console:iot_bins"))
    with django_assert_max_num_queries(12):
        page = c.get(reverse("console:iot_bins")).content.decode()
    assert "甲一1号桶" in page and "91%" in page and "已满" in page and "打印清单" in page and "@media print" in page
    assert "甲一2号桶" not in page and "乙一1号桶" not in page
    assert "甲一2号桶" in c.get(reverse("console:iot_bins"), {"all": "1"}).content.decode()
    r = c.post(reverse("console:iot_bin_collect", args=[a1.pk]), headers={"HX-Request": "true"})
    assert r.status_code == 200 and "已登记清运" in r.content.decode()
    assert BinCollection.objects.get().fill_before == 91
    assert "甲一1号桶" not in c.get(reverse("console:iot_bins")).content.decode()
    detail = reverse("console:iot_device", args=[a2.pk])
    assert c.post(reverse("console:iot_bin_collect", args=[a2.pk]), {"back": detail, "note": "顺路清运"})["Location"] == detail
    page = c.get(detail).content.decode()
    assert "清运记录" in page and "顺路清运" in page and "登记已清运" in page
    assert c.post(reverse("console:iot_bin_collect", args=[_b1.pk])).status_code == 404


def test_V1_viewer_sees_list_without_collect_button_and_cannot_collect(tree, bins):
    a1, *_ = bins
    viewer = f.account("bin_viewer", perms=[IotPerm.DEVICE_VIEW], scope=tree.community_a)
    c = client_for(viewer)
    page = c.get(reverse("console:iot_bins")).content.decode()
    assert "甲一1号桶" in page and reverse("console:iot_bin_collect", args=[a1.pk]) not in page
    assert c.post(reverse("console:iot_bin_collect", args=[a1.pk])).status_code == 403
    nobody = client_for(f.account("no_iot", perms=["place.view"], scope=tree.community_a))
    assert nobody.get(reverse("console:iot_bins")).status_code == 403
    assert nobody.get(reverse("console:iot_emissions")).status_code == 403


def test_V1_route_editor_validates_and_orders_stops(tree, bins):
    a1, a2, _ = bins
    crew = f.account("route_crew", perms=[IotPerm.DEVICE_VIEW, IotPerm.BIN_COLLECT], scope=tree.community_a)
    c = client_for(crew)
    assert c.get(reverse("console:iot_route_create")).status_code == 200
    bad = c.post(reverse("console:iot_route_create"), {"name": "早线", "region": tree.grid_a.pk, "round_times": "07:00", "stops": "BIN-A-2\nBIN-B-1"})
    assert bad.status_code == 422 and "BIN-B-1" in bad.content.decode()
    bad = c.post(reverse("console:iot_route_create"), {"name": "早线", "region": tree.grid_a.pk, "round_times": "7点", "stops": ""})
    assert bad.status_code == 422 and "HH:MM" in bad.content.decode()
    ok = c.post(reverse("console:iot_route_create"), {"name": "早线", "region": tree.grid_a.pk, "round_times": "07:00,16:30", "stops": "BIN-A-2\nBIN-A-1"})
    assert ok.status_code == 302
    route = CollectionRoute.objects.get()
    assert list(route.stops.order_by("position").values_list("device_id", flat=True)) == [a2.pk, a1.pk]
    listing = c.get(reverse("console:iot_routes")).content.decode()
    assert "早线" in listing and "07:00,16:30" in listing
    assert "早线" in c.get(reverse("console:iot_bins")).content.decode()
    edit = c.get(reverse("console:iot_route_edit", args=[route.pk])).content.decode()
    assert "BIN-A-2\nBIN-A-1" in edit
    other = f.account("route_b", perms=[IotPerm.DEVICE_VIEW, IotPerm.BIN_COLLECT], scope=tree.community_b)
    assert client_for(other).get(reverse("console:iot_route_edit", args=[route.pk])).status_code == 404


def test_V2_emissions_page_shows_limits_and_exceedance(tree, django_assert_max_num_queries):
    st, _ = device(tree.grid_a, "emission_monitor", name="甲社区垃圾转运站")
    far, _ = device(tree.grid_b, "emission_monitor", name="乙转运站")
    send(st, {"h2s": 0.08, "nh3": 0.4, "odour": 10, "pm10": 60})
    send(far, {"h2s": 0.01})
    rollup_run(now=timezone.now() + dt.timedelta(minutes=1))
    c = client_for(f.account("env_viewer", perms=[IotPerm.DEVICE_VIEW], scope=tree.community_a))
    c.get(reverse("console:iot_emissions"))
    with django_assert_max_num_queries(12):
        page = c.get(reverse("console:iot_emissions"), {"days": "14"}).content.decode()
    assert "甲社区垃圾转运站" in page and "乙转运站" not in page and "当前超标" in page and "0.06 mg/m³" in page
    assert 'class="num over">1</td>' in page
