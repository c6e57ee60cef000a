"""门禁 Access control (A1–A5): gate groups and gates, credentials, rules, blocks, holidays,
the access log, visitors, the watch list and its alarms.

Who may pass is *derived*: estate gates for every current resident of the estate, building and unit
doors only for the residents of that building/unit (门禁联动), tenants until ``lease_end``, staff by
role (``AccessRule`` with a role). Rules add time windows; blocks and holidays narrow them. Every
write that changes a decision appends an ``AccessChange`` row (its id is the index version).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from linli.core.models import TimeStamped
from linli.core.pii import EncryptedTextField
from linli.core.scoping import ScopedManager


def _choices(c: type[models.TextChoices]) -> list[str]:
    return [v.value for v in c]


class GroupLevel(models.TextChoices):
    ESTATE = "estate", _("小区大门")
    BUILDING = "building", _("楼栋门")
    UNIT = "unit", _("单元门")


class GateGroup(TimeStamped):
    """A set of gates opened by the same rule (all main gates of an estate, one building's doors…)."""

    SCOPE_FIELD = "region"

    code = models.CharField("编码", max_length=40, unique=True)
    name = models.CharField("名称", max_length=100)
    level = models.CharField("层级", max_length=10, choices=GroupLevel.choices)
    estate = models.ForeignKey("places.Estate", on_delete=models.PROTECT, related_name="gate_groups", verbose_name="小区")
    building = models.ForeignKey("places.Building", on_delete=models.PROTECT, null=True, blank=True, related_name="gate_groups", verbose_name="楼栋")
    unit = models.ForeignKey("places.Unit", on_delete=models.PROTECT, null=True, blank=True, related_name="gate_groups", verbose_name="单元")
    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="gate_groups", verbose_name="所属区域")
    is_active = models.BooleanField("启用", default=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "门禁组"
        verbose_name_plural = verbose_name
        constraints = [
            models.CheckConstraint(condition=Q(level__in=_choices(GroupLevel)), name="access_group_level_valid"),
            models.CheckConstraint(
                condition=(Q(level="estate", building__isnull=True, unit__isnull=True)
                           | Q(level="building", building__isnull=False, unit__isnull=True)
                           | Q(level="unit", building__isnull=False, unit__isnull=False)),
                name="access_group_level_links",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class GateKind(models.TextChoices):
    DOOR = "door", _("门")
    BARRIER = "barrier", _("道闸")
    TURNSTILE = "turnstile", _("闸机")


class Gate(TimeStamped):
    """One controller at a door. It authenticates with a token kept only as SHA-256."""

    SCOPE_FIELD = "region"

    code = models.CharField("编码", max_length=40, unique=True)
    name = models.CharField("名称", max_length=100)
    group = models.ForeignKey(GateGroup, on_delete=models.PROTECT, related_name="gates", verbose_name="门禁组")
    kind = models.CharField("类型", max_length=10, choices=GateKind.choices, default=GateKind.DOOR)
    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="gates", verbose_name="所属区域")
    device_serial = models.CharField("设备序列号", max_length=64, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField("令牌前缀", max_length=12)
    mqtt_password_hash = models.CharField("MQTT密码哈希(Mosquitto)", max_length=200, blank=True, default="",
                                          help_text="The gate logs in to the broker with its code and its device token")
    allowlist_version = models.PositiveBigIntegerField("离线名单版本", default=0)
    allowlist_fetched_at = models.DateTimeField("离线名单下载时间", null=True, blank=True)
    is_active = models.BooleanField("启用", default=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "门禁点"
        verbose_name_plural = verbose_name
        constraints = [models.CheckConstraint(condition=Q(kind__in=_choices(GateKind)), name="access_gate_kind_valid")]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def generate_token() -> str:
        return "gt_" + secrets.token_urlsafe(24)


class CredentialKind(models.TextChoices):
    CARD = "card", _("IC卡")
    QR = "qr", _("二维码")
    FACE = "face", _("人脸")
    FINGERPRINT = "fingerprint", _("指纹")
    PIN = "pin", _("密码")


BIOMETRIC_KINDS = (CredentialKind.FACE, CredentialKind.FINGERPRINT)


class CredentialStatus(models.TextChoices):
    ACTIVE = "active", _("有效")
    SUSPENDED = "suspended", _("挂失/暂停")
    REVOKED = "revoked", _("已注销")


class Credential(TimeStamped):
    """A way through a gate, issued to a person (for a house, or as staff).

    Secrets are never stored: a card number becomes an HMAC blind index plus its last 4 digits, a PIN
    a keyed hash, a face or fingerprint only the reference id of the template held by the
    recognition engine. ``offline_tag`` is the keyed hash gate controllers match offline.
    """

    SCOPE_FIELD = "region"

    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="credentials", verbose_name="人员")
    house = models.ForeignKey("places.House", on_delete=models.PROTECT, null=True, blank=True, related_name="credentials", verbose_name="房屋")
    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="credentials", verbose_name="所属区域")
    kind = models.CharField("类型", max_length=12, choices=CredentialKind.choices)
    secret_index = models.CharField("凭证盲索引", max_length=64, blank=True, default="")
    secret_tail = models.CharField("卡号后4位", max_length=4, blank=True, default="")
    offline_tag = models.CharField("离线匹配标签", max_length=64, blank=True, default="")
    template_ref = models.CharField("生物特征模板引用", max_length=128, blank=True, default="")
    status = models.CharField("状态", max_length=10, choices=CredentialStatus.choices, default=CredentialStatus.ACTIVE)
    valid_from = models.DateTimeField("生效时间")
    valid_until = models.DateTimeField("失效时间", null=True, blank=True)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="发放人")
    status_reason = models.CharField("状态原因", max_length=200, blank=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "门禁凭证"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["person", "status"]), models.Index(fields=["region", "id"])]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=_choices(CredentialKind)), name="access_cred_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=_choices(CredentialStatus)), name="access_cred_status_valid"),
            models.CheckConstraint(condition=Q(kind="qr") | ~Q(secret_index=""), name="access_cred_secret_required"),
            models.CheckConstraint(condition=~Q(kind__in=["face", "fingerprint"]) | ~Q(template_ref=""), name="access_cred_bio_ref"),
            models.CheckConstraint(condition=Q(valid_until__isnull=True) | Q(valid_until__gt=models.F("valid_from")),
                                   name="access_cred_validity_order"),
            # A card number, PIN or template may be live on one credential only.
            models.UniqueConstraint(fields=["kind", "secret_index"], condition=~Q(status="revoked") & ~Q(secret_index=""),
                                    name="access_cred_secret_unique_live"),
            # One live QR entitlement per person and house.
            models.UniqueConstraint(fields=["person", "house"], condition=Q(kind="qr") & ~Q(status="revoked"),
                                    name="access_cred_one_qr_live"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}#{self.pk}"


