"""Admin for the case loop's configuration data (categories, routing table, working calendar and its
years, the alarm → category mapping) —
every write audited. Cases themselves change only through the workflow services: read-only here."""

from __future__ import annotations

from django.contrib import admin
from unfold.admin import ModelAdmin

from linli.audit.services import record, snapshot

from .models import AlarmCategoryRule, CalendarYear, Case, Category, HolidayDay, RoutingRule


class _Audited(ModelAdmin):
    def save_model(self, request, obj, form, change):
        old = type(obj).objects.filter(pk=obj.pk).first() if change else None
        before = snapshot(old) if old is not None else None
        super().save_model(request, obj, form, change)
        record(actor=request.user, action=f"admin.{obj._meta.model_name}.{'update' if change else 'create'}", obj=obj,
               before=before, after=snapshot(obj))

    def delete_model(self, request, obj):
        before, pk = snapshot(obj), obj.pk
        super().delete_model(request, obj)
        record(actor=request.user, action=f"admin.{obj._meta.model_name}.delete",
               object_type=f"{obj._meta.app_label}.{obj._meta.model_name}", object_id=pk, before=before)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(Category)
class CategoryAdmin(_Audited):
    list_display = ["code", "name", "parent", "time_limit_hours", "priority", "working_hours", "is_urgent", "is_active"]
    list_filter = ["is_active", "is_urgent", "working_hours", "priority"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["parent"]


@admin.register(RoutingRule)
class RoutingRuleAdmin(_Audited):
    list_display = ["region", "category", "organisation", "time_limit_hours", "priority", "is_active"]
    list_filter = ["is_active", "category"]
    raw_id_fields = ["region", "organisation"]
    list_select_related = ["region", "category", "organisation"]


@admin.register(HolidayDay)
class HolidayDayAdmin(_Audited):
    list_display = ["date", "is_workday", "name", "source"]
    list_filter = ["is_workday", "source"]
    date_hierarchy = "date"


@admin.register(CalendarYear)
class CalendarYearAdmin(_Audited):
    list_display = ["year", "confirmed", "source", "updated_at"]
    list_filter = ["confirmed"]


@admin.register(AlarmCategoryRule)
class AlarmCategoryRuleAdmin(_Audited):
    list_display = ["device_category", "rule_code", "category", "note"]
    list_filter = ["device_category"]
    list_select_related = ["category"]


@admin.register(Case)
class CaseAdmin(ModelAdmin):
    list_display = ["number", "title", "category", "status", "region", "assigned_org", "due_at", "escalation_level"]
    list_filter = ["status", "channel", "escalation_level"]
    search_fields = ["number", "title"]
    list_select_related = ["category", "region", "assigned_org"]
    exclude = ["reporter_contact"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
