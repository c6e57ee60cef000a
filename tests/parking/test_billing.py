"""K2: billing as a pure function over arbitrary stays (hypothesis), plates per GA 36 (K1)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linli.parking import plates
from linli.parking.billing import CST, Terms, bill

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=CST)
STD = Terms(free_minutes=15, first_minutes=60, first_fen=500, step_minutes=60, step_fen=200, daily_cap_fen=3000)
NIGHT = Terms(free_minutes=30, first_minutes=120, first_fen=600, step_minutes=30, step_fen=150, daily_cap_fen=4000,
              night_start_minute=22 * 60, night_end_minute=7 * 60, night_fen=300)

rules = st.builds(
    Terms, free_minutes=st.integers(0, 120), first_minutes=st.integers(1, 240), first_fen=st.integers(0, 2000),
    step_minutes=st.integers(1, 240), step_fen=st.integers(0, 1000), daily_cap_fen=st.one_of(st.none(), st.integers(0, 10000)),
    night_start_minute=st.one_of(st.none(), st.integers(0, 1439)), night_end_minute=st.integers(0, 1439), night_fen=st.integers(0, 2000),
).map(lambda t: t if t.night_start_minute is not None else Terms(**{**{k: getattr(t, k) for k in Terms.__dataclass_fields__},
                                                                     "night_end_minute": None}))
entries = st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1), timezones=st.just(dt.UTC))
stays = st.integers(0, 10 * 86400)


def test_K2_bill_examples():
    assert bill(STD, T0, T0 + dt.timedelta(minutes=15)) == 0
    assert bill(STD, T0, T0 + dt.timedelta(minutes=16)) == 500
    assert bill(STD, T0, T0 + dt.timedelta(minutes=60)) == 500
    assert bill(STD, T0, T0 + dt.timedelta(minutes=61)) == 700
    assert bill(STD, T0, T0 + dt.timedelta(hours=23)) == 3000
    assert bill(STD, T0, T0 + dt.timedelta(hours=25)) == 3000 + 200
    # night: 21:00 → 08:00 = 1 h day + night window (300) + 1 h day; first 2 h cover both day hours
    t = dt.datetime(2026, 3, 2, 21, 0, tzinfo=CST)
    assert bill(NIGHT, t, t + dt.timedelta(hours=11)) == 600 + 300


def test_K2_bill_is_dst_free_and_timezone_independent():
    # 1991-04-14 was a DST switch in old Shanghai rules; the fixed UTC+8 offset ignores it.
    t = dt.datetime(1991, 4, 13, 21, 0, tzinfo=CST)
    assert bill(NIGHT, t, t + dt.timedelta(hours=11)) == 900
    assert bill(STD, T0.astimezone(dt.UTC), (T0 + dt.timedelta(hours=5)).astimezone(dt.timezone(dt.timedelta(hours=-5)))) == \
        bill(STD, T0, T0 + dt.timedelta(hours=5))
    with pytest.raises(ValueError):
        bill(STD, dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 2))


@settings(max_examples=300, deadline=None)
@given(rule=rules, entry=entries, a=stays, b=stays)
def test_K2_bill_monotonic_capped_free_reproducible(rule, entry, a, b):
    short, long_ = sorted((a, b))
    lo = bill(rule, entry, entry + dt.timedelta(seconds=short))
    hi = bill(rule, entry, entry + dt.timedelta(seconds=long_))
    assert isinstance(lo, int) and 0 <= lo <= hi
    if rule.daily_cap_fen is not None:
        days = max(1, -(-long_ // 86400))
        assert hi <= rule.daily_cap_fen * days
    if long_ <= rule.free_minutes * 60:
        assert hi == 0
    assert bill(rule, entry, entry + dt.timedelta(seconds=long_)) == hi


@pytest.mark.parametrize("raw,norm,kind", [
    ("鲁a·12345", "鲁A12345", "ordinary"), ("京B 8K9X7", "京B8K9X7", "ordinary"), ("粤B1234学", "粤B1234学", "ordinary"),
    ("沪AD12345", "沪AD12345", "new_energy"), ("浙AFA1234", "浙AFA1234", "new_energy"), ("苏E12345D", "苏E12345D", "new_energy"),
    ("ＡＢ12345", "AB12345", None), ("鲁I12345", "鲁I12345", None), ("鲁A1234O", "鲁A1234O", None), ("鲁A1234", "鲁A1234", None),
    ("鲁AX12345", "鲁AX12345", None), ("鲁AD1234", "鲁AD1234", "ordinary"), ("浙AF1A234", "浙AF1A234", None),
])
def test_K1_plates_ga36(raw, norm, kind):
    assert plates.normalise(raw) == norm
    assert plates.kind(norm) == kind
