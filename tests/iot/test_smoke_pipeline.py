from linli.iot.models import Alarm, LatestValue, Telemetry
from tests.iot.helpers import device, send


def test_D2_pipeline_stores_and_dedupes(tree):
    dev, _ = device(tree.grid_a)
    r = send(dev, b'{"ts": 1763900000000, "values": {"smoke": 0.01, "battery": 90}}')
    assert (r.stored, r.duplicates, r.rejected) == (2, 0, 0)
    r = send(dev, b'{"ts": 1763900000000, "values": {"smoke": 0.01, "battery": 90}}')
    assert (r.stored, r.duplicates) == (0, 2)
    assert Telemetry.objects.count() == 2
    assert LatestValue.objects.get(device=dev, key="smoke").value == 0.01
    r = send(dev, b'{"ts": 1763900001000, "values": {"smoke": 0.5}}')
    assert r.alarms_raised == 1
    assert Alarm.objects.get().status == "active"
