"""地 Places (P1–P4): administrative tree, estates › buildings › units › houses, facilities."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from treebeard.mp_tree import MP_Node, MP_NodeManager, MP_NodeQuerySet

from linli.core.models import TimeStamped
from linli.core.scoping import ScopedManager, ScopedQuerySet


class Level(models.TextChoices):
    CITY = "city", _("市")
    DISTRICT = "district", _("区县")
    STREET = "street", _("街道(镇)")
    COMMUNITY = "community", _("社区(村)")
    GRID = "grid", _("网格")


LEVEL_ORDER = [Level.CITY, Level.DISTRICT, Level.STREET, Level.COMMUNITY, Level.GRID]
# Official-style code lengths: 370100 city, 370102 district, 370102001 street (GB/T 10114 style),
# 370102001001 community (12-digit statistical division code), community code + 3 digits for grid.
CODE_LENGTH = {Level.CITY: 6, Level.DISTRICT: 6, Level.STREET: 9, Level.COMMUNITY: 12, Level.GRID: 15}



class RegionQuerySet(MP_NodeQuerySet, ScopedQuerySet):
    pass


class RegionManager(MP_NodeManager):
    def get_queryset(self):
        return RegionQuerySet(self.model, using=self._db).order_by("path")

    def for_actor(self, actor, perm: str):
        return self.get_queryset().for_actor(actor, perm)


class Region(MP_Node, TimeStamped):
    """One node of the administrative tree (P1). Scope of every role is a Region subtree."""

    SCOPE_FIELD = ""
    steplen = 4
    node_order_by = ["code"]

    level = models.CharField("层级", max_length=16, choices=Level.choices)
    code = models.CharField("区划代码", max_length=20, unique=True)
    name = models.CharField("名称", max_length=100)
    # GeoJSON geometry (Polygon / MultiPolygon, WGS84 lng/lat). Indexed in memory with STRtree (P4).
    boundary = models.JSONField("边界", null=True, blank=True)
    centroid_lat = models.FloatField("中心纬度", null=True, blank=True)
    centroid_lng = models.FloatField("中心经度", null=True, blank=True)
    area_km2 = models.FloatField("面积(平方公里)", null=True, blank=True)
    population_hint = models.PositiveIntegerField("户籍人口(统计)", null=True, blank=True)
    is_active = models.BooleanField("启用", default=True)

    objects = RegionManager()

    class Meta:
        verbose_name = "行政区域/网格"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["level", "path"])]
        constraints = [
            models.CheckConstraint(condition=Q(level__in=[lv.value for lv in Level]), name="region_level_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name}({self.code})"


class BoundaryVersion(models.Model):
    """Single row bumped whenever any boundary changes; processes rebuild their STRtree on change."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.PositiveBigIntegerField(default=0)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "边界版本"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="boundary_version_singleton")]

    def __str__(self) -> str:
        return f"v{self.version}"


class PropertyType(models.TextChoices):
    COMMODITY = "commodity", _("商品房")
    AFFORDABLE = "affordable", _("保障性住房")
    RESETTLEMENT = "resettlement", _("安置房")
    PUBLIC_RENTAL = "public_rental", _("公租房")
    SELF_BUILT = "self_built", _("自建房")
    COMMERCIAL = "commercial", _("商业用房")
    OTHER = "other", _("其他")


class Structure(models.TextChoices):
    FRAME = "frame", _("框架结构")
    SHEAR_WALL = "shear_wall", _("剪力墙结构")
    BRICK_CONCRETE = "brick_concrete", _("砖混结构")
    STEEL = "steel", _("钢结构")
    BRICK_WOOD = "brick_wood", _("砖木结构")
    OTHER = "other", _("其他")


class HouseUse(models.TextChoices):
    SELF_OCCUPIED = "self_occupied", _("自住")
    RENTED = "rented", _("出租")
    VACANT = "vacant", _("空置")
    COMMERCIAL = "commercial", _("经营")
    OTHER = "other", _("其他")


