"""停车 Parking (K1–K5): lots, zones, spaces, vehicles, passes, plate flags, billing rules as data,
sessions (one open session per lot and plate, a database constraint) and alarms.

Every write that changes an entry/exit decision appends a ``ParkingChange`` row (its id is the
version of the in-process decision index, see ``decision.py``).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from linli.core.models import TimeStamped
from linli.core.scoping import ScopedManager


def _choices(c: type[models.TextChoices]) -> list[str]:
    return [v.value for v in c]


class BillingRule(TimeStamped):
    """收费规则 as data. Money is integer fen. Night window in Asia/Shanghai local minutes
    (``night_end_minute`` ≤ ``night_start_minute`` runs past midnight); time inside it costs
    ``night_fen`` once per night instead of the hourly steps. ``daily_cap_fen`` caps each 24 hours
    counted from entry. See ``billing.bill``."""

    SCOPE_FIELD = "region"

    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="+", verbose_name="适用区域")
    name = models.CharField("名称", max_length=100)
    free_minutes = models.PositiveIntegerField("免费时长(分钟)", default=15)
    first_minutes = models.PositiveIntegerField("首段时长(分钟)", default=60)
    first_fen = models.PositiveIntegerField("首段价格(分)", default=500)
    step_minutes = models.PositiveIntegerField("续时单位(分钟)", default=60)
    step_fen = models.PositiveIntegerField("续时价格(分)", default=200)
    daily_cap_fen = models.PositiveIntegerField("每24小时封顶(分)", null=True, blank=True)
    night_start_minute = models.PositiveSmallIntegerField("夜间开始(分钟)", null=True, blank=True)
    night_end_minute = models.PositiveSmallIntegerField("夜间结束(分钟)", null=True, blank=True)
    night_fen = models.PositiveIntegerField("夜间每晚价格(分)", default=0)
    pass_holders_free = models.BooleanField("月卡/年卡免费", default=True)
    visitor_paid_by_host = models.BooleanField("访客费用由被访住户支付", default=False)

    objects = ScopedManager()

    class Meta:
        verbose_name = "停车收费规则"
        verbose_name_plural = verbose_name
        constraints = [
            models.CheckConstraint(condition=Q(first_minutes__gte=1, step_minutes__gte=1), name="parking_rule_periods_positive"),
            models.CheckConstraint(condition=Q(night_start_minute__isnull=True, night_end_minute__isnull=True)
                                   | Q(night_start_minute__lte=1439, night_end_minute__lte=1439), name="parking_rule_night_window"),
        ]

    def __str__(self) -> str:
        return self.name


class OverusePolicy(models.TextChoices):
    DENY = "deny", "禁止入场"
    VISITOR = "visitor", "按临时车收费"


class ParkingLot(TimeStamped):
    """停车场. Its cameras authenticate with one lot token kept only as SHA-256."""

    SCOPE_FIELD = "region"

    code = models.CharField("编码", max_length=40, unique=True)
    name = models.CharField("名称", max_length=100)
    estate = models.ForeignKey("places.Estate", on_delete=models.PROTECT, null=True, blank=True, related_name="parking_lots", verbose_name="小区")
    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="parking_lots", verbose_name="所属区域")
    capacity = models.PositiveIntegerField("车位总数")
    rule = models.ForeignKey(BillingRule, on_delete=models.PROTECT, null=True, blank=True, related_name="lots", verbose_name="收费规则")
    overuse_policy = models.CharField("一卡多车处理", max_length=8, choices=OverusePolicy.choices, default=OverusePolicy.VISITOR)
    exit_grace_minutes = models.PositiveSmallIntegerField("缴费后离场时限(分钟)", default=15)
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField("令牌前缀", max_length=12)
    is_active = models.BooleanField("启用", default=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "停车场"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["region", "id"])]
        constraints = [
            models.CheckConstraint(condition=Q(capacity__gte=1), name="parking_lot_capacity_positive"),
            models.CheckConstraint(condition=Q(overuse_policy__in=_choices(OverusePolicy)), name="parking_lot_overuse_valid"),
        ]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def generate_token() -> str:
        return "pk_" + secrets.token_urlsafe(24)


class Zone(TimeStamped):
    """区域 of a lot (B1-A…); ``capacity`` counts its general bays (not fixed/owned spaces)."""

    SCOPE_FIELD = "lot__region"

    lot = models.ForeignKey(ParkingLot, on_delete=models.CASCADE, related_name="zones", verbose_name="停车场")
    code = models.CharField("编码", max_length=20)
    name = models.CharField("名称", max_length=60)
    capacity = models.PositiveIntegerField("公共车位数", default=0)

    objects = ScopedManager()

    class Meta:
        verbose_name = "停车区域"
        verbose_name_plural = verbose_name
        constraints = [models.UniqueConstraint(fields=["lot", "code"], name="parking_zone_code_unique")]

    def __str__(self) -> str:
        return self.code


class SpaceKind(models.TextChoices):
    OWNED = "owned", "产权车位"
    RENTED = "rented", "租赁车位"
    PUBLIC = "public", "公共车位"
    SHARED = "shared", "共享车位"


class Space(TimeStamped):
    """One bay. Owned and rented bays name their owner (or tenant) person."""

    SCOPE_FIELD = "lot__region"

    lot = models.ForeignKey(ParkingLot, on_delete=models.CASCADE, related_name="spaces", verbose_name="停车场")
    zone = models.ForeignKey(Zone, on_delete=models.SET_NULL, null=True, blank=True, related_name="spaces", verbose_name="区域")
    number = models.CharField("车位号", max_length=20)
    kind = models.CharField("类型", max_length=8, choices=SpaceKind.choices, default=SpaceKind.PUBLIC)
    owner = models.ForeignKey("people.Person", on_delete=models.PROTECT, null=True, blank=True, related_name="parking_spaces", verbose_name="业主/承租人")

    objects = ScopedManager()

    class Meta:
        verbose_name = "车位"
        verbose_name_plural = verbose_name
        constraints = [
            models.UniqueConstraint(fields=["lot", "number"], name="parking_space_number_unique"),
            models.CheckConstraint(condition=Q(kind__in=_choices(SpaceKind)), name="parking_space_kind_valid"),
            models.CheckConstraint(condition=~Q(kind__in=["owned", "rented"]) | Q(owner__isnull=False), name="parking_space_owner_required"),
        ]

    def __str__(self) -> str:
        return self.number


class Energy(models.TextChoices):
    FUEL = "fuel", "燃油"
    ELECTRIC = "electric", "纯电动"
    HYBRID = "hybrid", "混合动力/其他新能源"


class Vehicle(TimeStamped):
    """A resident's car. ``plate`` is normalised (upper case, no separators) and valid per GA 36."""

    SCOPE_FIELD = "region"

    plate = models.CharField("车牌", max_length=8, unique=True)
    owner = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="vehicles", verbose_name="车主")
    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="+", verbose_name="所属区域")
    energy = models.CharField("能源类型", max_length=8, choices=Energy.choices, default=Energy.FUEL)
    note = models.CharField("备注", max_length=100, blank=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "车辆"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["region", "id"])]
        constraints = [models.CheckConstraint(condition=Q(energy__in=_choices(Energy)), name="parking_vehicle_energy_valid")]

    def __str__(self) -> str:
        return self.plate


