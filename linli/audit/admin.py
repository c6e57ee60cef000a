"""Admin (django-unfold) for the audit trail: read-only — no add, change or delete."""

from __future__ import annotations

from django.contrib import admin
from unfold.admin import ModelAdmin

from .models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(ModelAdmin):
    list_display = ["seq", "at", "actor_label", "action", "kind", "object_type", "object_id", "channel", "ip"]
    list_filter = ["kind", "channel"]
    search_fields = ["action", "actor_label", "object_type", "object_id"]
    ordering = ["-seq"]
    show_full_result_count = False
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
