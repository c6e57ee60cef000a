"""事 Cases (C1–C4, L3): categories, the routing table, the working calendar, cases and their timeline.

One ``Case`` model serves every channel. Its ``region`` (a grid, or a community where no grid
covers the point) is the scope of every read. The SLA clock is stored as three instants computed at
intake — ``warn_at`` (80 %), ``due_at`` (100 %) and ``escalate2_at`` (2×) — so the sweep is three
indexed range queries over open cases, each guarded by a conditional UPDATE.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from linli.core.models import TimeStamped
from linli.core.pii import EncryptedTextField
from linli.core.scoping import ScopedManager


class Priority(models.TextChoices):
    LOW = "low", _("低")
    NORMAL = "normal", _("一般")
    HIGH = "high", _("紧急")
    URGENT = "urgent", _("特急")


class Category(TimeStamped):
    """事件分类 with its default time limit; a child inherits nothing implicitly — rules say so."""

    code = models.SlugField("分类代码", max_length=50, unique=True)
    name = models.CharField("分类名称", max_length=60)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children", verbose_name="上级分类")
    description = models.CharField("说明", max_length=300, blank=True)
    time_limit_hours = models.PositiveIntegerField("处置时限(小时)", default=72)
    priority = models.CharField("优先级", max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    working_hours = models.BooleanField("按工作时间计时", default=True, help_text="否则按自然小时计时")
    is_urgent = models.BooleanField("紧急通道", default=False, help_text="如设备告警、安全隐患，自然小时计时并优先处理")
    is_active = models.BooleanField("启用", default=True)
    sort = models.PositiveSmallIntegerField("排序", default=0)

    class Meta:
        verbose_name = "事件分类"
        verbose_name_plural = verbose_name
        ordering = ["sort", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(time_limit_hours__gt=0), name="case_category_time_limit_positive"),
            models.CheckConstraint(condition=Q(priority__in=[p.value for p in Priority]), name="case_category_priority_valid"),
            models.CheckConstraint(condition=~Q(parent=F("id")), name="case_category_not_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name

    def lineage_ids(self) -> list[int]:
        """This category's id, then its parent's, up to the root (most specific first)."""
        ids, node, seen = [], self, set()
        while node is not None and node.pk not in seen:
            ids.append(node.pk)
            seen.add(node.pk)
            node = node.parent
        return ids


class RoutingRule(TimeStamped):
    """One row of the routing table (C2): cases in ``region``'s subtree of ``category`` (or any
    category when empty) go to ``organisation``. The most specific region wins, then the most
    specific category (exact → parent → any)."""

    SCOPE_FIELD = "region"

    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="case_routing_rules", verbose_name="适用区域")
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, null=True, blank=True, related_name="routing_rules", verbose_name="事件分类", help_text="为空表示所有分类"
    )
    organisation = models.ForeignKey("orgs.Organisation", on_delete=models.PROTECT, related_name="case_routing_rules", verbose_name="责任单位")
    time_limit_hours = models.PositiveIntegerField("时限(小时，覆盖分类)", null=True, blank=True)
    priority = models.CharField("优先级(覆盖分类)", max_length=10, choices=Priority.choices, blank=True)
    note = models.CharField("备注", max_length=200, blank=True)
    is_active = models.BooleanField("启用", default=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "派单规则"
        verbose_name_plural = verbose_name
        constraints = [
            models.UniqueConstraint(fields=["region", "category"], condition=Q(category__isnull=False), name="case_routing_unique_region_category"),
            models.UniqueConstraint(fields=["region"], condition=Q(category__isnull=True), name="case_routing_unique_region_any"),
            models.CheckConstraint(condition=Q(time_limit_hours__isnull=True) | Q(time_limit_hours__gt=0), name="case_routing_time_limit_positive"),
            models.CheckConstraint(condition=Q(priority="") | Q(priority__in=[p.value for p in Priority]), name="case_routing_priority_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.region_id}/{self.category_id or '*'} → {self.organisation_id}"


class HolidayDay(models.Model):
    """A date whose working status differs from Mon–Fri: a public holiday (is_workday False) or an
    adjusted working day 调休 on a weekend (is_workday True). Data, editable; seeded per year."""

    date = models.DateField("日期", unique=True)
    is_workday = models.BooleanField("是否上班")
    name = models.CharField("名称", max_length=40, blank=True)
    source = models.CharField("来源", max_length=80, blank=True)

    class Meta:
        verbose_name = "节假日与调休"
        verbose_name_plural = verbose_name
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {'班' if self.is_workday else '休'} {self.name}"


class Channel(models.TextChoices):
    PORTAL = "portal", _("居民端")
    PATROL = "patrol", _("网格巡查")
    HOTLINE = "hotline", _("热线")
    IOT = "iot", _("物联感知")
    KIOSK = "kiosk", _("自助终端")
    API = "api", _("开放接口")
    OPEN311 = "open311", "Open311"


class Status(models.TextChoices):
    REPORTED = "reported", _("已上报")
    ACCEPTED = "accepted", _("已受理")
    DISPATCHED = "dispatched", _("已派单")
    IN_PROGRESS = "in_progress", _("处置中")
    RESOLVED = "resolved", _("已办结")
    VERIFIED = "verified", _("已核查")
    CLOSED = "closed", _("已结案")
    MERGED = "merged", _("已合并")


# The SLA clock runs in these states (a resolved case waits for verification, not for the handler).
OPEN_STATUSES = (Status.REPORTED, Status.ACCEPTED, Status.DISPATCHED, Status.IN_PROGRESS)
_OPEN = [s.value for s in OPEN_STATUSES]


class Case(TimeStamped):
    """事件/工单: one model for every channel (C1)."""

    SCOPE_FIELD = "region"

    number = models.CharField("工单号", max_length=20, unique=True)
    channel = models.CharField("来源渠道", max_length=10, choices=Channel.choices)
    # category, region, assigned_org and assigned_account are indexed by the composite indexes below
    # (leading column): no single-column FK index, one index less to maintain on every write.
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="cases", verbose_name="分类", db_index=False)
    title = models.CharField("标题", max_length=120)
    description = models.TextField("描述", blank=True)
    lat = models.FloatField("纬度", null=True, blank=True)
    lng = models.FloatField("经度", null=True, blank=True)
    address = models.CharField("地址", max_length=200, blank=True)
    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="cases", verbose_name="所属网格", db_index=False)
    house = models.ForeignKey("places.House", on_delete=models.SET_NULL, null=True, blank=True, related_name="cases", verbose_name="房屋")
    photos = models.JSONField("上报照片", default=list, blank=True)
    reporter_person = models.ForeignKey(
        "people.Person", on_delete=models.SET_NULL, null=True, blank=True, related_name="reported_cases", verbose_name="报告人"
    )
    reporter_account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="reported_cases", verbose_name="报告账号"
    )
    reporter_contact = EncryptedTextField("联系方式", blank=True)
    reporter_contact_masked = models.CharField("联系方式(脱敏)", max_length=40, blank=True)
    external_ref = models.CharField("外部编号", max_length=64, blank=True, help_text="来源系统的编号（设备告警、Open311、12345），同渠道唯一")
    intake_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="intake_cases", verbose_name="登记人"
    )
    status = models.CharField("状态", max_length=12, choices=Status.choices, default=Status.REPORTED)
    priority = models.CharField("优先级", max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    assigned_org = models.ForeignKey(
        "orgs.Organisation", on_delete=models.PROTECT, null=True, blank=True, related_name="assigned_cases", verbose_name="责任单位",
        db_index=False,
    )
    assigned_account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="assigned_cases", verbose_name="网格员/处置人",
        db_index=False,
    )
    co_handlers = models.ManyToManyField(
        "orgs.Organisation", through="CaseCoHandler", related_name="co_handled_cases", blank=True, verbose_name="协办单位"
    )
    routing_rule = models.ForeignKey(RoutingRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="命中规则")
    # SLA (C3)
    time_limit_hours = models.PositiveIntegerField("时限(小时)")
    working_hours = models.BooleanField("按工作时间计时", default=True)
    sla_started_at = models.DateTimeField("计时起点")
    warn_at = models.DateTimeField("预警时间(80%)")
    due_at = models.DateTimeField("办理时限")
    escalate2_at = models.DateTimeField("升级区县时间(2倍时限)")
    warned_at = models.DateTimeField("已预警", null=True, blank=True)
    escalation_level = models.PositiveSmallIntegerField("升级层级", default=0, help_text="0 未升级, 1 街道, 2 区县")
    escalated_at = models.DateTimeField("最近升级时间", null=True, blank=True)
    merged_into = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged_cases", verbose_name="合并至")
    event_seq = models.PositiveIntegerField("时间线序号", default=0)
    reopen_count = models.PositiveSmallIntegerField("重开次数", default=0)
    # state timestamps
    accepted_at = models.DateTimeField("受理时间", null=True, blank=True)
    dispatched_at = models.DateTimeField("派单时间", null=True, blank=True)
    started_at = models.DateTimeField("开始处置", null=True, blank=True)
    resolved_at = models.DateTimeField("办结时间", null=True, blank=True)
    verified_at = models.DateTimeField("核查时间", null=True, blank=True)
    closed_at = models.DateTimeField("结案时间", null=True, blank=True)
    reopened_at = models.DateTimeField("重开时间", null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "事件工单"
        verbose_name_plural = verbose_name
        indexes = [
            models.Index(fields=["status", "due_at"], name="case_status_due"),
            models.Index(fields=["region", "id"], name="case_region_id"),
            models.Index(fields=["assigned_org", "status"], name="case_org_status"),
            models.Index(fields=["assigned_account", "status"], name="case_account_status"),
            models.Index(fields=["category", "created_at"], name="case_category_created"),
            # "Same problem" detection at intake (C1): open cases of a category inside a small lat/lng box.
            models.Index(fields=["category", "lat", "lng"], name="case_open_category_lat", condition=Q(status__in=_OPEN)),
            # The sweep's three queries (C3): small partial indexes over open rows. Their predicates
            # name only ``status`` — never a column the sweep writes (warned_at, escalation_level,
            # escalated_at, event_seq) — so the sweep's UPDATE is a HOT update on PostgreSQL (no
            # entry in any of the table's indexes; the table keeps free room per page, fillfactor 85).
            models.Index(fields=["warn_at"], name="case_open_warn_at", condition=Q(status__in=_OPEN)),
            models.Index(fields=["due_at"], name="case_open_due_at", condition=Q(status__in=_OPEN)),
            models.Index(fields=["escalate2_at"], name="case_open_escalate2_at", condition=Q(status__in=_OPEN)),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=[s.value for s in Status]), name="case_status_valid"),
            models.CheckConstraint(condition=Q(channel__in=[c.value for c in Channel]), name="case_channel_valid"),
            models.UniqueConstraint(fields=["channel", "external_ref"], condition=~Q(external_ref=""), name="case_unique_external_ref"),
            models.CheckConstraint(condition=Q(priority__in=[p.value for p in Priority]), name="case_priority_valid"),
            models.CheckConstraint(condition=Q(escalation_level__lte=2), name="case_escalation_level_range"),
            models.CheckConstraint(condition=Q(time_limit_hours__gt=0), name="case_time_limit_positive"),
            models.CheckConstraint(
                condition=Q(warn_at__lte=F("due_at")) & Q(due_at__lte=F("escalate2_at")) & Q(sla_started_at__lte=F("warn_at")),
                name="case_sla_order",
            ),
            models.CheckConstraint(condition=(Q(lat__isnull=True) & Q(lng__isnull=True)) | (Q(lat__gte=-90, lat__lte=90) & Q(lng__gte=-180, lng__lte=180)), name="case_lat_lng_valid"),
            models.CheckConstraint(condition=Q(merged_into__isnull=True) | Q(status=Status.MERGED), name="case_merged_has_status"),
            models.CheckConstraint(condition=~Q(merged_into=F("id")), name="case_not_merged_into_self"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status in _OPEN


class CaseCoHandler(models.Model):
    """协办: an organisation helping with a case besides the responsible one (L3)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="co_handling", verbose_name="工单")
    organisation = models.ForeignKey("orgs.Organisation", on_delete=models.PROTECT, related_name="+", verbose_name="协办单位")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    note = models.CharField("协办要求", max_length=300, blank=True)
    added_at = models.DateTimeField("添加时间", auto_now_add=True)

    class Meta:
        verbose_name = "协办单位"
        verbose_name_plural = verbose_name
        constraints = [models.UniqueConstraint(fields=["case", "organisation"], name="case_cohandler_unique")]

    def __str__(self) -> str:
        return f"{self.case_id}+{self.organisation_id}"


