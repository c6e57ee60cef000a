"""O3: append-only, hash-chained audit log of every write and every sensitive read."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class AuditError(Exception):
    pass


class AuditEntry(models.Model):
    """One link of the chain: hash = SHA-256(prev_hash + canonical JSON of this entry)."""

    seq = models.PositiveBigIntegerField("序号", unique=True)
    at = models.DateTimeField("时间", db_index=True)
    actor_id = models.BigIntegerField("操作人ID", null=True, blank=True, db_index=True)
    actor_label = models.CharField("操作人", max_length=150, blank=True)
    action = models.CharField("动作", max_length=64, db_index=True)
    kind = models.CharField("类型", max_length=8, choices=[("write", _("写入")), ("read", _("敏感读取")), ("auth", _("认证"))])
    object_type = models.CharField("对象类型", max_length=64, blank=True)
    object_id = models.CharField("对象ID", max_length=64, blank=True)
    region_path = models.CharField("区域路径", max_length=255, blank=True, db_index=True)
    ip = models.CharField("来源IP", max_length=64, blank=True)
    channel = models.CharField("渠道", max_length=16, blank=True)
    request_id = models.CharField(max_length=32, blank=True)
    before = models.JSONField("变更前", null=True, blank=True)
    after = models.JSONField("变更后", null=True, blank=True)
    detail = models.JSONField("说明", null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name = "审计记录"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["object_type", "object_id", "seq"])]
        constraints = [models.CheckConstraint(condition=Q(kind__in=["write", "read", "auth"]), name="audit_kind_valid")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.pop("_append", False):
            raise AuditError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditError("audit entries are append-only")


class AuditHead(models.Model):
    """Single row holding the chain head; locked (SELECT … FOR UPDATE) to serialise appends."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="audit_head_singleton")]

    def __str__(self) -> str:
        return f"head #{self.seq}"
