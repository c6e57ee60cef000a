"""物 Things (D1–D6): device types and devices, telemetry history and latest values, rules, rule state,
alarms, in-app alarm notifications and the alarm → case outbox.

Telemetry is the one big table. Its primary key is (device, key, ts): the dedupe key of the ingest
pipeline (a redelivered MQTT message inserts nothing) and, on PostgreSQL, it includes the partition
key — the table is ``PARTITION BY RANGE (ts)`` with monthly partitions and a DEFAULT partition,
created by migration 0002 (plain table on SQLite). See ``linli/iot/partitions.py``.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from linli.core.models import TimeStamped
from linli.core.scoping import ScopedManager


class Category(models.TextChoices):
    SMOKE = "smoke", _("烟感")
    GAS = "gas", _("燃气")
    WATER_LEAK = "water_leak", _("水浸")
    TRASH_BIN = "trash_bin", _("垃圾桶")
    MANHOLE_COVER = "manhole_cover", _("井盖")
    STREETLIGHT = "streetlight", _("路灯")
    HYDRANT = "hydrant", _("消防栓")
    CAMERA_AI = "camera_ai", _("AI摄像机")
    GATE = "gate", _("门禁/道闸")
    PLATE_CAMERA = "plate_camera", _("车牌识别")
    LOCKER = "locker", _("智能快递柜")
    WEARABLE = "wearable", _("智能穿戴")
    CHARGER = "charger", _("充电桩")
    METER = "meter", _("水电气热表")
    ENVIRONMENT = "environment", _("环境监测")
    GATEWAY = "gateway", _("网关")
    OTHER = "other", _("其他")


class DeviceType(TimeStamped):
    """A kind of device: its telemetry keys with units, and (as Rule rows) its default rules.

    ``telemetry_keys`` is a list of ``{"key": "temp", "name": "温度", "unit": "°C", "type": "number"}``
    (type: number | bool | string | event)."""

    code = models.SlugField("类型代码", max_length=50, unique=True)
    name = models.CharField("名称", max_length=80)
    category = models.CharField("类别", max_length=20, choices=Category.choices)
    vendor = models.CharField("默认厂商", max_length=80, blank=True)
    telemetry_keys = models.JSONField("遥测项", default=list, blank=True)
    description = models.CharField("说明", max_length=300, blank=True)
    # Retention policy (D6): days kept per resolution; ``retention_1d_days`` empty = forever.
    retention_raw_days = models.PositiveIntegerField("原始数据保留(天)", default=90)
    retention_5m_days = models.PositiveIntegerField("5分钟汇总保留(天)", default=400)
    retention_1h_days = models.PositiveIntegerField("1小时汇总保留(天)", default=1100)
    retention_1d_days = models.PositiveIntegerField("1天汇总保留(天)", null=True, blank=True)

    class Meta:
        verbose_name = "设备类型"
        verbose_name_plural = verbose_name
        constraints = [
            models.CheckConstraint(condition=Q(category__in=[c.value for c in Category]), name="iot_devicetype_category_valid"),
            models.CheckConstraint(
                condition=Q(retention_raw_days__gte=1, retention_5m_days__gte=1, retention_1h_days__gte=1)
                & (Q(retention_1d_days__isnull=True) | Q(retention_1d_days__gte=1)),
                name="iot_devicetype_retention_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DeviceStatus(models.TextChoices):
    ACTIVE = "active", _("在用")
    INACTIVE = "inactive", _("停用")
    MAINTENANCE = "maintenance", _("维护中")


def hash_secret(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class Device(TimeStamped):
    """One device (D1). Located in a grid (``region``, the scope), optionally a building/house and a point.

    Credentials: an access token (HTTP ingest, ThingsBoard-style MQTT username) kept only as SHA-256,
    and an MQTT username/password (password as Mosquitto's PBKDF2-SHA512 hash, so the broker's password
    file is generated from this table). Raw secrets are shown once, at provisioning or reset."""

    SCOPE_FIELD = "region"

    serial = models.CharField("序列号", max_length=64, unique=True)
    name = models.CharField("名称", max_length=100, blank=True)
    device_type = models.ForeignKey(DeviceType, on_delete=models.PROTECT, related_name="devices", verbose_name="设备类型")
    vendor = models.CharField("厂商", max_length=80, blank=True)
    model = models.CharField("型号", max_length=80, blank=True)
    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="devices", verbose_name="所属网格")
    building = models.ForeignKey("places.Building", on_delete=models.SET_NULL, null=True, blank=True, related_name="devices", verbose_name="楼栋")
    house = models.ForeignKey("places.House", on_delete=models.SET_NULL, null=True, blank=True, related_name="devices", verbose_name="房屋")
    lat = models.FloatField("纬度", null=True, blank=True)
    lng = models.FloatField("经度", null=True, blank=True)
    location_note = models.CharField("安装位置", max_length=200, blank=True)
    owner_org = models.ForeignKey("orgs.Organisation", on_delete=models.SET_NULL, null=True, blank=True, related_name="devices", verbose_name="所属单位")
    gateway = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children", verbose_name="接入网关")
    status = models.CharField("状态", max_length=12, choices=DeviceStatus.choices, default=DeviceStatus.ACTIVE)
    last_seen_at = models.DateTimeField("最近上报", null=True, blank=True)
    attributes = models.JSONField("设备属性", default=dict, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField("令牌前缀", max_length=12)
    mqtt_username = models.CharField("MQTT用户名", max_length=64, unique=True)
    mqtt_password_hash = models.CharField(max_length=200)

    objects = ScopedManager()

    class Meta:
        verbose_name = "设备"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["region", "id"]), models.Index(fields=["device_type", "status"])]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=[s.value for s in DeviceStatus]), name="iot_device_status_valid"),
            models.CheckConstraint(condition=Q(lat__isnull=True) | Q(lat__gte=-90, lat__lte=90), name="iot_device_lat_range"),
            models.CheckConstraint(condition=Q(lng__isnull=True) | Q(lng__gte=-180, lng__lte=180), name="iot_device_lng_range"),
        ]

    def __str__(self) -> str:
        return self.name or self.serial

    @staticmethod
    def generate_token() -> str:
        return "dt_" + secrets.token_urlsafe(24)


class Telemetry(models.Model):
    """One reading. PK (device, key, ts) = dedupe key; partitioned by month on PostgreSQL.

    No FK constraint on ``device`` (insert cost at tens of thousands of rows per second; devices are
    never deleted, only deactivated). Numbers and booleans go to ``value``; strings and JSON to
    ``value_text``."""

    pk = models.CompositePrimaryKey("device_id", "key", "ts")
    device = models.ForeignKey(Device, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+")
    key = models.CharField(max_length=64)
    ts = models.DateTimeField()
    value = models.FloatField(null=True)
    value_text = models.TextField(null=True)

    class Meta:
        verbose_name = "遥测数据"
        verbose_name_plural = verbose_name

    def __str__(self) -> str:
        return f"{self.device_id}.{self.key}@{self.ts:%Y-%m-%d %H:%M:%S}"


class LatestValue(models.Model):
    """Latest reading per (device, key), upserted once per ingest batch (never scans history)."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="latest_values", db_index=False)  # iot_latest_unique leads with it
    key = models.CharField(max_length=64)
    ts = models.DateTimeField()
    value = models.FloatField(null=True)
    value_text = models.TextField(null=True)

    class Meta:
        verbose_name = "最新读数"
        verbose_name_plural = verbose_name
        constraints = [models.UniqueConstraint(fields=["device", "key"], name="iot_latest_unique")]

    def __str__(self) -> str:
        return f"{self.device_id}.{self.key}"