class Audience(models.TextChoices):
    RESIDENTS = "residents", _("住户(含租户)")
    STAFF = "staff", _("工作人员(按角色)")


class AccessRule(TimeStamped):
    """Time window for an audience at a gate group, in Asia/Shanghai local time.

    ``weekdays`` is a bit mask: bit 0 Monday … bit 6 Sunday, bit 7 public holiday (a date listed in
    ``AccessHoliday`` uses bit 7 instead of its weekday). ``end_minute`` ≤ ``start_minute`` means the
    window runs past midnight. Residents without any rule for the group pass at all times; staff pass
    only through a rule naming one of their roles.
    """

    SCOPE_FIELD = "group__region"

    group = models.ForeignKey(GateGroup, on_delete=models.CASCADE, related_name="rules", verbose_name="门禁组")
    audience = models.CharField("适用人群", max_length=10, choices=Audience.choices)
    role = models.ForeignKey("orgs.Role", on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name="角色")
    weekdays = models.PositiveSmallIntegerField("星期掩码", default=0b1111111)
    start_minute = models.PositiveSmallIntegerField("开始(分钟)", default=0)
    end_minute = models.PositiveSmallIntegerField("结束(分钟)", default=1440)
    name = models.CharField("名称", max_length=100, blank=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "通行时段规则"
        verbose_name_plural = verbose_name
        constraints = [
            models.CheckConstraint(condition=Q(audience__in=_choices(Audience)), name="access_rule_audience_valid"),
            models.CheckConstraint(condition=Q(weekdays__gte=1, weekdays__lte=255), name="access_rule_weekdays_range"),
            models.CheckConstraint(condition=Q(start_minute__lte=1439, end_minute__lte=1440), name="access_rule_minutes_range"),
            models.CheckConstraint(condition=Q(audience="residents", role__isnull=True) | Q(audience="staff", role__isnull=False),
                                   name="access_rule_role_for_staff"),
        ]


class AccessHoliday(TimeStamped):
    """A public holiday for every gate group under ``region`` (rules then use the holiday bit)."""

    SCOPE_FIELD = "region"

    region = models.ForeignKey("places.Region", on_delete=models.CASCADE, related_name="access_holidays", verbose_name="区域")
    date = models.DateField("日期")
    name = models.CharField("名称", max_length=50)

    objects = ScopedManager()

    class Meta:
        verbose_name = "门禁节假日"
        verbose_name_plural = verbose_name
        constraints = [models.UniqueConstraint(fields=["region", "date"], name="access_holiday_unique")]


class AccessBlock(TimeStamped):
    """A temporary block: one person (everywhere in scope, or at one group) or a whole group."""

    SCOPE_FIELD = "region"

    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="access_blocks", verbose_name="区域")
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, null=True, blank=True, related_name="access_blocks", verbose_name="人员")
    group = models.ForeignKey(GateGroup, on_delete=models.CASCADE, null=True, blank=True, related_name="blocks", verbose_name="门禁组")
    starts_at = models.DateTimeField("开始")
    ends_at = models.DateTimeField("结束", null=True, blank=True)
    reason = models.CharField("原因", max_length=200)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    lifted_at = models.DateTimeField("解除时间", null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "临时禁行"
        verbose_name_plural = verbose_name
        constraints = [
            models.CheckConstraint(condition=Q(person__isnull=False) | Q(group__isnull=False), name="access_block_target"),
            models.CheckConstraint(condition=Q(ends_at__isnull=True) | Q(ends_at__gt=models.F("starts_at")), name="access_block_order"),
        ]


class AccessChange(models.Model):
    """Change log of everything a decision depends on; max(id) is the index version.

    ``entity`` names what to reload: credential, block, visitor (by id) or ``all`` (gates, groups,
    rules, holidays: rebuild)."""

    entity = models.CharField(max_length=12)
    entity_id = models.BigIntegerField(default=0)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "门禁变更"

    def __str__(self) -> str:
        return f"{self.entity}#{self.entity_id}@{self.pk}"


class Result(models.TextChoices):
    ALLOW = "allow", _("允许")
    DENY = "deny", _("拒绝")


class Source(models.TextChoices):
    ONLINE = "online", _("在线")
    OFFLINE = "offline", _("离线补传")


class AccessEvent(models.Model):
    """One decision at a gate (A5). ``event_uid`` dedupes offline uploads."""

    SCOPE_FIELD = "region"

    event_uid = models.CharField(max_length=64, unique=True)
    gate = models.ForeignKey(Gate, on_delete=models.PROTECT, related_name="events", verbose_name="门禁点")
    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="+", verbose_name="区域")
    credential_kind = models.CharField("凭证类型", max_length=12, choices=CredentialKind.choices)
    credential = models.ForeignKey(Credential, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=False)
    person = models.ForeignKey("people.Person", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=False)
    visitor_invite = models.ForeignKey("VisitorInvite", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=False)
    result = models.CharField("结果", max_length=5, choices=Result.choices)
    reason = models.CharField("原因", max_length=32)
    at = models.DateTimeField("时间")
    source = models.CharField("来源", max_length=8, choices=Source.choices, default=Source.ONLINE)

    objects = ScopedManager()

    class Meta:
        verbose_name = "通行记录"
        verbose_name_plural = verbose_name
        indexes = [
            models.Index(fields=["region", "id"]),
            models.Index(fields=["gate", "at"]),
            models.Index(fields=["person", "at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(result__in=_choices(Result)), name="access_event_result_valid"),
            models.CheckConstraint(condition=Q(source__in=_choices(Source)), name="access_event_source_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.gate_id} {self.result} {self.reason}"


class InviteStatus(models.TextChoices):
    PENDING = "pending", _("待确认")
    CONFIRMED = "confirmed", _("已确认")
    USED = "used", _("已使用")
    EXPIRED = "expired", _("已过期")
    DENIED = "denied", _("已拒绝")
    CANCELLED = "cancelled", _("已取消")


class VisitorInvite(TimeStamped):
    """A visit to a house (A4): invited by a resident, or registered at the gate with real-name ID."""

    SCOPE_FIELD = "region"

    host_person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="visitor_invites", verbose_name="被访人")
    host_account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    house = models.ForeignKey("places.House", on_delete=models.PROTECT, related_name="visitor_invites", verbose_name="被访房屋")
    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="+", verbose_name="区域")
    visitor_name = models.CharField("访客姓名", max_length=60)
    visitor_phone = EncryptedTextField("访客电话(密文)", blank=True, default="")
    visitor_phone_tail = models.CharField("电话后4位", max_length=4, blank=True, default="")
    visitor_id_index = models.CharField("证件号盲索引", max_length=40, blank=True, default="", db_index=True)
    visitor_id_tail = models.CharField("证件号后4位", max_length=4, blank=True, default="")
    plate = models.CharField("车牌", max_length=10, blank=True, default="")
    valid_from = models.DateTimeField("开始")
    valid_until = models.DateTimeField("结束")
    status = models.CharField("状态", max_length=10, choices=InviteStatus.choices, default=InviteStatus.PENDING)
    origin = models.CharField("来源", max_length=8, default="invite")  # invite / gate
    gate = models.ForeignKey(Gate, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="登记门岗")
    group_ids = models.JSONField("可通行门禁组", default=list, blank=True)
    watch_hit = models.ForeignKey("WatchListEntry", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    anonymised_at = models.DateTimeField("匿名化时间", null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "访客"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["region", "id"]), models.Index(fields=["host_person", "status"])]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=_choices(InviteStatus)), name="access_invite_status_valid"),
            models.CheckConstraint(condition=Q(valid_until__gt=models.F("valid_from")), name="access_invite_window_order"),
        ]