class PassKind(models.TextChoices):
    MONTHLY = "monthly", "月卡"
    ANNUAL = "annual", "年卡"
    FIXED = "fixed", "固定车位"


class PassStatus(models.TextChoices):
    ACTIVE = "active", "有效"
    CANCELLED = "cancelled", "已注销"


class ParkingPass(TimeStamped):
    """月卡/年卡/固定车位. ``plates`` (1..n normalised plates) share it; at most ``max_inside`` of
    them may be inside at once (one owner's several cars on one space: as configured here)."""

    SCOPE_FIELD = "lot__region"

    lot = models.ForeignKey(ParkingLot, on_delete=models.PROTECT, related_name="passes", verbose_name="停车场")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="parking_passes", verbose_name="持卡人")
    kind = models.CharField("类型", max_length=8, choices=PassKind.choices)
    plates = models.JSONField("车牌", default=list)
    space = models.ForeignKey(Space, on_delete=models.PROTECT, null=True, blank=True, related_name="passes", verbose_name="车位")
    valid_from = models.DateTimeField("生效")
    valid_until = models.DateTimeField("到期")
    max_inside = models.PositiveSmallIntegerField("同时在场车辆上限", default=1)
    status = models.CharField("状态", max_length=10, choices=PassStatus.choices, default=PassStatus.ACTIVE)

    objects = ScopedManager()

    class Meta:
        verbose_name = "停车月卡"
        verbose_name_plural = verbose_name
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=_choices(PassKind)), name="parking_pass_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=_choices(PassStatus)), name="parking_pass_status_valid"),
            models.CheckConstraint(condition=Q(valid_until__gt=F("valid_from")), name="parking_pass_validity_order"),
            models.CheckConstraint(condition=Q(max_inside__gte=1), name="parking_pass_max_inside_positive"),
            models.CheckConstraint(condition=~Q(kind="fixed") | Q(space__isnull=False), name="parking_pass_fixed_space"),
        ]