class Severity(models.TextChoices):
    CRITICAL = "critical", _("紧急")
    MAJOR = "major", _("重要")
    MINOR = "minor", _("次要")
    WARNING = "warning", _("提示")


class RuleKind(models.TextChoices):
    CONDITION = "condition", _("条件规则")
    OFFLINE = "offline", _("离线/无数据")


class Rule(TimeStamped):
    """An alarm rule (D3): a device-type default (``device_type`` set) or a per-device override
    (``device`` set). A device rule with the same ``code`` as a type rule replaces it for that device
    (``enabled=False`` switches the default off). Conditions: see ``linli/iot/rules.py``."""

    code = models.SlugField("规则代码", max_length=50)
    name = models.CharField("名称", max_length=100)
    device_type = models.ForeignKey(DeviceType, on_delete=models.CASCADE, null=True, blank=True, related_name="rules", verbose_name="设备类型")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, null=True, blank=True, related_name="rules", verbose_name="设备")
    kind = models.CharField("类型", max_length=12, choices=RuleKind.choices, default=RuleKind.CONDITION)
    conditions = models.JSONField("条件", default=list, blank=True)
    match = models.CharField("组合方式", max_length=3, choices=[("all", _("全部满足")), ("any", _("任一满足"))], default="all")
    duration_s = models.PositiveIntegerField("持续时间(秒)", default=0)
    offline_minutes = models.PositiveIntegerField("离线时长(分钟)", null=True, blank=True)
    severity = models.CharField("级别", max_length=10, choices=Severity.choices, default=Severity.MAJOR)
    message = models.CharField("告警说明", max_length=200, blank=True)
    create_case = models.BooleanField("需人工处置(生成事件)", default=False)
    enabled = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = "告警规则"
        verbose_name_plural = verbose_name
        constraints = [
            models.CheckConstraint(
                condition=(Q(device_type__isnull=False) & Q(device__isnull=True)) | (Q(device_type__isnull=True) & Q(device__isnull=False)),
                name="iot_rule_type_xor_device",
            ),
            models.UniqueConstraint(fields=["device_type", "code"], condition=Q(device_type__isnull=False), name="iot_rule_unique_type_code"),
            models.UniqueConstraint(fields=["device", "code"], condition=Q(device__isnull=False), name="iot_rule_unique_device_code"),
            models.CheckConstraint(condition=Q(kind__in=[k.value for k in RuleKind]), name="iot_rule_kind_valid"),
            models.CheckConstraint(condition=~Q(kind="offline") | Q(offline_minutes__gte=1), name="iot_rule_offline_minutes"),
        ]

    def __str__(self) -> str:
        return f"{self.name}({self.code})"


