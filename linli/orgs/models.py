"""组织 Organisations and platform access (O1, O2)."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from linli.core.models import TimeStamped
from linli.core.scoping import ScopedManager


class OrgType(models.TextChoices):
    DEPARTMENT = "department", _("政府部门")
    STREET_OFFICE = "street_office", _("街道办事处")
    COMMUNITY_COMMITTEE = "community_committee", _("社区居委会")
    PROPERTY_COMPANY = "property_company", _("物业服务企业")
    MERCHANT = "merchant", _("商户")
    SERVICE_PROVIDER = "service_provider", _("服务机构")
    VOLUNTEER_TEAM = "volunteer_team", _("志愿服务队")
    PARTY_BRANCH = "party_branch", _("党组织")
    SOCIAL_ORG = "social_org", _("社会组织")
    OWNERS_COMMITTEE = "owners_committee", _("业主委员会")


class Organisation(TimeStamped):
    """Any organisation of JN §5(1). ``region`` is where it sits; its staff's scope is set by roles."""

    SCOPE_FIELD = "region"

    type = models.CharField("类型", max_length=32, choices=OrgType.choices)
    name = models.CharField("名称", max_length=120)
    short_name = models.CharField("简称", max_length=40, blank=True)
    uscc = models.CharField("统一社会信用代码", max_length=18, blank=True, help_text="GB 32100")
    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="organisations", verbose_name="所在区域")
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children", verbose_name="上级组织")
    contact_name = models.CharField("联系人", max_length=50, blank=True)
    contact_phone = models.CharField("联系电话", max_length=30, blank=True)
    address = models.CharField("地址", max_length=200, blank=True)
    is_active = models.BooleanField("启用", default=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "组织"
        verbose_name_plural = verbose_name
        constraints = [
            models.UniqueConstraint(fields=["uscc"], condition=~Q(uscc=""), name="org_unique_uscc"),
            models.UniqueConstraint(fields=["region", "type", "name"], name="org_unique_name_in_region"),
        ]

    def __str__(self) -> str:
        return self.name


class AccountKind(models.TextChoices):
    STAFF = "staff", _("工作人员")
    RESIDENT = "resident", _("居民")
    SERVICE = "service", _("系统/设备服务账号")


class AccountManager(UserManager):
    pass


class Account(AbstractUser):
    """Login identity for staff, residents and service clients. A resident links to a Person."""

    kind = models.CharField("账号类型", max_length=16, choices=AccountKind.choices, default=AccountKind.STAFF)
    display_name = models.CharField("姓名/显示名", max_length=50, blank=True)
    phone = models.CharField("手机号", max_length=20, blank=True)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="accounts", verbose_name="所属组织"
    )
    person = models.OneToOneField(
        "people.Person", on_delete=models.SET_NULL, null=True, blank=True, related_name="account", verbose_name="对应人员"
    )
    preferred_language = models.CharField("界面语言", max_length=10, default="zh-hans")

    objects = AccountManager()

    class Meta:
        verbose_name = "账号"
        verbose_name_plural = verbose_name

    def __str__(self) -> str:
        return self.display_name or self.username

    # ---- scope (O2) ------------------------------------------------------------------------
    def scope_paths(self, perm: str) -> list[str] | None:
        """Region paths where this account holds ``perm``; None = everywhere (superuser)."""
        if not self.is_active:
            return []
        if self.is_superuser:
            return None
        cache = self.__dict__.setdefault("_scope_cache", {})
        if perm not in cache:
            grants = self.__dict__.get("_grants")
            if grants is None:  # one query per account instance (a request), whatever perms are asked
                from .selectors import grants_for_account  # local: avoid import cycle at model load

                grants = self.__dict__["_grants"] = grants_for_account(self)
            cache[perm] = [path for path, perms in grants if perm in perms]
        return cache[perm]

    def has_scoped_perm(self, perm: str) -> bool:
        paths = self.scope_paths(perm)
        return paths is None or bool(paths)


class Role(TimeStamped):
    """A role is data: a code, a name and a list of permission names (Perm values)."""

    code = models.SlugField("角色代码", max_length=50, unique=True)
    name = models.CharField("角色名称", max_length=50)
    description = models.CharField("说明", max_length=200, blank=True)
    permissions = models.JSONField("权限", default=list)
    is_system = models.BooleanField("系统内置", default=False)

    class Meta:
        verbose_name = "角色"
        verbose_name_plural = verbose_name

    def __str__(self) -> str:
        return self.name


class RoleAssignment(TimeStamped):
    """Account holds Role over the subtree rooted at ``region`` (a community worker: one community)."""

    SCOPE_FIELD = "region"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="role_assignments", verbose_name="账号")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="assignments", verbose_name="角色")
    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="role_assignments", verbose_name="管辖范围")
    granted_by = models.ForeignKey(Account, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="授权人")
    valid_until = models.DateTimeField("有效期至", null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "角色分配"
        verbose_name_plural = verbose_name
        constraints = [models.UniqueConstraint(fields=["account", "role", "region"], name="role_assignment_unique")]


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(TimeStamped):
    """Bearer token for the API. Only a SHA-256 hash is stored; the raw value is shown once."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_tokens", verbose_name="账号")
    name = models.CharField("名称", max_length=50)
    prefix = models.CharField("前缀", max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField("过期时间", null=True, blank=True)
    last_used_at = models.DateTimeField("最近使用", null=True, blank=True)
    revoked_at = models.DateTimeField("吊销时间", null=True, blank=True)

    class Meta:
        verbose_name = "API令牌"
        verbose_name_plural = verbose_name

    @staticmethod
    def generate() -> str:
        return "lk_" + secrets.token_urlsafe(32)

    @property
    def is_valid(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class LoginAttempt(models.Model):
    """Login throttling record (shared by all processes: the database is the source of truth)."""

    username = models.CharField(max_length=150, db_index=True)
    ip = models.CharField(max_length=64)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        verbose_name = "登录尝试"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["username", "at"]), models.Index(fields=["ip", "at"])]

    def __str__(self) -> str:
        return f"{self.username}@{self.ip} {'ok' if self.succeeded else 'failed'}"