class FlagKind(models.TextChoices):
    STOLEN = "stolen", "被盗车辆"
    BLOCKED = "blocked", "禁止入场"
    WATCH = "watch", "关注(放行并告警)"


class PlateFlag(TimeStamped):
    """A flagged plate for every lot under ``region``: stolen/blocked deny, watch allows; all alarm."""

    SCOPE_FIELD = "region"

    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="+", verbose_name="适用区域")
    plate = models.CharField("车牌", max_length=8, db_index=True)
    kind = models.CharField("类型", max_length=8, choices=FlagKind.choices)
    reason = models.CharField("原因", max_length=200)
    is_active = models.BooleanField("有效", default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    objects = ScopedManager()

    class Meta:
        verbose_name = "布控车牌"
        verbose_name_plural = verbose_name
        constraints = [models.CheckConstraint(condition=Q(kind__in=_choices(FlagKind)), name="parking_flag_kind_valid")]


class SessionStatus(models.TextChoices):
    INSIDE = "inside", "在场"
    PAID = "paid", "已缴费待离场"
    EXITED = "exited", "已离场"


class SessionKind(models.TextChoices):
    PASS = "pass", "月卡车"
    VISITOR = "visitor", "临时车"


class ParkingSession(models.Model):
    """One stay. At most one open session (no ``exit_at``) per lot and plate — a database constraint."""

    SCOPE_FIELD = "region"

    lot = models.ForeignKey(ParkingLot, on_delete=models.PROTECT, related_name="sessions", verbose_name="停车场")
    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="+", verbose_name="区域")
    plate = models.CharField("车牌", max_length=8)
    kind = models.CharField("类型", max_length=8, choices=SessionKind.choices)
    entry_at = models.DateTimeField("入场时间")
    exit_at = models.DateTimeField("离场时间", null=True, blank=True)
    zone = models.ForeignKey(Zone, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="区域")
    space = models.ForeignKey(Space, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="车位")
    parking_pass = models.ForeignKey(ParkingPass, on_delete=models.SET_NULL, null=True, blank=True, related_name="sessions", verbose_name="月卡")
    host_person = models.ForeignKey("people.Person", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="付费住户")
    amount_fen = models.PositiveIntegerField("应收(分)", default=0)
    paid_fen = models.PositiveIntegerField("已收(分)", default=0)
    paid_at = models.DateTimeField("缴费时间", null=True, blank=True)
    status = models.CharField("状态", max_length=8, choices=SessionStatus.choices, default=SessionStatus.INSIDE)
    entry_reason = models.CharField("入场原因", max_length=32, default="")

    objects = ScopedManager()

    class Meta:
        verbose_name = "停车记录"
        verbose_name_plural = verbose_name
        indexes = [
            models.Index(fields=["region", "id"]),
            models.Index(fields=["lot", "entry_at"]),
            models.Index(fields=["lot", "exit_at"]),
            models.Index(fields=["plate", "exit_at"]),
            models.Index(fields=["parking_pass", "exit_at"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["lot", "plate"], condition=Q(exit_at__isnull=True), name="parking_one_open_session"),
            models.CheckConstraint(condition=Q(kind__in=_choices(SessionKind)), name="parking_session_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=_choices(SessionStatus)), name="parking_session_status_valid"),
            models.CheckConstraint(condition=Q(exit_at__isnull=True) | Q(exit_at__gte=F("entry_at")), name="parking_session_order"),
            models.CheckConstraint(condition=Q(status="exited", exit_at__isnull=False) | (~Q(status="exited") & Q(exit_at__isnull=True)),
                                   name="parking_session_status_exit"),
        ]

    def __str__(self) -> str:
        return f"{self.plate}@{self.lot_id}"


class AlarmKind(models.TextChoices):
    FLAGGED = "flagged_plate", "布控车牌"
    OVERUSE = "pass_overuse", "一卡多车"


class ParkingAlarm(TimeStamped):
    """An alarm for the duty staff: a flagged plate at a camera, or one pass used by two cars."""

    SCOPE_FIELD = "region"

    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="+", verbose_name="区域")
    lot = models.ForeignKey(ParkingLot, on_delete=models.CASCADE, related_name="alarms", verbose_name="停车场")
    kind = models.CharField("类型", max_length=16, choices=AlarmKind.choices)
    plate = models.CharField("车牌", max_length=8)
    flag = models.ForeignKey(PlateFlag, on_delete=models.SET_NULL, null=True, blank=True, related_name="alarms")
    parking_pass = models.ForeignKey(ParkingPass, on_delete=models.SET_NULL, null=True, blank=True, related_name="alarms")
    session = models.ForeignKey(ParkingSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="alarms")
    allowed = models.BooleanField("已放行")
    message = models.CharField("说明", max_length=200)
    acknowledged_at = models.DateTimeField("确认时间", null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    objects = ScopedManager()

    class Meta:
        verbose_name = "停车告警"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["region", "id"])]
        constraints = [models.CheckConstraint(condition=Q(kind__in=_choices(AlarmKind)), name="parking_alarm_kind_valid")]