class RuleSetVersion(models.Model):
    """Single row bumped by every rule write; ingest workers reload their compiled rules on change."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="iot_rulesetversion_singleton")]

    def __str__(self) -> str:
        return f"v{self.version}"


class RuleState(models.Model):
    """Evaluation state of one rule on one device, only while not at rest (pending or active).

    In the database, not in memory, so it survives restarts and is shared by several ingest workers."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="+", db_index=False)  # iot_rulestate_unique leads with it
    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="states")
    pending_since = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=False)
    last_ts = models.DateTimeField(null=True, blank=True)
    last_value = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "rule"], name="iot_rulestate_unique")]

    def __str__(self) -> str:
        return f"{self.device_id}/{self.rule_id}"


class AlarmStatus(models.TextChoices):
    ACTIVE = "active", _("未确认")
    ACKNOWLEDGED = "acknowledged", _("已确认")
    CLEARED = "cleared", _("已清除")


class Alarm(TimeStamped):
    """active → acknowledged → cleared (D4). At most one not-cleared alarm per (device, rule)."""

    SCOPE_FIELD = "region"

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="alarms", verbose_name="设备")
    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="alarms", verbose_name="规则")
    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="+", verbose_name="所属网格")
    severity = models.CharField("级别", max_length=10, choices=Severity.choices)
    status = models.CharField("状态", max_length=12, choices=AlarmStatus.choices, default=AlarmStatus.ACTIVE)
    started_at = models.DateTimeField("发生时间")
    last_at = models.DateTimeField("最近触发")
    occurrences = models.PositiveIntegerField("触发次数", default=1)
    key = models.CharField("读数项", max_length=64, blank=True)
    value = models.FloatField("读数", null=True, blank=True)
    value_text = models.CharField("读数(文本)", max_length=200, blank=True)
    message = models.CharField("说明", max_length=300)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="确认人")
    acknowledged_at = models.DateTimeField("确认时间", null=True, blank=True)
    cleared_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="清除人")
    cleared_at = models.DateTimeField("清除时间", null=True, blank=True)
    note = models.CharField("处置说明", max_length=300, blank=True)
    # Escalation while nobody acknowledges (D4): 0 = grid/community, 1 = street, 2 = district.
    escalation_level = models.PositiveSmallIntegerField("升级层级", default=0)
    escalated_at = models.DateTimeField("最近升级时间", null=True, blank=True)
    next_escalation_at = models.DateTimeField("下次升级时间", null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "告警"
        verbose_name_plural = verbose_name
        indexes = [
            models.Index(fields=["status", "id"]), models.Index(fields=["region", "id"]),
            models.Index(fields=["next_escalation_at"], condition=Q(status="active", next_escalation_at__isnull=False),
                         name="iot_alarm_escalation_due"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["device", "rule"], condition=~Q(status="cleared"), name="iot_alarm_one_open_per_rule"),
            models.CheckConstraint(condition=Q(escalation_level__lte=2), name="iot_alarm_escalation_level_valid"),
            models.CheckConstraint(condition=Q(status__in=[s.value for s in AlarmStatus]), name="iot_alarm_status_valid"),
            models.CheckConstraint(condition=~Q(status="cleared") | Q(cleared_at__isnull=False), name="iot_alarm_cleared_at"),
        ]

    def __str__(self) -> str:
        return f"{self.message}#{self.pk}"


class AlarmNotification(models.Model):
    """In-app notification of one alarm to one responsible account (alarm.view over its grid)."""

    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="iot_notifications")
    alarm = models.ForeignKey(Alarm, on_delete=models.CASCADE, related_name="notifications")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "告警通知"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["account", "id"])]
        constraints = [models.UniqueConstraint(fields=["account", "alarm"], name="iot_notification_unique")]

    def __str__(self) -> str:
        return f"{self.account_id}:{self.alarm_id}"


