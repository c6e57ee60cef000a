"""Seed data (editable afterwards): the working calendar and a starter set of case categories.

2026: the State Council's published schedule (国务院办公厅关于2026年部分节假日安排的通知) — every
day off inside a holiday period and every adjusted weekend working day (调休上班).
2027: only the statutory holidays fixed by 《全国年节及纪念日放假办法》 (2024 revision); the
State Council had not published the 2027 arrangement (bridging days and 调休) when this was
written. Add it as data (admin or API) when it is published.
"""

import datetime as dt

from django.db import migrations

SOURCE_2026 = "国务院办公厅2026年节假日安排（已公布）"
SOURCE_2027 = "法定节假日（2027年调休安排待公布）"


def _range(y, m1, d1, m2, d2):
    a, b = dt.date(y, m1, d1), dt.date(y, m2, d2)
    return [a + dt.timedelta(days=i) for i in range((b - a).days + 1)]


HOLIDAYS_2026 = [
    ("元旦", _range(2026, 1, 1, 1, 3), [dt.date(2026, 1, 4)]),
    ("春节", _range(2026, 2, 15, 2, 23), [dt.date(2026, 2, 14), dt.date(2026, 2, 28)]),
    ("清明节", _range(2026, 4, 4, 4, 6), []),
    ("劳动节", _range(2026, 5, 1, 5, 5), [dt.date(2026, 5, 9)]),
    ("端午节", _range(2026, 6, 19, 6, 21), []),
    ("中秋节", _range(2026, 9, 25, 9, 27), []),
    ("国庆节", _range(2026, 10, 1, 10, 7), [dt.date(2026, 9, 20), dt.date(2026, 10, 10)]),
]

STATUTORY_2027 = [
    ("元旦", [dt.date(2027, 1, 1)]),
    ("春节", _range(2027, 2, 5, 2, 8)),  # 除夕 and 正月初一至初三
    ("清明节", [dt.date(2027, 4, 5)]),
    ("劳动节", _range(2027, 5, 1, 5, 2)),
    ("端午节", [dt.date(2027, 6, 9)]),
    ("中秋节", [dt.date(2027, 9, 15)]),
    ("国庆节", _range(2027, 10, 1, 10, 3)),
]

# code, name, parent code, hours, priority, working_hours, is_urgent
CATEGORIES = [
    ("environment", "市容环境", None, 72, "normal", True, False),
    ("environment-garbage", "垃圾堆放与清运", "environment", 24, "normal", True, False),
    ("environment-sanitation", "环境卫生", "environment", 48, "normal", True, False),
    ("environment-greening", "绿化养护", "environment", 72, "low", True, False),
    ("facility", "市政设施", None, 72, "normal", True, False),
    ("facility-road", "道路破损", "facility", 72, "normal", True, False),
    ("facility-streetlight", "路灯故障", "facility", 48, "normal", True, False),
    ("facility-manhole", "井盖缺失破损", "facility", 4, "urgent", False, True),
    ("facility-drainage", "排水不畅与积水", "facility", 24, "high", True, False),
    ("property", "物业服务", None, 48, "normal", True, False),
    ("property-lift", "电梯故障", "property", 4, "urgent", False, True),
    ("property-water-power", "停水停电", "property", 8, "high", False, False),
    ("property-repair", "公共部位维修", "property", 72, "normal", True, False),
    ("property-parking", "小区停车秩序", "property", 48, "normal", True, False),
    ("order", "社会秩序", None, 48, "normal", True, False),
    ("order-noise", "噪音扰民", "order", 24, "normal", True, False),
    ("order-illegal-building", "违章搭建", "order", 120, "normal", True, False),
    ("order-street-vending", "占道经营", "order", 48, "normal", True, False),
    ("safety", "安全隐患", None, 24, "high", False, False),
    ("safety-fire", "消防隐患（通道堵塞、电动车充电）", "safety", 8, "urgent", False, True),
    ("safety-structure", "房屋与构筑物安全", "safety", 24, "high", False, False),
    ("iot-alarm", "设备告警", None, 2, "urgent", False, True),
    ("dispute", "矛盾纠纷", None, 120, "normal", True, False),
    ("service", "便民服务与咨询", None, 120, "low", True, False),
    ("other", "其他", None, 120, "normal", True, False),
]


def seed(apps, schema_editor):
    HolidayDay = apps.get_model("cases", "HolidayDay")
    Category = apps.get_model("cases", "Category")
    rows = {}
    for name, off, on in HOLIDAYS_2026:
        for d in off:
            rows[d] = HolidayDay(date=d, is_workday=False, name=name, source=SOURCE_2026)
        for d in on:
            rows[d] = HolidayDay(date=d, is_workday=True, name=f"{name}调休上班", source=SOURCE_2026)
    for name, off in STATUTORY_2027:
        for d in off:
            rows[d] = HolidayDay(date=d, is_workday=False, name=name, source=SOURCE_2027)
    existing = set(HolidayDay.objects.filter(date__in=list(rows)).values_list("date", flat=True))
    HolidayDay.objects.bulk_create([r for d, r in rows.items() if d not in existing])
    by_code = {}
    for i, (code, name, parent, hours, priority, working, urgent) in enumerate(CATEGORIES):
        obj, _ = Category.objects.get_or_create(
            code=code,
            defaults=dict(name=name, parent=by_code.get(parent), time_limit_hours=hours, priority=priority,
                          working_hours=working, is_urgent=urgent, sort=i),
        )
        by_code[code] = obj


def unseed(apps, schema_editor):
    apps.get_model("cases", "HolidayDay").objects.filter(source__in=[SOURCE_2026, SOURCE_2027]).delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
