"""Admin (django-unfold) for people. ID numbers and phones are never shown or edited in clear here:
they appear masked, and changes to them go through the services (validation, blind index, audit)."""

from __future__ import annotations

from django.contrib import admin
from unfold.admin import ModelAdmin, TabularInline

from linli.core.pii import mask_id_number, mask_phone

from .models import Consent, Household, Person, Residency, SpecialGroupTag

_SECRET = ("id_number", "id_number_index", "phone", "phone_index")


@admin.display(description="证件号码")
def masked_id_number(obj: Person) -> str:
    return mask_id_number(obj.id_number)


@admin.display(description="电话")
def masked_phone(obj: Person) -> str:
    return mask_phone(obj.phone)


class ResidencyInline(TabularInline):
    model = Residency
    fk_name = "person"
    extra = 0
    fields = ("house", "relation", "move_in", "move_out", "is_actual")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Person)
class PersonAdmin(ModelAdmin):
    list_display = ("id", "name", "gender", "birth_date", masked_id_number, masked_phone, "region", "is_deceased")
    list_filter = ("gender", "id_type", "is_deceased")
    search_fields = ("name", "id_number_tail", "phone_tail")
    list_select_related = ("region",)
    raw_id_fields = ("region",)
    exclude = _SECRET
    readonly_fields = (masked_id_number, masked_phone, "id_type", "id_number_tail", "phone_tail", "gender", "birth_date",
                       "created_at", "updated_at")
    inlines = [ResidencyInline]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False  # registration goes through the console/API services (validation, blind index, audit)


@admin.register(Household)
class HouseholdAdmin(ModelAdmin):
    list_display = ("id", "name", "house", "head", "is_active")
    list_select_related = ("house", "head")
    raw_id_fields = ("house", "head")
    search_fields = ("name",)


@admin.register(Residency)
class ResidencyAdmin(ModelAdmin):
    list_display = ("id", "person", "house", "relation", "move_in", "move_out", "is_actual")
    list_filter = ("relation", "is_actual")
    list_select_related = ("person", "house")
    raw_id_fields = ("person", "house", "household")
    date_hierarchy = "move_in"
    show_full_result_count = False


@admin.register(SpecialGroupTag)
class SpecialGroupTagAdmin(ModelAdmin):
    list_display = ("id", "person", "group", "since", "until", "level")
    list_filter = ("group",)
    list_select_related = ("person",)
    raw_id_fields = ("person", "created_by")


@admin.register(Consent)
class ConsentAdmin(ModelAdmin):
    list_display = ("id", "person", "purpose", "granted_at", "withdrawn_at", "channel", "text_version")
    list_filter = ("purpose", "channel")
    list_select_related = ("person",)
    raw_id_fields = ("person",)
    readonly_fields = ("granted_at", "withdrawn_at")