class AlarmOutbox(models.Model):
    """Cross-domain hand-off (DESIGN: outbox, not signals): ``open_case`` rows are turned into cases
    by the cases integration, which sets ``processed_at`` (idempotent: one row per alarm and kind)."""

    alarm = models.ForeignKey(Alarm, on_delete=models.CASCADE, related_name="outbox")
    kind = models.CharField(max_length=20, default="open_case")
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "告警外发队列"
        verbose_name_plural = verbose_name
        constraints = [models.UniqueConstraint(fields=["alarm", "kind"], name="iot_outbox_unique")]
        indexes = [models.Index(fields=["processed_at", "id"])]

    def __str__(self) -> str:
        return f"{self.kind}:{self.alarm_id}"


class IngestCounter(models.Model):
    """Per day and channel: messages, stored rows, duplicate rows and rejected messages (D2).

    Each ingest process/thread adds to its own ``shard`` row, so concurrent workers never wait for
    each other's commit on one hot counter row; readers sum the shards (``selectors.ingest_stats``)."""

    SHARDS = 64

    day = models.DateField()
    channel = models.CharField(max_length=10)
    shard = models.PositiveSmallIntegerField(default=0)
    messages = models.BigIntegerField(default=0)
    stored = models.BigIntegerField(default=0)
    duplicates = models.BigIntegerField(default=0)
    rejected = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "channel", "shard"], name="iot_ingestcounter_shard_unique")]

    def __str__(self) -> str:
        return f"{self.day} {self.channel}"


class CommandStatus(models.TextChoices):
    PENDING = "pending", _("待下发")
    DELIVERED = "delivered", _("已送达")
    ACKNOWLEDGED = "acknowledged", _("已执行")
    FAILED = "failed", _("执行失败")
    TIMED_OUT = "timed_out", _("超时")


