"""Common device types with telemetry keys, units and default rules (D1, D3), seeded by migration 0003.

Plain data (no model imports) so the data migration can use it with historical models."""

from __future__ import annotations


def k(key: str, name: str, unit: str = "", type_: str = "number") -> dict:
    return {"key": key, "name": name, "unit": unit, "type": type_}


def above(key: str, value: float, clear: float | None = None) -> dict:
    c = {"type": "threshold", "key": key, "op": ">", "value": value}
    if clear is not None:
        c["clear"] = clear
    return c


def below(key: str, value: float, clear: float | None = None) -> dict:
    c = {"type": "threshold", "key": key, "op": "<", "value": value}
    if clear is not None:
        c["clear"] = clear
    return c


def event(key: str, *values: str) -> dict:
    return {"type": "event", "key": key, "values": list(values)}


def rule(code: str, name: str, conditions: list[dict], *, severity: str = "major", duration_s: int = 0,
         match: str = "all", create_case: bool = False, message: str = "") -> dict:
    return {"code": code, "name": name, "kind": "condition", "conditions": conditions, "severity": severity,
            "duration_s": duration_s, "match": match, "create_case": create_case, "message": message or name}


def offline(minutes: int, severity: str = "minor") -> dict:
    return {"code": "offline", "name": "设备离线", "kind": "offline", "offline_minutes": minutes, "severity": severity,
            "message": f"超过{minutes}分钟未收到数据"}


BATTERY = k("battery", "电量", "%")
LOW_BATTERY = rule("low_battery", "电量低", [below("battery", 20, 25)], severity="warning")