class EventKind(models.TextChoices):
    CREATED = "created", _("上报")
    ACCEPTED = "accepted", _("受理")
    DISPATCHED = "dispatched", _("派单")
    STARTED = "started", _("开始处置")
    RESOLVED = "resolved", _("办结")
    VERIFIED = "verified", _("核查通过")
    CLOSED = "closed", _("结案")
    RETURNED = "returned", _("退回")
    REASSIGNED = "reassigned", _("改派")
    CO_HANDLE_ADDED = "co_handle_added", _("增加协办")
    TRANSFERRED = "transferred", _("转办")
    COMMENTED = "commented", _("留言")
    ESCALATED = "escalated", _("升级督办")
    WARNED = "warned", _("超时预警")
    MERGED = "merged", _("合并")
    REOPENED = "reopened", _("重开")
    RATED = "rated", _("评价")


class CaseEvent(models.Model):
    """One line of a case's timeline, numbered 1, 2, 3… per case. Never updated."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events", verbose_name="工单")
    seq = models.PositiveIntegerField("序号")
    kind = models.CharField("类型", max_length=20, choices=EventKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="操作人")
    from_status = models.CharField("原状态", max_length=12, blank=True)
    to_status = models.CharField("新状态", max_length=12, blank=True)
    organisation = models.ForeignKey(
        "orgs.Organisation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="相关单位"
    )
    note = models.TextField("说明", blank=True)
    photos = models.JSONField("照片", default=list, blank=True)
    data = models.JSONField("附加数据", default=dict, blank=True)
    created_at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = "工单时间线"
        verbose_name_plural = verbose_name
        ordering = ["case", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["case", "seq"], name="case_event_unique_seq"),
            models.CheckConstraint(condition=Q(kind__in=[k.value for k in EventKind]), name="case_event_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id}#{self.seq} {self.kind}"


class CaseRating(models.Model):
    """回访/满意度 (C4): one rating per case per round (a reopened case can be rated again)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="ratings", verbose_name="工单")
    round = models.PositiveSmallIntegerField("轮次", default=0, help_text="等于评价时的重开次数")
    score = models.PositiveSmallIntegerField("满意度(1-5)")
    comment = models.CharField("评价", max_length=500, blank=True)
    rated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    on_behalf = models.BooleanField("回访代录", default=False)
    organisation = models.ForeignKey(
        "orgs.Organisation", on_delete=models.SET_NULL, null=True, blank=True, related_name="case_ratings", verbose_name="被评价单位"
    )
    created_at = models.DateTimeField("评价时间", auto_now_add=True)

    class Meta:
        verbose_name = "满意度评价"
        verbose_name_plural = verbose_name
        constraints = [
            models.UniqueConstraint(fields=["case", "round"], name="case_rating_unique_round"),
            models.CheckConstraint(condition=Q(score__gte=1, score__lte=5), name="case_rating_score_range"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.score}"


class CaseCounter(models.Model):
    """Per-day sequence for case numbers (C + yyyymmdd + 0001); row-locked by the number service."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "工单号计数"

    def __str__(self) -> str:
        return f"{self.day}: {self.last}"


class NotificationKind(models.TextChoices):
    ASSIGNED = "assigned", _("新派单")
    WARNED = "warned", _("即将超时")
    ESCALATED = "escalated", _("超时升级")
    RETURNED = "returned", _("被退回")
    RESOLVED = "resolved", _("已办结")
    REOPENED = "reopened", _("被重开")
    COMMENTED = "commented", _("新留言")
    SUPERVISED = "supervised", _("督办")


class Notification(models.Model):
    """An in-app notice to one account; external channels (SMS/WeCom/email) deliver a copy.

    ``key`` makes notifications idempotent: the sweep's notices carry e.g. ``escalated:1`` and a
    unique constraint drops a second copy for the same recipient, case and key.
    """

    # recipient is indexed by notification_recipient_id (leading column): no single-column index to
    # maintain on the sweep's bulk inserts.
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", verbose_name="接收人",
                                  db_index=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications", verbose_name="工单")
    kind = models.CharField("类型", max_length=16, choices=NotificationKind.choices)
    key = models.CharField("去重键", max_length=40, blank=True)
    message = models.CharField("内容", max_length=300)
    created_at = models.DateTimeField("时间", auto_now_add=True)
    read_at = models.DateTimeField("已读时间", null=True, blank=True)
    delivered_at = models.DateTimeField("外部渠道投递时间", null=True, blank=True)

    class Meta:
        verbose_name = "通知"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["recipient", "id"], name="notification_recipient_id")]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "case", "key"], condition=~Q(key=""), name="notification_unique_key"),
            models.CheckConstraint(condition=Q(kind__in=[k.value for k in NotificationKind]), name="notification_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.message


class AlarmCategoryRule(TimeStamped):
    """IoT alarm → case category (C1), as data: an alarm of a device of ``device_category`` (the iot
    device-type category: smoke, gas, manhole_cover…), optionally only of rule ``rule_code``, becomes
    a case of ``category``. The rule-specific row wins over the device-category row; with no row the
    case is filed under ``iot-alarm`` (设备告警)."""

    device_category = models.CharField("设备类别", max_length=20, help_text="物联设备类型的类别代码，如 smoke、gas、manhole_cover")
    rule_code = models.SlugField("告警规则代码", max_length=50, blank=True, help_text="为空表示该类设备的所有规则")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="alarm_rules", verbose_name="事件分类")
    note = models.CharField("备注", max_length=200, blank=True)

    class Meta:
        verbose_name = "告警转事件分类"
        verbose_name_plural = verbose_name
        ordering = ["device_category", "rule_code"]
        constraints = [models.UniqueConstraint(fields=["device_category", "rule_code"], name="case_alarm_category_unique")]

    def __str__(self) -> str:
        return f"{self.device_category}/{self.rule_code or '*'} → {self.category_id}"


class AlarmCase(models.Model):
    """The link alarm ↔ case (C1 IoT channel): one case per alarm, enforced by the primary key.
    ``clear_handled_at`` is set once the alarm's clearing has been reflected on the case."""

    alarm = models.OneToOneField("iot.Alarm", on_delete=models.CASCADE, primary_key=True, related_name="case_link", verbose_name="告警")
    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="alarm_link", verbose_name="工单")
    created_at = models.DateTimeField("关联时间", auto_now_add=True)
    clear_handled_at = models.DateTimeField("告警恢复已处理", null=True, blank=True)

    class Meta:
        verbose_name = "告警工单关联"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["clear_handled_at"], name="case_alarmcase_pending_clear", condition=Q(clear_handled_at__isnull=True))]

    def __str__(self) -> str:
        return f"alarm {self.alarm_id} → case {self.case_id}"


class CalendarYear(models.Model):
    """Whether a year's working calendar is the official one (C2). ``confirmed`` is set when the
    State Council's schedule (holidays and 调休 working days) has been entered; until then deadlines
    in that year count Monday–Friday minus the statutory holidays entered, and say so."""

    year = models.PositiveSmallIntegerField("年份", primary_key=True)
    confirmed = models.BooleanField("已按国务院通知录入", default=False)
    source = models.CharField("来源", max_length=200, blank=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "工作日历年度"
        verbose_name_plural = verbose_name
        ordering = ["year"]
        constraints = [models.CheckConstraint(condition=Q(year__gte=2000, year__lte=2100), name="case_calendar_year_range")]

    def __str__(self) -> str:
        return f"{self.year} {'已确认' if self.confirmed else '待公布'}"


class ConfigVersion(models.Model):
    """Single row bumped by every write to categories, the routing table, the calendar and the alarm
    mapping: processes reload their in-process copy of that configuration when it changes."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="case_configversion_singleton")]

    def __str__(self) -> str:
        return f"v{self.version}"
