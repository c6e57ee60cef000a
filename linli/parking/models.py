"""停车 Parking (K1–K5): lots, zones, spaces, vehicles, passes, plate flags, billing rules as data,
sessions (one open session per lot and plate, a database constraint) and alarms.

Every write that changes an entry/exit decision appends a ``ParkingChange`` row (its id is the
version of the in-process decision index, see ``decision.py``).
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

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
    DENY = "deny", _("禁止入场")
    VISITOR = "visitor", _("按临时车收费")


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
    OWNED = "owned", _("产权车位")
    RENTED = "rented", _("租赁车位")
    PUBLIC = "public", _("公共车位")
    SHARED = "shared", _("共享车位")


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
    FUEL = "fuel", _("燃油")
    ELECTRIC = "electric", _("纯电动")
    HYBRID = "hybrid", _("混合动力/其他新能源")


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
    MONTHLY = "monthly", _("月卡")
    ANNUAL = "annual", _("年卡")
    FIXED = "fixed", _("固定车位")


class PassStatus(models.TextChoices):
    ACTIVE = "active", _("有效")
    CANCELLED = "cancelled", _("已注销")


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
    STOLEN = "stolen", _("被盗车辆")
    BLOCKED = "blocked", _("禁止入场")
    WATCH = "watch", _("关注(放行并告警)")


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
    INSIDE = "inside", _("在场")
    PAID = "paid", _("已缴费待离场")
    EXITED = "exited", _("已离场")


class SessionKind(models.TextChoices):
    PASS = "pass", _("月卡车")
    VISITOR = "visitor", _("临时车")


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
    FLAGGED = "flagged_plate", _("布控车牌")
    OVERUSE = "pass_overuse", _("一卡多车")


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
    ENTRY = "entry", _("入场")
    EXIT = "exit", _("出场")


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


# ---- K6 sharing: idle windows of private spaces, bookings, the money ledger -------------------------

ACTIVE_BOOKING = ("booked", "in_use")


class SharingTerms(TimeStamped):
    """Per lot, as data: how a shared-space booking is settled. ``platform_permille`` of every payment
    goes to the platform/property company, the rest is credited to the space owner; a no-show costs
    ``no_show_fen``; time past the booking's end (beyond ``grace_minutes``) costs ``overstay_fen_per_hour``
    (pro rata per started minute)."""

    SCOPE_FIELD = "lot__region"

    lot = models.OneToOneField(ParkingLot, on_delete=models.CASCADE, related_name="sharing_terms", verbose_name="停车场")
    platform_permille = models.PositiveSmallIntegerField("平台/物业分成(‰)", default=0)
    grace_minutes = models.PositiveSmallIntegerField("入场/离场宽限(分钟)", default=15)
    no_show_fen = models.PositiveIntegerField("爽约费(分)", default=0)
    overstay_fen_per_hour = models.PositiveIntegerField("超时费(分/小时)", default=0)

    objects = ScopedManager()

    class Meta:
        verbose_name = "共享车位结算规则"
        verbose_name_plural = verbose_name
        constraints = [models.CheckConstraint(condition=Q(platform_permille__lte=1000), name="parking_sharing_permille_range")]


class PriceMode(models.TextChoices):
    HOURLY = "hourly", _("按小时")
    FLAT = "flat", _("一口价")


class WindowStatus(models.TextChoices):
    OPEN = "open", _("开放预约")
    WITHDRAWN = "withdrawn", _("已撤回")


class ShareWindow(TimeStamped):
    """An idle window of a private (owned/rented) space its owner offers to others."""

    SCOPE_FIELD = "lot__region"

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="share_windows", verbose_name="车位")
    lot = models.ForeignKey(ParkingLot, on_delete=models.CASCADE, related_name="share_windows", verbose_name="停车场")
    owner = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="share_windows", verbose_name="业主")
    start_at = models.DateTimeField("开始")
    end_at = models.DateTimeField("结束")
    price_mode = models.CharField("计价方式", max_length=8, choices=PriceMode.choices, default=PriceMode.HOURLY)
    price_fen = models.PositiveIntegerField("价格(分)")
    status = models.CharField("状态", max_length=10, choices=WindowStatus.choices, default=WindowStatus.OPEN)

    objects = ScopedManager()

    class Meta:
        verbose_name = "共享时段"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["lot", "status", "start_at"]), models.Index(fields=["owner", "id"])]
        constraints = [
            models.CheckConstraint(condition=Q(end_at__gt=F("start_at")), name="parking_window_order"),
            models.CheckConstraint(condition=Q(price_mode__in=_choices(PriceMode)), name="parking_window_price_mode_valid"),
            models.CheckConstraint(condition=Q(status__in=_choices(WindowStatus)), name="parking_window_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.space_id}@{self.start_at:%Y-%m-%d %H:%M}"


class BookingStatus(models.TextChoices):
    BOOKED = "booked", _("已预约")
    IN_USE = "in_use", _("使用中")
    COMPLETED = "completed", _("已完成")
    CANCELLED = "cancelled", _("已取消")
    NO_SHOW = "no_show", _("爽约")


def _booking_checks(prefix: str) -> list[models.CheckConstraint]:
    """The checks of every booking table; their names (``<prefix>_order``, ``<prefix>_status_valid``)
    predate ``Booking`` and are the database's, so each concrete model passes its own prefix."""
    return [
        models.CheckConstraint(condition=Q(end_at__gt=F("start_at")), name=f"{prefix}_order"),
        models.CheckConstraint(condition=Q(status__in=_choices(BookingStatus)), name=f"{prefix}_status_valid"),
    ]


