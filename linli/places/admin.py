"""Admin (django-unfold) for places. Every save goes through the places services, so the admin gets
the same validation, scope checks and audit as the API; a rule broken shows as a form error.
Regions are created through the API, the console or GeoJSON import (the tree needs its parent)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from unfold.admin import ModelAdmin

from linli.core.errors import DomainError

from . import services as svc
from .models import BoundaryVersion, Building, Estate, Facility, House, Region, Unit


class ServiceAdmin(ModelAdmin):
    """ModelAdmin whose add/change call ``create_service`` / ``update_service`` (validated in clean)."""

    create_service: Any = None
    update_service: Any = None
    target_kw = ""
    fixed_on_change: tuple[str, ...] = ()

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), *(self.fixed_on_change if obj is not None else ())]

    def _call(self, request, obj, form):
        if obj is None:
            return self.create_service(actor=request.user, **form.cleaned_data)
        changes = {f: form.cleaned_data[f] for f in form.changed_data if f in form.cleaned_data}
        return self.update_service(actor=request.user, **{self.target_kw: obj}, **changes) if changes else obj

    def get_form(self, request, obj=None, change=False, **kwargs):
        base = super().get_form(request, obj, change=change, **kwargs)
        model_admin = self

        class ServiceForm(base):
            def clean(self):
                data = super().clean()
                if not self.errors:
                    try:
                        with transaction.atomic():  # dry run: the real call happens in save_model
                            model_admin._call(request, obj, self)
                            transaction.set_rollback(True)
                    except DomainError as exc:
                        raise ValidationError(f"{exc.message}（{exc.code}）") from exc
                return data

        return ServiceForm

    def save_model(self, request, obj, form, change):
        saved = self._call(request, obj if change else None, form)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def has_delete_permission(self, request, obj=None):
        return False  # places are referenced by people, cases and devices: deactivate instead


@admin.register(Region)
class RegionAdmin(ServiceAdmin):
    list_display = ["code", "name", "level", "depth", "area_km2", "population_hint", "is_active"]
    list_filter = ["level", "is_active"]
    search_fields = ["code", "name"]
    ordering = ["path"]
    fields = ["level", "code", "name", "population_hint", "is_active", "boundary", "centroid_lat", "centroid_lng", "area_km2", "path", "depth"]
    readonly_fields = ["level", "code", "centroid_lat", "centroid_lng", "area_km2", "path", "depth"]
    update_service = staticmethod(svc.region_update)
    target_kw = "region"

    def has_add_permission(self, request):
        return False


@admin.register(Estate)
class EstateAdmin(ServiceAdmin):
    list_display = ["code", "name", "region", "address", "property_company", "built_year"]
    list_filter = ["built_year"]
    search_fields = ["code", "name", "address"]
    list_select_related = ["region", "property_company"]
    autocomplete_fields = ["region"]
    fields = ["region", "code", "name", "address", "property_company", "built_year", "land_area_m2", "green_ratio", "boundary", "lat", "lng", "facilities"]
    fixed_on_change = ("region",)
    create_service = staticmethod(svc.estate_create)
    update_service = staticmethod(svc.estate_update)
    target_kw = "estate"


@admin.register(Building)
class BuildingAdmin(ServiceAdmin):
    list_display = ["__str__", "estate", "region", "floors_above", "floors_below", "structure", "has_elevator"]
    list_filter = ["structure", "has_elevator"]
    search_fields = ["number", "name", "estate__name"]
    list_select_related = ["estate", "region"]
    autocomplete_fields = ["estate", "region"]
    fields = ["estate", "region", "number", "name", "floors_above", "floors_below", "structure", "built_year", "has_elevator", "lat", "lng"]
    fixed_on_change = ("estate",)
    create_service = staticmethod(svc.building_create)
    update_service = staticmethod(svc.building_update)
    target_kw = "building"


@admin.register(Unit)
class UnitAdmin(ServiceAdmin):
    list_display = ["__str__", "building"]
    search_fields = ["number", "building__estate__name"]
    list_select_related = ["building__estate"]
    autocomplete_fields = ["building"]
    fields = ["building", "number"]
    fixed_on_change = ("building",)
    create_service = staticmethod(svc.unit_create)
    update_service = staticmethod(svc.unit_update)
    target_kw = "unit"


@admin.register(House)
class HouseAdmin(ServiceAdmin):
    list_display = ["address", "region", "floor", "property_type", "layout", "floor_area_m2", "use"]
    list_filter = ["property_type", "structure", "use"]
    search_fields = ["address", "number"]
    list_select_related = ["region"]
    autocomplete_fields = ["building", "unit"]
    fields = ["building", "unit", "number", "floor", "address", "property_type", "structure", "layout", "floor_area_m2",
              "exclusive_area_m2", "use", "photos"]
    fixed_on_change = ("building",)
    show_full_result_count = False
    create_service = staticmethod(svc.house_create)
    update_service = staticmethod(svc.house_update)
    target_kw = "house"


@admin.register(Facility)
class FacilityAdmin(ServiceAdmin):
    list_display = ["name", "kind", "region", "capacity", "opening_hours"]
    list_filter = ["kind"]
    search_fields = ["name", "address"]
    list_select_related = ["region"]
    autocomplete_fields = ["region", "estate"]
    fields = ["region", "estate", "kind", "name", "address", "capacity", "serves", "opening_hours", "phone", "lat", "lng"]
    fixed_on_change = ("region",)
    create_service = staticmethod(svc.facility_create)
    update_service = staticmethod(svc.facility_update)
    target_kw = "facility"


@admin.register(BoundaryVersion)
class BoundaryVersionAdmin(ModelAdmin):
    list_display = ["id", "version", "changed_at"]
    readonly_fields = ["id", "version", "changed_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
