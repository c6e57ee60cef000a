"""热线 Hotline (L1, GD 10.1.2): one row per call with the caller's number encrypted and blind-indexed,
the agent who took it, what the caller was matched to, the knowledge articles used and the case opened.

``region`` scopes the record for supervisors (hotline.view): the agent's intake area when the call
comes in, narrowed to the case's grid when a case is opened.

A callback (回拨, and 回访 — the satisfaction follow-up of a closed case) is an outgoing call row
recorded after the agent called: ``callback_of`` the original call, the same number, region and case,
its own ``callback_result`` (reached or not) instead of an ``outcome``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from linli.core.models import TimeStamped
from linli.core.pii import EncryptedTextField
from linli.core.scoping import ScopedManager


class Direction(models.TextChoices):
    INBOUND = "inbound", _("来电")
    OUTBOUND = "outbound", _("去电")


class Outcome(models.TextChoices):
    KB_ANSWER = "kb_answer", _("知识库答复")
    CASE_OPENED = "case_opened", _("已立案转办")
    TRANSFERRED = "transferred", _("转接其他热线/部门")
    ABANDONED = "abandoned", _("未接通/放弃")
    OTHER = "other", _("其他")


class CallbackResult(models.TextChoices):
    """How a callback went (回拨结果)."""

    CONNECTED = "connected", _("接通")
    NO_ANSWER = "no_answer", _("未接通（无人接听）")
    BUSY = "busy", _("占线")
    UNREACHABLE = "unreachable", _("关机/停机")
    WRONG_NUMBER = "wrong_number", _("号码错误")
    DECLINED = "declined", _("接通但拒绝回访")


REACHED = (CallbackResult.CONNECTED, CallbackResult.DECLINED)  # someone picked up


class CallCategory(models.TextChoices):
    """诉求类型 as the 12345 hotline classifies calls."""

    CONSULT = "consult", _("咨询")
    HELP = "help", _("求助")
    COMPLAINT = "complaint", _("投诉")
    REPORT = "report", _("举报")
    SUGGESTION = "suggestion", _("建议")
    PRAISE = "praise", _("表扬")
    OTHER = "other", _("其他")


class Call(TimeStamped):
    """来电记录. Open while ``ended_at`` is empty; ending it sets the outcome (never empty then)."""

    SCOPE_FIELD = "region"

    caller = EncryptedTextField("来电号码(密文)", blank=True, default="")
    caller_index = models.CharField("来电号码盲索引", max_length=40, blank=True, default="")
    caller_masked = models.CharField("来电号码(脱敏)", max_length=24, blank=True, default="")
    external_id = models.CharField("话务系统呼叫编号", max_length=64, blank=True, default="")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="hotline_calls", verbose_name="坐席")
    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="hotline_calls", verbose_name="所属区域")
    direction = models.CharField("方向", max_length=10, choices=Direction.choices, default=Direction.INBOUND)
    started_at = models.DateTimeField("来电时间")
    answered_at = models.DateTimeField("接听时间", null=True, blank=True)
    ended_at = models.DateTimeField("结束时间", null=True, blank=True)
    outcome = models.CharField("处理结果", max_length=12, choices=Outcome.choices, blank=True, default="")
    category = models.CharField("诉求类型", max_length=12, choices=CallCategory.choices, blank=True, default="")
    person = models.ForeignKey("people.Person", on_delete=models.SET_NULL, null=True, blank=True, related_name="hotline_calls",
                               verbose_name="来电人")
    case = models.ForeignKey("cases.Case", on_delete=models.SET_NULL, null=True, blank=True, related_name="hotline_calls",
                             verbose_name="工单")
    articles = models.ManyToManyField("knowledge.Article", through="CallArticle", related_name="+", blank=True, verbose_name="引用知识")
    notes = models.TextField("通话记录", blank=True, default="")
    callback_of = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="callbacks",
                                    verbose_name="回拨的原来电")
    callback_result = models.CharField("回拨结果", max_length=16, choices=CallbackResult.choices, blank=True, default="")

    objects = ScopedManager()

    class Meta:
        verbose_name = "来电记录"
        verbose_name_plural = verbose_name
        indexes = [
            models.Index(fields=["region", "id"]),
            models.Index(fields=["agent", "id"]),
            models.Index(fields=["caller_index", "id"]),
            models.Index(fields=["started_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(direction__in=[d.value for d in Direction]), name="hotline_call_direction_valid"),
            models.CheckConstraint(condition=Q(outcome="") | Q(outcome__in=[o.value for o in Outcome]), name="hotline_call_outcome_valid"),
            models.CheckConstraint(condition=Q(category="") | Q(category__in=[c.value for c in CallCategory]),
                                   name="hotline_call_category_valid"),
            # Ended ⇔ an outcome is recorded (a callback records its result instead).
            models.CheckConstraint(condition=Q(callback_of__isnull=False) | Q(ended_at__isnull=True, outcome="")
                                   | Q(ended_at__isnull=False) & ~Q(outcome=""), name="hotline_call_outcome_iff_ended"),
            # A callback is an outgoing, finished call with a result and no outcome; nothing else has a result.
            models.CheckConstraint(condition=Q(callback_of__isnull=True, callback_result="")
                                   | Q(callback_of__isnull=False, direction=Direction.OUTBOUND, ended_at__isnull=False, outcome="",
                                       callback_result__in=[r.value for r in CallbackResult]),
                                   name="hotline_call_callback_valid"),
            models.CheckConstraint(condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")), name="hotline_call_end_after_start"),
            models.CheckConstraint(condition=Q(answered_at__isnull=True) | Q(answered_at__gte=F("started_at")),
                                   name="hotline_call_answer_after_start"),
            models.CheckConstraint(condition=~Q(outcome=Outcome.CASE_OPENED) | Q(case__isnull=False), name="hotline_call_case_outcome_has_case"),
            models.UniqueConstraint(fields=["external_id"], condition=~Q(external_id=""), name="hotline_call_external_id_unique"),
            # One call opens a case; its callbacks carry the case too.
            models.UniqueConstraint(fields=["case"], condition=Q(case__isnull=False, callback_of__isnull=True),
                                    name="hotline_call_one_call_per_case"),
        ]

    def __str__(self) -> str:
        return f"来电#{self.pk} {self.caller_masked}"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None

    @property
    def is_callback(self) -> bool:
        return self.callback_of_id is not None


class CallArticle(models.Model):
    """A knowledge article the agent answered the caller with (用此答复)."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="article_uses", verbose_name="来电")
    article = models.ForeignKey("knowledge.Article", on_delete=models.PROTECT, related_name="hotline_uses", verbose_name="知识文章")
    article_version = models.PositiveIntegerField("文章版本")
    used_at = models.DateTimeField("引用时间")

    class Meta:
        verbose_name = "来电引用知识"
        verbose_name_plural = verbose_name
        constraints = [models.UniqueConstraint(fields=["call", "article"], name="hotline_callarticle_unique")]

    def __str__(self) -> str:
        return f"{self.call_id}→{self.article_id}"