class ParkingChange(models.Model):
    """Change log of what entry decisions depend on; max(id) is the index version.
    ``entity``: flag / pass (by id, applied incrementally) or ``all`` (lots, rules: rebuild)."""

    entity = models.CharField(max_length=8)
    entity_id = models.BigIntegerField(default=0)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "停车变更"

    def __str__(self) -> str:
        return f"{self.entity}#{self.entity_id}@{self.pk}"


class Direction(models.TextChoices):
    ENTRY = "entry", "入场"
    EXIT = "exit", "出场"


class ParkingEvent(models.Model):
    """决策日志: one row per plate entry/exit decision (allowed or not), written in the same transaction
    as the decision. Statistics per lot and hour (K3) and the consoles' live feed read from it."""

    SCOPE_FIELD = "region"

    lot = models.ForeignKey(ParkingLot, on_delete=models.CASCADE, related_name="events", verbose_name="停车场")
    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="+", verbose_name="区域")
    plate = models.CharField("车牌", max_length=16)
    direction = models.CharField("方向", max_length=5, choices=Direction.choices)
    allowed = models.BooleanField("放行")
    reason = models.CharField("原因", max_length=32)
    at = models.DateTimeField("时间")
    session = models.ForeignKey(ParkingSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="events", verbose_name="停车记录")
    amount_due_fen = models.PositiveIntegerField("待缴(分)", default=0)

    objects = ScopedManager()

    class Meta:
        verbose_name = "车辆进出记录"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["region", "id"]), models.Index(fields=["lot", "at"]), models.Index(fields=["lot", "id"])]
        constraints = [models.CheckConstraint(condition=Q(direction__in=_choices(Direction)), name="parking_event_direction_valid")]

    def __str__(self) -> str:
        return f"{self.plate} {self.direction} {'✓' if self.allowed else '✗'} {self.reason}"


class GuidanceDisplay(TimeStamped):
    """A wall-mounted guidance screen (K4) of one lot: a read-only URL with a secret token kept only as
    SHA-256 (shown once). Revoking it makes the URL a 404 at once."""

    SCOPE_FIELD = "lot__region"

    lot = models.ForeignKey(ParkingLot, on_delete=models.CASCADE, related_name="displays", verbose_name="停车场")
    name = models.CharField("名称", max_length=60)
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField("令牌前缀", max_length=12)
    revoked_at = models.DateTimeField("撤销时间", null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    objects = ScopedManager()

    class Meta:
        verbose_name = "诱导屏"
        verbose_name_plural = verbose_name

    def __str__(self) -> str:
        return f"{self.name} ({self.token_prefix}…)"

    @staticmethod
    def generate_token() -> str:
        return "gd_" + secrets.token_urlsafe(24)
