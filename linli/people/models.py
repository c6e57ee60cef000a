"""人 People (H1–H3, H6 consents): persons, households, residency, special groups."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from linli.core.models import TimeStamped
from linli.core.pii import EncryptedTextField
from linli.core.scoping import ScopedManager
from linli.core.validators import IdType

# GB/T 3304 民族 codes (01–56) with names; 97 其他, 98 外国血统中国籍人士.
ETHNICITIES = [
    ("01", "汉族"), ("02", "蒙古族"), ("03", "回族"), ("04", "藏族"), ("05", "维吾尔族"), ("06", "苗族"),
    ("07", "彝族"), ("08", "壮族"), ("09", "布依族"), ("10", "朝鲜族"), ("11", "满族"), ("12", "侗族"),
    ("13", "瑶族"), ("14", "白族"), ("15", "土家族"), ("16", "哈尼族"), ("17", "哈萨克族"), ("18", "傣族"),
    ("19", "黎族"), ("20", "傈僳族"), ("21", "佤族"), ("22", "畲族"), ("23", "高山族"), ("24", "拉祜族"),
    ("25", "水族"), ("26", "东乡族"), ("27", "纳西族"), ("28", "景颇族"), ("29", "柯尔克孜族"), ("30", "土族"),
    ("31", "达斡尔族"), ("32", "仫佬族"), ("33", "羌族"), ("34", "布朗族"), ("35", "撒拉族"), ("36", "毛南族"),
    ("37", "仡佬族"), ("38", "锡伯族"), ("39", "阿昌族"), ("40", "普米族"), ("41", "塔吉克族"), ("42", "怒族"),
    ("43", "乌孜别克族"), ("44", "俄罗斯族"), ("45", "鄂温克族"), ("46", "德昂族"), ("47", "保安族"), ("48", "裕固族"),
    ("49", "京族"), ("50", "塔塔尔族"), ("51", "独龙族"), ("52", "鄂伦春族"), ("53", "赫哲族"), ("54", "门巴族"),
    ("55", "珞巴族"), ("56", "基诺族"), ("97", "其他"), ("98", "外国血统中国籍人士"),
]


class Gender(models.TextChoices):
    MALE = "M", _("男")
    FEMALE = "F", _("女")
    UNKNOWN = "U", _("未知")


class Person(TimeStamped):
    """人员 registry record (H1). Not an account. ID number and phone are encrypted with a blind index.

    ``region`` is the grid (or community) the person is managed under: the grid of their current
    home, or where they were registered. It is what scopes the record (O2).
    """

    SCOPE_FIELD = "region"

    name = models.CharField("姓名", max_length=60, db_index=True)
    gender = models.CharField("性别", max_length=1, choices=Gender.choices, default=Gender.UNKNOWN)
    birth_date = models.DateField("出生日期", null=True, blank=True, db_index=True)
    id_type = models.CharField("证件类型", max_length=24, choices=IdType.CHOICES, default=IdType.RESIDENT_ID)
    id_number = EncryptedTextField("证件号码(密文)")
    id_number_index = models.CharField("证件号盲索引", max_length=40, unique=True)
    id_number_tail = models.CharField("证件号后4位", max_length=4, db_index=True)
    phone = EncryptedTextField("电话(密文)", blank=True, default="")
    phone_index = models.CharField("电话盲索引", max_length=40, blank=True, default="", db_index=True)
    phone_tail = models.CharField("电话后4位", max_length=4, blank=True, default="")
    ethnicity = models.CharField("民族", max_length=2, choices=ETHNICITIES, default="01")
    hukou_place = models.CharField("户籍地", max_length=200, blank=True)
    hukou_region_code = models.CharField("户籍地区划代码", max_length=12, blank=True)
    nationality = models.CharField("国籍", max_length=3, default="CHN")
    occupation = models.CharField("职业", max_length=60, blank=True)
    employer = models.CharField("工作单位", max_length=120, blank=True)
    education = models.CharField("文化程度", max_length=20, blank=True)
    political_status = models.CharField("政治面貌", max_length=20, blank=True)
    marital_status = models.CharField("婚姻状况", max_length=10, blank=True)
    region = models.ForeignKey("places.Region", on_delete=models.PROTECT, related_name="persons", verbose_name="管理网格")
    is_deceased = models.BooleanField("已故", default=False)
    note = models.CharField("备注", max_length=300, blank=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "人员"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["region", "id"]), models.Index(fields=["name", "id"])]

    def __str__(self) -> str:
        return self.name


class Household(TimeStamped):
    """户: the people living together in one house (a house may hold several, e.g. shared rentals)."""

    SCOPE_FIELD = "house__region"

    house = models.ForeignKey("places.House", on_delete=models.PROTECT, related_name="households", verbose_name="房屋")
    head = models.ForeignKey(Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="headed_households", verbose_name="户主")
    name = models.CharField("户名", max_length=60, blank=True)
    is_active = models.BooleanField("在用", default=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "住户(户)"
        verbose_name_plural = verbose_name

    def __str__(self) -> str:
        return self.name or f"户#{self.pk}"


class Relation(models.TextChoices):
    OWNER = "owner", _("业主")
    FAMILY_MEMBER = "family_member", _("家庭成员")
    TENANT = "tenant", _("租户")
    OTHER = "other", _("其他")


class Residency(TimeStamped):
    """Person ↔ house with relation and move-in/out history (H2). Current = move_out is null."""

    SCOPE_FIELD = "house__region"

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="residencies", verbose_name="人员")
    house = models.ForeignKey("places.House", on_delete=models.PROTECT, related_name="residencies", verbose_name="房屋")
    household = models.ForeignKey(Household, on_delete=models.SET_NULL, null=True, blank=True, related_name="residencies", verbose_name="户")
    relation = models.CharField("关系", max_length=20, choices=Relation.choices)
    relation_to_head = models.CharField("与户主关系", max_length=20, blank=True)
    move_in = models.DateField("入住日期")
    move_out = models.DateField("迁出日期", null=True, blank=True)
    move_out_reason = models.CharField("迁出原因", max_length=100, blank=True)
    is_actual = models.BooleanField("实际居住", default=True, help_text="实住人口")
    lease_end = models.DateField("租期截止", null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "居住关系"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["house", "move_out"]), models.Index(fields=["person", "move_out"])]
        constraints = [
            models.UniqueConstraint(fields=["person", "house"], condition=Q(move_out__isnull=True), name="residency_one_current_per_house"),
            models.CheckConstraint(condition=Q(move_out__isnull=True) | Q(move_out__gte=models.F("move_in")), name="residency_move_out_after_in"),
            models.CheckConstraint(condition=Q(relation__in=[r.value for r in Relation]), name="residency_relation_valid"),
        ]


class SpecialGroup(models.TextChoices):
    ELDERLY_ALONE = "elderly_alone", _("独居老人")
    DISABLED = "disabled", _("残疾人")
    LOW_INCOME = "low_income", _("低保户")
    MINOR = "minor", _("未成年人")
    KEY_CARE = "key_care", _("重点关爱")


class SpecialGroupTag(TimeStamped):
    """Special-group membership (H3): only roles with SPECIAL_GROUP_VIEW see these."""

    SCOPE_FIELD = "person__region"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="special_tags", verbose_name="人员")
    group = models.CharField("类别", max_length=20, choices=SpecialGroup.choices)
    since = models.DateField("认定日期", null=True, blank=True)
    until = models.DateField("截止日期", null=True, blank=True)
    level = models.CharField("等级/程度", max_length=30, blank=True, help_text="如残疾等级")
    note = models.CharField("备注", max_length=200, blank=True)
    created_by = models.ForeignKey("orgs.Account", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    objects = ScopedManager()

    class Meta:
        verbose_name = "特殊人群标签"
        verbose_name_plural = verbose_name
        constraints = [models.UniqueConstraint(fields=["person", "group"], name="special_tag_unique")]


class ConsentPurpose(models.TextChoices):
    DATA_PROCESSING = "data_processing", _("个人信息处理(基本)")
    BIOMETRIC_FACE = "biometric_face", _("人脸信息(单独同意)")
    BIOMETRIC_FINGERPRINT = "biometric_fingerprint", _("指纹信息(单独同意)")
    LOCATION = "location", _("位置信息")
    HEALTH = "health", _("健康信息")
    MARKETING = "marketing", _("服务推送")


class Consent(TimeStamped):
    """Consent record (H6): granted / withdrawn, per purpose; biometrics need their own record."""

    SCOPE_FIELD = "person__region"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="consents", verbose_name="人员")
    purpose = models.CharField("用途", max_length=32, choices=ConsentPurpose.choices)
    granted_at = models.DateTimeField("同意时间")
    withdrawn_at = models.DateTimeField("撤回时间", null=True, blank=True)
    text_version = models.CharField("告知文本版本", max_length=20, default="2026-01")
    channel = models.CharField("渠道", max_length=20, default="portal")

    objects = ScopedManager()

    class Meta:
        verbose_name = "授权同意"
        verbose_name_plural = verbose_name
        constraints = [
            models.UniqueConstraint(fields=["person", "purpose"], condition=Q(withdrawn_at__isnull=True), name="consent_one_active_per_purpose"),
        ]