class DeviceCommand(TimeStamped):
    """A command (RPC) to one device (D5): pending → delivered → acknowledged / failed / timed_out.

    ``rpc_id`` is the ThingsBoard-style integer request id, sequential per device: the device receives
    ``linli/v1/<device>/rpc/request/<rpc_id>`` (or polls over HTTP) and answers with that id."""

    SCOPE_FIELD = "region"
    OPEN = ("pending", "delivered")

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="commands", verbose_name="设备")
    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="+", verbose_name="所属网格")
    rpc_id = models.PositiveIntegerField("请求编号")
    method = models.CharField("指令", max_length=32)
    params = models.JSONField("参数", default=dict, blank=True)
    status = models.CharField("状态", max_length=12, choices=CommandStatus.choices, default=CommandStatus.PENDING)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="下发人")
    expires_at = models.DateTimeField("超时时间")
    delivered_at = models.DateTimeField("送达时间", null=True, blank=True)
    responded_at = models.DateTimeField("应答时间", null=True, blank=True)
    response = models.JSONField("设备应答", null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "设备指令"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["device", "id"]), models.Index(fields=["status", "expires_at"]), models.Index(fields=["region", "id"])]
        constraints = [
            models.UniqueConstraint(fields=["device", "rpc_id"], name="iot_command_unique_rpc_id"),
            models.CheckConstraint(condition=Q(status__in=[s.value for s in CommandStatus]), name="iot_command_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.method}#{self.rpc_id}@{self.device_id}"


# ---- history rollups (D6) ------------------------------------------------------------------------
class Resolution(models.TextChoices):
    M5 = "5m", _("5分钟")
    H1 = "1h", _("1小时")
    D1 = "1d", _("1天")


class TelemetryRollup(models.Model):
    """Downsampled numeric telemetry: one row per (device, key, resolution, bucket start).

    Maintained set-based by ``linli/iot/rollups.py`` (5m from raw, 1h from 5m, 1d from 1h); ``vsum``
    and ``n`` are kept (not the mean) so coarser buckets merge exactly; ``vlast`` is the value at
    ``last_ts``. No FK constraint on ``device`` (same reason as Telemetry)."""

    pk = models.CompositePrimaryKey("device_id", "key", "resolution", "bucket")
    device = models.ForeignKey(Device, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+")
    key = models.CharField(max_length=64)
    resolution = models.CharField(max_length=2, choices=Resolution.choices)
    bucket = models.DateTimeField()
    n = models.PositiveIntegerField()
    vmin = models.FloatField()
    vmax = models.FloatField()
    vsum = models.FloatField()
    vlast = models.FloatField()
    last_ts = models.DateTimeField()

    class Meta:
        verbose_name = "遥测汇总"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["resolution", "bucket"], name="iot_rollup_res_bucket")]
        constraints = [
            models.CheckConstraint(condition=Q(resolution__in=[r.value for r in Resolution]), name="iot_rollup_resolution_valid"),
            models.CheckConstraint(condition=Q(n__gte=1) & Q(vmin__lte=models.F("vmax")), name="iot_rollup_consistent"),
        ]

    def __str__(self) -> str:
        return f"{self.device_id}.{self.key}/{self.resolution}@{self.bucket:%Y-%m-%d %H:%M}"

    @property
    def avg(self) -> float:
        return self.vsum / self.n


class RollupState(models.Model):
    """Watermark of the rollup task: raw rows up to ``watermark`` are aggregated (late rows within
    ``LINLI_IOT_ROLLUP_LATE_S`` before it are re-aggregated on every run)."""

    name = models.CharField(max_length=20, primary_key=True)
    watermark = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name}@{self.watermark}"


# ---- environment: trash-bin collection (V1) ------------------------------------------------------
class CollectionRoute(TimeStamped):
    """A waste collection route (清运路线) in a grid or community: ordered stops (bins) and the daily
    round times (``round_times`` "07:00,16:00", local time) used to predict bins full by the next round."""

    SCOPE_FIELD = "region"

    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="+", verbose_name="所属区域")
    name = models.CharField("路线名称", max_length=80)
    round_times = models.CharField("清运时间", max_length=100, default="07:00,16:00", help_text="HH:MM，逗号分隔")
    note = models.CharField("说明", max_length=200, blank=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "清运路线"
        verbose_name_plural = verbose_name
        constraints = [models.UniqueConstraint(fields=["region", "name"], name="iot_route_unique_name")]

    def __str__(self) -> str:
        return self.name


class CollectionStop(models.Model):
    """One bin on a route, at ``position`` (1, 2, …). A bin is on at most one route."""

    route = models.ForeignKey(CollectionRoute, on_delete=models.CASCADE, related_name="stops")
    device = models.OneToOneField(Device, on_delete=models.CASCADE, related_name="collection_stop")
    position = models.PositiveIntegerField("顺序")

    class Meta:
        verbose_name = "清运站点"
        verbose_name_plural = verbose_name
        constraints = [
            models.UniqueConstraint(fields=["route", "position"], name="iot_stop_unique_position"),
            models.CheckConstraint(condition=Q(position__gte=1), name="iot_stop_position_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.route_id}#{self.position}"


class BinCollection(models.Model):
    """A bin was emptied (V1). The bin counts as collected until its next reading arrives."""

    SCOPE_FIELD = "region"

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="collections", verbose_name="垃圾桶")
    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="+", verbose_name="所属网格")
    collected_at = models.DateTimeField("清运时间")
    collected_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="清运人")
    fill_before = models.FloatField("清运前满溢度", null=True, blank=True)
    weight_before = models.FloatField("清运前重量", null=True, blank=True)
    note = models.CharField("备注", max_length=200, blank=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "清运记录"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["device", "collected_at"]), models.Index(fields=["region", "id"])]

    def __str__(self) -> str:
        return f"{self.device_id}@{self.collected_at:%Y-%m-%d %H:%M}"
