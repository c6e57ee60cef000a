"""网格巡查 Grid patrols (C6): routes with ordered checkpoints, patrol tasks of grid workers, check-ins
with location and photos, and findings that became cases.

A route belongs to a grid (or a community); its region is the scope of every read. A task copies the
route's region (one join for scoping) and counts the checkpoints it must visit when it is planned,
so coverage stays true to the plan when the route is edited later. Checkpoints that already carry
check-ins are retired (``is_active`` False), never deleted, so the history keeps its places.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from linli.core.models import TimeStamped
from linli.core.scoping import ScopedManager

MIN_TOLERANCE_M, MAX_TOLERANCE_M = 5, 1000
LAT_LNG_VALID = Q(lat__gte=-90, lat__lte=90, lng__gte=-180, lng__lte=180)


class PatrolRoute(TimeStamped):
    """巡查路线: a named, ordered list of checkpoints in one grid (or community)."""

    SCOPE_FIELD = "region"

    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="patrol_routes", verbose_name="所属网格")
    name = models.CharField("路线名称", max_length=60)
    description = models.CharField("说明", max_length=300, blank=True)
    tolerance_m = models.PositiveIntegerField("默认打卡半径(米)", default=50, help_text="新点位的默认半径；自由打卡偏离路线超过此距离记为偏离")
    allow_repeat_checkins = models.BooleanField("允许同一点位重复打卡", default=False)
    is_active = models.BooleanField("启用", default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    objects = ScopedManager()

    class Meta:
        verbose_name = "巡查路线"
        verbose_name_plural = verbose_name
        constraints = [
            models.UniqueConstraint(fields=["region", "name"], name="patrol_route_unique_name"),
            models.CheckConstraint(condition=Q(tolerance_m__gte=MIN_TOLERANCE_M, tolerance_m__lte=MAX_TOLERANCE_M), name="patrol_route_tolerance_range"),
        ]

    def __str__(self) -> str:
        return self.name


class Checkpoint(models.Model):
    """巡查点位: one stop of a route, in order, with a tolerance radius; optionally a building or house."""

    route = models.ForeignKey(PatrolRoute, on_delete=models.CASCADE, related_name="checkpoints", verbose_name="路线")
    seq = models.PositiveSmallIntegerField("顺序")
    name = models.CharField("点位名称", max_length=60)
    lat = models.FloatField("纬度")
    lng = models.FloatField("经度")
    tolerance_m = models.PositiveIntegerField("打卡半径(米)", default=50)
    building = models.ForeignKey("places.Building", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="楼栋")
    house = models.ForeignKey("places.House", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="房屋")
    is_active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = "巡查点位"
        verbose_name_plural = verbose_name
        ordering = ["route", "seq", "id"]
        constraints = [
            models.UniqueConstraint(fields=["route", "seq"], condition=Q(is_active=True), name="patrol_checkpoint_unique_seq"),
            models.CheckConstraint(condition=LAT_LNG_VALID, name="patrol_checkpoint_lat_lng_valid"),
            models.CheckConstraint(condition=Q(tolerance_m__gte=MIN_TOLERANCE_M, tolerance_m__lte=MAX_TOLERANCE_M), name="patrol_checkpoint_tolerance_range"),
        ]

    def __str__(self) -> str:
        return f"{self.seq}. {self.name}"


class TaskStatus(models.TextChoices):
    PLANNED = "planned", _("待执行")
    IN_PROGRESS = "in_progress", _("巡查中")
    DONE = "done", _("已完成")
    MISSED = "missed", _("已漏巡")
    CANCELLED = "cancelled", _("已取消")


OPEN_TASK_STATUSES = [TaskStatus.PLANNED.value, TaskStatus.IN_PROGRESS.value]


class PatrolTask(TimeStamped):
    """巡查任务: one worker walks one route on one day inside a time window."""

    SCOPE_FIELD = "region"

    route = models.ForeignKey(PatrolRoute, on_delete=models.PROTECT, related_name="tasks", verbose_name="路线")
    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="patrol_tasks", verbose_name="所属网格")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="patrol_tasks", verbose_name="网格员")
    date = models.DateField("巡查日期")
    window_start = models.DateTimeField("开始时间")
    window_end = models.DateTimeField("截止时间")
    status = models.CharField("状态", max_length=12, choices=TaskStatus.choices, default=TaskStatus.PLANNED)
    started_at = models.DateTimeField("实际开始", null=True, blank=True)
    finished_at = models.DateTimeField("实际完成", null=True, blank=True)
    missed_at = models.DateTimeField("判定漏巡", null=True, blank=True)
    checkpoint_total = models.PositiveSmallIntegerField("应到点位数", default=0)
    visited_count = models.PositiveSmallIntegerField("已到点位数", default=0)
    note = models.CharField("完成说明", max_length=500, blank=True)
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="派发人")

    objects = ScopedManager()

    class Meta:
        verbose_name = "巡查任务"
        verbose_name_plural = verbose_name
        indexes = [
            models.Index(fields=["worker", "date"], name="patrol_task_worker_date"),
            models.Index(fields=["region", "date"], name="patrol_task_region_date"),
            models.Index(fields=["window_end"], name="patrol_task_sweep", condition=Q(status__in=OPEN_TASK_STATUSES)),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=[s.value for s in TaskStatus]), name="patrol_task_status_valid"),
            models.CheckConstraint(condition=Q(window_end__gt=F("window_start")), name="patrol_task_window_order"),
            models.CheckConstraint(condition=Q(visited_count__lte=F("checkpoint_total")), name="patrol_task_visited_le_total"),
            models.CheckConstraint(
                condition=Q(status__in=[TaskStatus.PLANNED, TaskStatus.CANCELLED, TaskStatus.MISSED]) | Q(started_at__isnull=False),
                name="patrol_task_started_when_begun",
            ),
            models.CheckConstraint(condition=~Q(status=TaskStatus.PLANNED) | Q(started_at__isnull=True), name="patrol_task_planned_not_started"),
            models.CheckConstraint(condition=~Q(status=TaskStatus.DONE) | Q(finished_at__isnull=False), name="patrol_task_done_has_finish"),
            models.CheckConstraint(condition=~Q(status=TaskStatus.MISSED) | Q(missed_at__isnull=False), name="patrol_task_missed_has_time"),
            # Recurring generation is idempotent: one task per route, worker and start time.
            models.UniqueConstraint(fields=["route", "worker", "window_start"], name="patrol_task_unique_slot"),
        ]

    def __str__(self) -> str:
        return f"{self.route_id}/{self.worker_id} {self.date}"

    @property
    def coverage(self) -> int | None:
        return round(100 * self.visited_count / self.checkpoint_total) if self.checkpoint_total else None


class CheckIn(models.Model):
    """打卡: a position (and photos) recorded during a task, at a checkpoint or at a free point.

    ``off_route`` is computed from the distance to the checkpoint (beyond its radius) or, for a free
    point, from the distance to the route's path. The first check-in at a checkpoint is unique per
    task; later ones (``is_repeat``) exist only on routes that allow them."""

    task = models.ForeignKey(PatrolTask, on_delete=models.PROTECT, related_name="checkins", verbose_name="任务")
    checkpoint = models.ForeignKey(Checkpoint, on_delete=models.PROTECT, null=True, blank=True, related_name="checkins", verbose_name="点位")
    lat = models.FloatField("纬度")
    lng = models.FloatField("经度")
    accuracy_m = models.FloatField("定位精度(米)", null=True, blank=True)
    distance_m = models.FloatField("距点位/路线(米)", null=True, blank=True)
    off_route = models.BooleanField("偏离路线", default=False)
    is_repeat = models.BooleanField("重复打卡", default=False)
    source = models.CharField("定位方式", max_length=10, default="gps", choices=[("gps", _("设备定位")), ("map", _("地图选点"))])
    photos = models.JSONField("现场照片", default=list, blank=True)
    note = models.CharField("备注", max_length=500, blank=True)
    at = models.DateTimeField("打卡时间")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = "巡查打卡"
        verbose_name_plural = verbose_name
        ordering = ["task", "at", "id"]
        indexes = [models.Index(fields=["task", "at"], name="patrol_checkin_task_at")]
        constraints = [
            models.UniqueConstraint(fields=["task", "checkpoint"], condition=Q(checkpoint__isnull=False, is_repeat=False), name="patrol_checkin_once_per_checkpoint"),
            models.CheckConstraint(condition=LAT_LNG_VALID, name="patrol_checkin_lat_lng_valid"),
            models.CheckConstraint(condition=Q(accuracy_m__isnull=True) | Q(accuracy_m__gte=0), name="patrol_checkin_accuracy_positive"),
            models.CheckConstraint(condition=Q(is_repeat=False) | Q(checkpoint__isnull=False), name="patrol_checkin_repeat_needs_checkpoint"),
            models.CheckConstraint(condition=Q(source__in=["gps", "map"]), name="patrol_checkin_source_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.task_id}@{self.at:%H:%M}"


class Finding(models.Model):
    """发现问题: what a worker found on patrol, linked to the case it became (or was added to)."""

    task = models.ForeignKey(PatrolTask, on_delete=models.PROTECT, related_name="findings", verbose_name="任务")
    checkin = models.ForeignKey(CheckIn, on_delete=models.PROTECT, null=True, blank=True, related_name="findings", verbose_name="打卡")
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="patrol_findings", verbose_name="事件工单")
    added_to_existing = models.BooleanField("补充到已有工单", default=False)
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField("上报时间", auto_now_add=True)

    class Meta:
        verbose_name = "巡查发现"
        verbose_name_plural = verbose_name
        constraints = [models.UniqueConstraint(fields=["task", "case"], name="patrol_finding_unique_case")]

    def __str__(self) -> str:
        return f"{self.task_id} → {self.case_id}"