DEVICE_TYPES: list[dict] = [
    {"code": "smoke_detector", "name": "独立式烟感探测器", "category": "smoke",
     "telemetry_keys": [k("smoke", "烟雾浓度", "dB/m"), k("temperature", "温度", "°C"), BATTERY],
     "rules": [rule("smoke", "烟雾报警", [above("smoke", 0.15, 0.08)], severity="critical", create_case=True),
               rule("heat", "高温报警", [above("temperature", 57, 50)], severity="critical", create_case=True),
               LOW_BATTERY, offline(24 * 60)]},
    {"code": "gas_detector", "name": "可燃气体探测器", "category": "gas",
     "telemetry_keys": [k("gas_lel", "可燃气体浓度", "%LEL")],
     "rules": [rule("gas_leak", "燃气泄漏", [above("gas_lel", 25, 10)], severity="critical", create_case=True),
               offline(60)]},
    {"code": "water_leak", "name": "水浸传感器", "category": "water_leak",
     "telemetry_keys": [k("leak", "漏水", "", "bool"), BATTERY],
     "rules": [rule("leak", "漏水报警", [{"type": "threshold", "key": "leak", "op": "==", "value": 1}], create_case=True),
               LOW_BATTERY, offline(24 * 60)]},
    {"code": "trash_bin", "name": "智能垃圾桶(满溢/称重)", "category": "trash_bin",
     "telemetry_keys": [k("fill_level", "满溢度", "%"), k("weight", "重量", "kg"), BATTERY],
     "rules": [rule("bin_full", "垃圾桶将满", [above("fill_level", 80, 60)], severity="warning"),
               rule("bin_overflow", "垃圾桶满溢", [above("fill_level", 95, 60)], create_case=True),
               offline(6 * 60)]},
    {"code": "manhole_cover", "name": "井盖监测终端", "category": "manhole_cover",
     "telemetry_keys": [k("tilt", "倾角", "°"), k("water_level", "井下水位", "cm"), BATTERY],
     "rules": [rule("cover_tilt", "井盖倾斜/移位", [above("tilt", 15, 5)], severity="critical", duration_s=10, create_case=True),
               rule("well_flood", "井下水位超限", [above("water_level", 80, 60)], create_case=True),
               offline(12 * 60)]},
    {"code": "streetlight", "name": "智慧路灯控制器", "category": "streetlight",
     "telemetry_keys": [k("power", "功率", "W"), k("dim", "亮度", "%"), k("on", "开关", "", "bool"), k("lamp_fault", "灯具故障", "", "bool")],
     "rules": [rule("lamp_fault", "灯具故障", [{"type": "threshold", "key": "lamp_fault", "op": "==", "value": 1}], severity="minor", create_case=True),
               offline(30)]},
    {"code": "hydrant", "name": "消防栓水压监测", "category": "hydrant",
     "telemetry_keys": [k("pressure", "水压", "MPa")],
     "rules": [rule("low_pressure", "消防栓水压不足", [below("pressure", 0.14, 0.2)], duration_s=60, create_case=True),
               rule("pressure_drop", "水压骤降(疑似漏水或被盗用)", [{"type": "rate", "key": "pressure", "op": "<", "value": -0.1, "per_s": 60}]),
               offline(60)]},
    {"code": "camera_ai", "name": "AI视频分析摄像机", "category": "camera_ai",
     "telemetry_keys": [k("event", "识别事件", "", "event"), k("clip_url", "视频片段", "", "string")],
     "rules": [rule("thrown_object", "高空抛物", [event("event", "thrown_object")], severity="critical", create_case=True),
               rule("ebike_in_lift", "电动车入梯", [event("event", "ebike_in_lift")], create_case=True),
               rule("perimeter_intrusion", "周界入侵", [event("event", "perimeter_intrusion")], create_case=True),
               offline(10)]},
    {"code": "wearable", "name": "老人智能手环", "category": "wearable",
     "telemetry_keys": [k("heart_rate", "心率", "次/分"), k("spo2", "血氧", "%"), k("event", "事件", "", "event"), BATTERY],
     "rules": [rule("fall_sos", "跌倒/一键呼救", [event("event", "fall", "sos")], severity="critical", create_case=True),
               rule("heart_rate", "心率异常", [above("heart_rate", 130, 120), below("heart_rate", 40, 45)], match="any", duration_s=60),
               rule("spo2_low", "血氧偏低", [below("spo2", 90, 93)], duration_s=30),
               LOW_BATTERY, offline(120)]},
    {"code": "electricity_meter", "name": "智能电表", "category": "meter",
     "telemetry_keys": [k("energy", "累计电量", "kWh"), k("power", "功率", "kW")],
     "rules": [rule("power_spike", "用电功率异常", [above("power", 10, 8)], severity="warning", duration_s=300)]},
    {"code": "barrier_gate", "name": "门禁/道闸控制器", "category": "gate",
     "telemetry_keys": [k("open", "开闸", "", "bool"), k("event", "事件", "", "event")],
     "rules": [rule("forced_open", "门禁被强行打开", [event("event", "forced_open")], create_case=True), offline(30)]},
    # V2: odour and dust at refuse transfer stations (垃圾转运站). Limits: GB 14554-93 恶臭污染物厂界标准
    # (二级, 新扩改建): NH3 1.5 mg/m³, H2S 0.06 mg/m³, 臭气浓度 20 (无量纲); PM10: GB 3095-2012 二级 24 h 150 µg/m³.
    {"code": "emission_monitor", "name": "转运站排放监测仪", "category": "environment",
     "telemetry_keys": [k("h2s", "硫化氢", "mg/m³"), k("nh3", "氨", "mg/m³"), k("odour", "臭气浓度", "无量纲"), k("pm10", "PM10", "µg/m³")],
     "rules": [rule("h2s_limit", "硫化氢超标", [above("h2s", 0.06, 0.05)], duration_s=300),
               rule("nh3_limit", "氨超标", [above("nh3", 1.5, 1.2)], duration_s=300),
               rule("odour_limit", "臭气浓度超标", [above("odour", 20, 16)], duration_s=300),
               rule("pm10_limit", "PM10超标", [above("pm10", 150, 120)], severity="warning", duration_s=900),
               offline(60)]},
    {"code": "gateway", "name": "物联网关", "category": "gateway",
     "telemetry_keys": [k("uptime", "运行时长", "s")],
     "rules": [offline(10)]},
]


def seed(DeviceType, Rule, *, only: set[str] | None = None) -> None:  # noqa: N803 — historical model classes
    """Create or update the catalogue types (``only``: just these codes, for later data migrations)."""
    for spec in DEVICE_TYPES:
        if only is not None and spec["code"] not in only:
            continue
        spec = dict(spec)
        rules = spec.pop("rules")
        dtype, _ = DeviceType.objects.update_or_create(code=spec["code"], defaults=spec)
        for r in rules:
            Rule.objects.update_or_create(device_type=dtype, code=r["code"], defaults={k_: v for k_, v in r.items() if k_ != "code"})
