from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class TimeStamped(models.Model):
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        abstract = True


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("进行中")
    SUCCEEDED = "succeeded", _("已完成")
    FAILED = "failed", _("失败")


class Job(TimeStamped):
    """A long-running background job (import, export, bill run…) with progress and a result file.

    Only its actor can see it. Files live under MEDIA_ROOT/jobs/<id>/ and are served through a view
    that checks the actor, never as public media. ``processed`` is committed with each batch, so a
    re-run resumes after the last committed row; a finished job is never run again.
    """

    FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED)

    kind = models.CharField("类型", max_length=40, db_index=True)
    status = models.CharField("状态", max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs", verbose_name="发起人")
    params = models.JSONField("参数", default=dict, blank=True)
    input_file = models.CharField("输入文件", max_length=255, blank=True)
    input_name = models.CharField("原始文件名", max_length=255, blank=True)
    result_file = models.CharField("结果文件", max_length=255, blank=True)
    total = models.PositiveIntegerField("总行数", default=0)
    processed = models.PositiveIntegerField("已处理", default=0)
    succeeded = models.PositiveIntegerField("成功", default=0)
    failed = models.PositiveIntegerField("失败", default=0)
    error_code = models.CharField("错误代码", max_length=64, blank=True)
    error_message = models.CharField("错误信息", max_length=500, blank=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    finished_at = models.DateTimeField("结束时间", null=True, blank=True)

    class Meta:
        verbose_name = "后台任务"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["actor", "id"])]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=[s.value for s in JobStatus]), name="job_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}#{self.pk}"

    @property
    def percent(self) -> int:
        if self.status == JobStatus.SUCCEEDED:
            return 100
        if not self.total:
            return 0
        return min(100, int(self.processed * 100 / self.total))

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class JobError(models.Model):
    """One row-level problem of a job: row number (1 = header), column, machine code, message."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="errors", verbose_name="任务")
    row = models.PositiveIntegerField("行号")
    column = models.CharField("列", max_length=60, blank=True)
    code = models.CharField("错误代码", max_length=64)
    message = models.CharField("说明", max_length=500)

    class Meta:
        verbose_name = "任务错误"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["job", "row"])]

    def __str__(self) -> str:
        return f"{self.row}: {self.code}"


class ScheduleSlot(models.Model):
    """One enqueued run of a periodic task: ``slot`` is the interval number (epoch seconds // every).

    The unique (name, slot) key makes the scheduler idempotent: any number of scheduler processes,
    restarted at any time, enqueue each slot once. Rows older than a day are pruned."""

    name = models.CharField("计划任务", max_length=80)
    slot = models.BigIntegerField("时间片")
    slot_at = models.DateTimeField("时间片开始")
    task_path = models.CharField("任务", max_length=200)
    task_id = models.CharField("任务编号", max_length=64, blank=True)
    enqueued_at = models.DateTimeField("入队时间", auto_now_add=True)

    class Meta:
        verbose_name = "计划任务执行记录"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["slot_at"], name="core_scheduleslot_slot_at")]
        constraints = [models.UniqueConstraint(fields=["name", "slot"], name="core_scheduleslot_unique")]

    def __str__(self) -> str:
        return f"{self.name}#{self.slot}"