class Estate(TimeStamped):
    """小区 (P2). Belongs to a community; its grids are on buildings (an estate may span grids)."""

    SCOPE_FIELD = "region"

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="estates", verbose_name="所属社区")
    code = models.CharField("小区编码", max_length=32, unique=True)
    name = models.CharField("小区名称", max_length=100)
    address = models.CharField("地址", max_length=200)
    property_company = models.ForeignKey(
        "orgs.Organisation", on_delete=models.SET_NULL, null=True, blank=True, related_name="estates", verbose_name="物业公司"
    )
    built_year = models.PositiveSmallIntegerField("建成年份", null=True, blank=True)
    land_area_m2 = models.DecimalField("占地面积(㎡)", max_digits=12, decimal_places=2, null=True, blank=True)
    green_ratio = models.DecimalField("绿化率(%)", max_digits=5, decimal_places=2, null=True, blank=True)
    boundary = models.JSONField("边界", null=True, blank=True)
    lat = models.FloatField("纬度", null=True, blank=True)
    lng = models.FloatField("经度", null=True, blank=True)
    facilities = models.JSONField("小区配套设施", default=list, blank=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "小区"
        verbose_name_plural = verbose_name

    def __str__(self) -> str:
        return self.name


class Building(TimeStamped):
    SCOPE_FIELD = "region"

    estate = models.ForeignKey(Estate, on_delete=models.PROTECT, related_name="buildings", verbose_name="小区")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="buildings", verbose_name="所属网格")
    number = models.CharField("楼号", max_length=20)
    name = models.CharField("楼栋名称", max_length=50, blank=True)
    floors_above = models.PositiveSmallIntegerField("地上层数", default=6)
    floors_below = models.PositiveSmallIntegerField("地下层数", default=0)
    structure = models.CharField("建筑结构", max_length=20, choices=Structure.choices, default=Structure.BRICK_CONCRETE)
    built_year = models.PositiveSmallIntegerField("建成年份", null=True, blank=True)
    has_elevator = models.BooleanField("有电梯", default=False)
    lat = models.FloatField("纬度", null=True, blank=True)
    lng = models.FloatField("经度", null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "楼栋"
        verbose_name_plural = verbose_name
        constraints = [models.UniqueConstraint(fields=["estate", "number"], name="building_unique_number")]

    def __str__(self) -> str:
        return f"{self.estate.name}{self.number}号楼"


class Unit(TimeStamped):
    SCOPE_FIELD = "building__region"

    building = models.ForeignKey(Building, on_delete=models.PROTECT, related_name="units", verbose_name="楼栋")
    number = models.CharField("单元号", max_length=20)

    objects = ScopedManager()

    class Meta:
        verbose_name = "单元"
        verbose_name_plural = verbose_name
        constraints = [models.UniqueConstraint(fields=["building", "number"], name="unit_unique_number")]

    def __str__(self) -> str:
        return f"{self.number}单元"


class House(TimeStamped):
    """房屋 (P2, GD 6.1.1): address, property type, structure, house number, layout, area, photos."""

    SCOPE_FIELD = "region"

    building = models.ForeignKey(Building, on_delete=models.PROTECT, related_name="houses", verbose_name="楼栋")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="houses", null=True, blank=True, verbose_name="单元")
    # Denormalised from building for one-join scoping on large tables; kept in step by services.
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="houses", verbose_name="所属网格")
    number = models.CharField("门牌号/室号", max_length=20)
    floor = models.SmallIntegerField("楼层")
    address = models.CharField("房屋地址", max_length=200)
    property_type = models.CharField("房屋性质", max_length=20, choices=PropertyType.choices, default=PropertyType.COMMODITY)
    structure = models.CharField("房屋结构", max_length=20, choices=Structure.choices, default=Structure.BRICK_CONCRETE)
    layout = models.CharField("户型", max_length=30, blank=True, help_text="如 3室2厅1卫")
    floor_area_m2 = models.DecimalField("建筑面积(㎡)", max_digits=8, decimal_places=2, null=True, blank=True)
    exclusive_area_m2 = models.DecimalField("专有部分面积(㎡)", max_digits=8, decimal_places=2, null=True, blank=True)
    use = models.CharField("使用情况", max_length=20, choices=HouseUse.choices, default=HouseUse.SELF_OCCUPIED)
    photos = models.JSONField("房屋照片", default=list, blank=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "房屋"
        verbose_name_plural = verbose_name
        constraints = [
            models.UniqueConstraint(fields=["building", "unit", "number"], condition=Q(unit__isnull=False), name="house_unique_number_in_unit"),
            models.UniqueConstraint(fields=["building", "number"], condition=Q(unit__isnull=True), name="house_unique_number_no_unit"),
            models.CheckConstraint(condition=Q(floor_area_m2__isnull=True) | Q(floor_area_m2__gt=0), name="house_area_positive"),
            models.CheckConstraint(
                condition=Q(exclusive_area_m2__isnull=True) | Q(floor_area_m2__isnull=True) | Q(exclusive_area_m2__lte=models.F("floor_area_m2")),
                name="house_exclusive_le_floor_area",
            ),
        ]

    def __str__(self) -> str:
        return self.address


class FacilityKind(models.TextChoices):
    HEALTH = "health", _("卫生服务站")
    ELDERLY_CARE = "elderly_care", _("养老服务/日间照料")
    CHILDCARE = "childcare", _("托育/儿童之家")
    CULTURE = "culture", _("文化活动室")
    SPORTS = "sports", _("体育健身")
    LIBRARY = "library", _("图书室")
    CANTEEN = "canteen", _("长者食堂")
    PARTY_SERVICE = "party_service", _("党群服务中心")
    DISABILITY = "disability", _("残疾人康复")
    OTHER = "other", _("其他")


class Facility(TimeStamped):
    """公共服务设施 (P3) with capacity; coverage is computed against population groups."""

    SCOPE_FIELD = "region"

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="facilities", verbose_name="所属区域")
    estate = models.ForeignKey(Estate, on_delete=models.SET_NULL, null=True, blank=True, related_name="facility_set", verbose_name="所在小区")
    kind = models.CharField("类型", max_length=20, choices=FacilityKind.choices)
    name = models.CharField("名称", max_length=100)
    address = models.CharField("地址", max_length=200, blank=True)
    capacity = models.PositiveIntegerField("服务容量(人)")
    serves = models.JSONField("服务人群", default=list, blank=True, help_text="elderly / minor / disabled / all")
    opening_hours = models.CharField("开放时间", max_length=100, blank=True)
    phone = models.CharField("联系电话", max_length=30, blank=True)
    lat = models.FloatField("纬度", null=True, blank=True)
    lng = models.FloatField("经度", null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        verbose_name = "公共服务设施"
        verbose_name_plural = verbose_name

    def __str__(self) -> str:
        return self.name