class Booking(TimeStamped):
    """A time slot of one resource (a shared space, a charger) booked for a plate. Active bookings
    (``ACTIVE_BOOKING``) of one resource never overlap: an EXCLUDE constraint on PostgreSQL, a trigger
    on SQLite (``overlap.py``, installed by the migration of each concrete model), not only a check.
    ``RESOURCE`` names the foreign key that guard is keyed on; every booking has a ``lot``."""

    SCOPE_FIELD = "lot__region"
    RESOURCE: str

    plate = models.CharField("车牌", max_length=8)
    start_at = models.DateTimeField("开始")
    end_at = models.DateTimeField("结束")
    status = models.CharField("状态", max_length=10, choices=BookingStatus.choices, default=BookingStatus.BOOKED)

    objects = ScopedManager()

    class Meta:
        abstract = True

    @classmethod
    def overlapping(cls, start_at: dt.datetime, end_at: dt.datetime) -> models.QuerySet:
        """Active bookings (of any resource) overlapping [start_at, end_at)."""
        return cls.objects.filter(status__in=ACTIVE_BOOKING, start_at__lt=end_at, end_at__gt=start_at)


class ShareBooking(Booking):
    """A booking of a shared window (migration ``sharing`` installs the guard on ``space``)."""

    RESOURCE = "space"

    window = models.ForeignKey(ShareWindow, on_delete=models.PROTECT, related_name="bookings", verbose_name="共享时段")
    space = models.ForeignKey(Space, on_delete=models.PROTECT, related_name="share_bookings", verbose_name="车位")
    lot = models.ForeignKey(ParkingLot, on_delete=models.PROTECT, related_name="share_bookings", verbose_name="停车场")
    booker = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="share_bookings", verbose_name="预约人")
    amount_fen = models.PositiveIntegerField("应付(分)", default=0)
    overstay_fen = models.PositiveIntegerField("超时费(分)", default=0)
    paid_fen = models.PositiveIntegerField("已付(分)", default=0)
    paid_at = models.DateTimeField("付款时间", null=True, blank=True)
    entered_at = models.DateTimeField("入场时间", null=True, blank=True)
    exited_at = models.DateTimeField("离场时间", null=True, blank=True)
    overstaying = models.BooleanField("超时未离场", default=False)
    conflict = models.BooleanField("前车超时冲突", default=False)

    class Meta:
        verbose_name = "共享车位预约"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["lot", "plate", "status"]), models.Index(fields=["status", "start_at"]),
                   models.Index(fields=["booker", "id"]), models.Index(fields=["space", "start_at"])]
        constraints = _booking_checks("parking_booking")

    def __str__(self) -> str:
        return f"{self.plate}@{self.space_id} {self.start_at:%Y-%m-%d %H:%M}"

    @property
    def total_fen(self) -> int:
        return self.amount_fen + self.overstay_fen

    @property
    def due_fen(self) -> int:
        return max(0, self.total_fen - self.paid_fen)


