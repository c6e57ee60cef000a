from django.contrib import admin
from unfold.admin import ModelAdmin, TabularInline

from .models import CheckIn, Checkpoint, Finding, PatrolRoute, PatrolTask


class CheckpointInline(TabularInline):
    model = Checkpoint
    extra = 0
    fields = ["seq", "name", "lat", "lng", "tolerance_m", "is_active"]


@admin.register(PatrolRoute)
class PatrolRouteAdmin(ModelAdmin):
    list_display = ["name", "region", "tolerance_m", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    raw_id_fields = ["region", "created_by"]
    inlines = [CheckpointInline]


@admin.register(PatrolTask)
class PatrolTaskAdmin(ModelAdmin):
    list_display = ["id", "route", "worker", "date", "status", "visited_count", "checkpoint_total"]
    list_filter = ["status", "date"]
    raw_id_fields = ["route", "region", "worker", "assigned_by"]
    readonly_fields = ["started_at", "finished_at", "missed_at", "visited_count", "checkpoint_total"]


@admin.register(CheckIn)
class CheckInAdmin(ModelAdmin):
    list_display = ["id", "task", "checkpoint", "at", "off_route", "distance_m"]
    list_filter = ["off_route"]
    raw_id_fields = ["task", "checkpoint", "created_by"]


@admin.register(Finding)
class FindingAdmin(ModelAdmin):
    list_display = ["id", "task", "case", "added_to_existing", "created_at"]
    raw_id_fields = ["task", "checkin", "case", "reported_by"]