class WatchKind(models.TextChoices):
    PERSON = "person", _("人员")
    PLATE = "plate", _("车牌")


class WatchPolicy(models.TextChoices):
    DENY = "deny", _("禁止通行")
    ALLOW_AND_ALARM = "allow_and_alarm", _("放行并告警")


class WatchListEntry(TimeStamped):
    """A flagged person (by ID-number blind index) or plate, with the policy on a hit."""

    SCOPE_FIELD = "region"

    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="+", verbose_name="适用区域")
    kind = models.CharField("类型", max_length=8, choices=WatchKind.choices)
    id_number_index = models.CharField("证件号盲索引", max_length=40, blank=True, default="", db_index=True)
    id_number_tail = models.CharField("证件号后4位", max_length=4, blank=True, default="")
    plate = models.CharField("车牌", max_length=10, blank=True, default="", db_index=True)
    reason = models.CharField("原因", max_length=200)
    policy = models.CharField("策略", max_length=16, choices=WatchPolicy.choices, default=WatchPolicy.DENY)
    source = models.CharField("提供方", max_length=60, blank=True, help_text="公安/社区")
    is_active = models.BooleanField("有效", default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    objects = ScopedManager()

    class Meta:
        verbose_name = "黑名单/关注名单"
        verbose_name_plural = verbose_name
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=_choices(WatchKind)), name="access_watch_kind_valid"),
            models.CheckConstraint(condition=Q(policy__in=_choices(WatchPolicy)), name="access_watch_policy_valid"),
            models.CheckConstraint(condition=(Q(kind="person") & ~Q(id_number_index="") & Q(plate=""))
                                   | (Q(kind="plate") & ~Q(plate="") & Q(id_number_index="")), name="access_watch_target"),
        ]


class AccessAlarm(TimeStamped):
    """An alarm for the duty staff (watch-list hit). Handed to iot/cases when they take alarms."""

    SCOPE_FIELD = "region"

    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="+", verbose_name="区域")
    kind = models.CharField("类型", max_length=20, default="watch_list_hit")
    gate = models.ForeignKey(Gate, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    visitor_invite = models.ForeignKey(VisitorInvite, on_delete=models.SET_NULL, null=True, blank=True, related_name="alarms")
    watch_entry = models.ForeignKey(WatchListEntry, on_delete=models.SET_NULL, null=True, blank=True, related_name="alarms")
    policy = models.CharField("策略", max_length=16, choices=WatchPolicy.choices)
    message = models.CharField("说明", max_length=200)
    acknowledged_at = models.DateTimeField("确认时间", null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    objects = ScopedManager()

    class Meta:
        verbose_name = "门禁告警"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["region", "id"])]