# ---- K7 EV charging: tariffs as data, charger piles (iot devices on a space), slots, sessions ----------


class ChargingTariff(TimeStamped):
    """充电资费 as data. ``periods``: time-of-use energy prices, a list of {"from": "HH:MM", "fen_per_kwh": n}
    starting at 00:00 (Asia/Shanghai local time, a fixed +08:00); plus a service fee per hour of
    charging and an idle (occupation) fee per hour once the car is full and ``idle_grace_minutes`` have
    passed, capped at ``idle_cap_fen`` per session. See ``charging.bill_session``."""

    SCOPE_FIELD = "region"

    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="+", verbose_name="适用区域")
    name = models.CharField("名称", max_length=100)
    periods = models.JSONField("分时电价", default=list)
    service_fen_per_hour = models.PositiveIntegerField("服务费(分/小时)", default=0)
    idle_fen_per_hour = models.PositiveIntegerField("充满后占位费(分/小时)", default=0)
    idle_grace_minutes = models.PositiveSmallIntegerField("充满后免费占位(分钟)", default=15)
    idle_cap_fen = models.PositiveIntegerField("占位费封顶(分)", null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "充电资费"
        verbose_name_plural = verbose_name

    def __str__(self) -> str:
        return self.name


class Charger(TimeStamped):
    """充电桩: an iot device of type ``ev_charger`` standing at a parking space."""

    SCOPE_FIELD = "lot__region"

    device = models.OneToOneField("iot.Device", on_delete=models.PROTECT, related_name="charger", verbose_name="设备")
    lot = models.ForeignKey(ParkingLot, on_delete=models.PROTECT, related_name="chargers", verbose_name="停车场")
    space = models.OneToOneField(Space, on_delete=models.PROTECT, related_name="charger", verbose_name="车位")
    tariff = models.ForeignKey(ChargingTariff, on_delete=models.PROTECT, related_name="chargers", verbose_name="资费")
    name = models.CharField("名称", max_length=60)
    max_power_kw = models.DecimalField("额定功率(kW)", max_digits=6, decimal_places=1, default=7)
    is_active = models.BooleanField("启用", default=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "充电桩"
        verbose_name_plural = verbose_name

    def __str__(self) -> str:
        return self.name


class ChargerBooking(Booking):
    """A reserved time slot at a charger (migration ``charging`` installs the guard on ``charger``)."""

    RESOURCE = "charger"

    charger = models.ForeignKey(Charger, on_delete=models.PROTECT, related_name="bookings", verbose_name="充电桩")
    lot = models.ForeignKey(ParkingLot, on_delete=models.PROTECT, related_name="+", verbose_name="停车场")
    booker = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="charger_bookings", verbose_name="预约人")

    class Meta:
        verbose_name = "充电预约"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["charger", "start_at"]), models.Index(fields=["booker", "id"]), models.Index(fields=["status", "start_at"])]
        constraints = _booking_checks("parking_chbooking")


class ChargingStatus(models.TextChoices):
    CHARGING = "charging", _("充电中")
    COMPLETED = "completed", _("已结束")
    FAILED = "failed", _("启动失败")


class ChargingSession(TimeStamped):
    """One charge: started and stopped through iot commands (D5); energy from the pile's meter readings
    (``energy_kwh`` telemetry) at start and stop; billed by energy and time. One open session per pile."""

    SCOPE_FIELD = "lot__region"

    charger = models.ForeignKey(Charger, on_delete=models.PROTECT, related_name="sessions", verbose_name="充电桩")
    lot = models.ForeignKey(ParkingLot, on_delete=models.PROTECT, related_name="+", verbose_name="停车场")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="charging_sessions", verbose_name="用户")
    booking = models.ForeignKey(ChargerBooking, on_delete=models.SET_NULL, null=True, blank=True, related_name="sessions", verbose_name="预约")
    status = models.CharField("状态", max_length=10, choices=ChargingStatus.choices, default=ChargingStatus.CHARGING)
    started_at = models.DateTimeField("开始时间")
    stopped_at = models.DateTimeField("结束时间", null=True, blank=True)
    full_at = models.DateTimeField("充满时间", null=True, blank=True)
    start_kwh = models.DecimalField("起始读数(kWh)", max_digits=12, decimal_places=3)
    stop_kwh = models.DecimalField("结束读数(kWh)", max_digits=12, decimal_places=3, null=True, blank=True)
    energy_wh = models.PositiveIntegerField("电量(Wh)", default=0)
    energy_fen = models.PositiveIntegerField("电费(分)", default=0)
    service_fen = models.PositiveIntegerField("服务费(分)", default=0)
    idle_fen = models.PositiveIntegerField("占位费(分)", default=0)
    paid_fen = models.PositiveIntegerField("已付(分)", default=0)
    paid_at = models.DateTimeField("付款时间", null=True, blank=True)
    start_command = models.ForeignKey("iot.DeviceCommand", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    stop_command = models.ForeignKey("iot.DeviceCommand", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    objects = ScopedManager()

    class Meta:
        verbose_name = "充电记录"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["person", "id"]), models.Index(fields=["charger", "id"]), models.Index(fields=["status", "started_at"])]
        constraints = [
            models.UniqueConstraint(fields=["charger"], condition=Q(status="charging"), name="parking_one_open_charge"),
            models.CheckConstraint(condition=Q(status__in=_choices(ChargingStatus)), name="parking_charge_status_valid"),
            models.CheckConstraint(condition=Q(stopped_at__isnull=True) | Q(stopped_at__gte=F("started_at")), name="parking_charge_order"),
        ]

    @property
    def total_fen(self) -> int:
        return self.energy_fen + self.service_fen + self.idle_fen

    @property
    def due_fen(self) -> int:
        return max(0, self.total_fen - self.paid_fen) if self.status == ChargingStatus.COMPLETED else 0


class LedgerKind(models.TextChoices):
    CHARGE = "charge", _("用户付款")
    OWNER_CREDIT = "owner_credit", _("业主收入")
    PLATFORM_FEE = "platform_fee", _("平台/物业分成")


class LedgerEntry(models.Model):
    """Money of sharing and charging, append-only, integer fen (signed: a refund negates earlier rows).
    Each payment writes one row per kind under its ``payment_no``: charge (−, the payer), owner credit
    (+, the space owner; absent for chargers), platform fee (+). The rows of a payment sum to zero."""

    SCOPE_FIELD = "region"

    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="+", verbose_name="区域")
    booking = models.ForeignKey(ShareBooking, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger", verbose_name="车位预约")
    charging_session = models.ForeignKey("ChargingSession", on_delete=models.PROTECT, null=True, blank=True, related_name="ledger",
                                         verbose_name="充电记录")
    payment_no = models.PositiveSmallIntegerField("付款序号")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name="当事人")
    kind = models.CharField("类型", max_length=14, choices=LedgerKind.choices)
    amount_fen = models.IntegerField("金额(分)")
    created_at = models.DateTimeField("时间", auto_now_add=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "共享与充电账目"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["person", "kind"]), models.Index(fields=["region", "id"])]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=_choices(LedgerKind)), name="parking_ledger_kind_valid"),
            models.CheckConstraint(condition=Q(booking__isnull=False) ^ Q(charging_session__isnull=False), name="parking_ledger_one_subject"),
            models.UniqueConstraint(fields=["booking", "payment_no", "kind"], name="parking_ledger_booking_unique"),
            models.UniqueConstraint(fields=["charging_session", "payment_no", "kind"], name="parking_ledger_charging_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_fen}"
