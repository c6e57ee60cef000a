"""Admin (django-unfold) for organisations, accounts, roles and tokens. Writes made here are audited."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from unfold.admin import ModelAdmin, TabularInline
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm
from unfold.widgets import UnfoldAdminCheckboxSelectMultipleWidget

from linli.audit.services import record, snapshot

from . import perms as perms_module
from .models import Account, ApiToken, LoginAttempt, Organisation, Role, RoleAssignment
from .services import ACCOUNT_FIELDS

admin.site.unregister(Group)  # Linli's roles are data (Role), not Django groups.


class AuditedAdminMixin:
    """Every create/change/delete through the admin appends an audit entry (channel "admin")."""

    audit_fields: list[str] | None = None

    def save_model(self, request, obj, form, change):
        before = None
        if change:
            old = type(obj).objects.filter(pk=obj.pk).first()
            before = snapshot(old, self.audit_fields) if old is not None else None
        super().save_model(request, obj, form, change)
        action = f"admin.{obj._meta.model_name}.{'update' if change else 'create'}"
        record(actor=request.user, action=action, obj=obj, before=before, after=snapshot(obj, self.audit_fields))

    def delete_model(self, request, obj):
        before = snapshot(obj, self.audit_fields)
        pk = obj.pk
        super().delete_model(request, obj)
        record(actor=request.user, action=f"admin.{obj._meta.model_name}.delete",
               object_type=f"{obj._meta.app_label}.{obj._meta.model_name}", object_id=pk, before=before)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(Organisation)
class OrganisationAdmin(AuditedAdminMixin, ModelAdmin):
    list_display = ["name", "type", "region", "uscc", "is_active"]
    list_filter = ["type", "is_active"]
    search_fields = ["name", "short_name", "uscc"]
    raw_id_fields = ["region"]
    autocomplete_fields = ["parent"]
    list_select_related = ["region"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        uscc_field = form.base_fields.get("uscc")
        if uscc_field is not None:
            uscc_field.validators.append(_uscc_validator)
        return form


def _uscc_validator(value: str) -> None:
    from stdnum.cn import uscc
    from stdnum.exceptions import ValidationError as StdnumError

    if value:
        try:
            uscc.validate(value)
        except StdnumError as exc:
            raise forms.ValidationError("统一社会信用代码无效（GB 32100 校验未通过）") from exc


class RoleAssignmentInline(TabularInline):
    model = RoleAssignment
    fk_name = "account"
    extra = 0
    raw_id_fields = ["region", "granted_by"]
    fields = ["role", "region", "valid_until", "granted_by"]
    readonly_fields = ["granted_by"]


@admin.register(Account)
class AccountAdmin(AuditedAdminMixin, BaseUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    audit_fields = ACCOUNT_FIELDS
    list_display = ["username", "display_name", "kind", "organisation", "is_active", "is_superuser", "last_login"]
    list_filter = ["kind", "is_active", "is_superuser"]
    search_fields = ["username", "display_name"]
    autocomplete_fields = ["organisation"]
    raw_id_fields = ["person"]
    list_select_related = ["organisation"]
    inlines = [RoleAssignmentInline]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        ("资料", {"fields": ["kind", "display_name", "phone", "organisation", "person", "preferred_language"]}),
        ("状态", {"fields": ["is_active", "is_staff", "is_superuser"]}),
        ("时间", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["username", "kind", "display_name", "organisation", "password1", "password2"]}),
    ]
    readonly_fields = ["last_login", "date_joined"]
    filter_horizontal: list[str] = []

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []  # roles are granted once the account exists

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            before = snapshot(obj)
            pk, path = obj.pk, obj.region.path
            obj.delete()
            record(actor=request.user, action="admin.roleassignment.delete", object_type="orgs.roleassignment",
                   object_id=pk, before=before, region_path=path)
        for obj in instances:
            created = obj.pk is None
            if created:
                obj.granted_by = request.user
            obj.save()
            record(actor=request.user, action=f"admin.roleassignment.{'create' if created else 'update'}", obj=obj,
                   after=snapshot(obj) | {"permissions": obj.role.permissions}, region_path=obj.region.path)
        formset.save_m2m()


class RoleForm(forms.ModelForm):
    permissions = forms.MultipleChoiceField(
        label="权限", required=False, widget=UnfoldAdminCheckboxSelectMultipleWidget, choices=()
    )

    class Meta:
        model = Role
        fields = ["code", "name", "description", "permissions", "is_system"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = sorted(perms_module.PERM_LABELS.items())
        self.fields["permissions"].choices = [(k, f"{v}（{k}）") for k, v in choices]

    def clean_permissions(self):
        return sorted(set(self.cleaned_data["permissions"]))


@admin.register(Role)
class RoleAdmin(AuditedAdminMixin, ModelAdmin):
    form = RoleForm
    list_display = ["code", "name", "is_system", "permission_count"]
    search_fields = ["code", "name"]

    @admin.display(description="权限数")
    def permission_count(self, obj) -> int:
        return len(obj.permissions or [])


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(AuditedAdminMixin, ModelAdmin):
    list_display = ["account", "role", "region", "valid_until", "granted_by", "created_at"]
    list_filter = ["role"]
    search_fields = ["account__username", "account__display_name", "region__name"]
    raw_id_fields = ["account", "region", "granted_by"]
    list_select_related = ["account", "role", "region", "granted_by"]


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedAdminMixin, ModelAdmin):
    """Tokens are created through the API or console (the raw value is shown once); here: view, revoke."""

    audit_fields = ["account", "name", "prefix", "expires_at", "revoked_at"]
    list_display = ["name", "account", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    search_fields = ["name", "prefix", "account__username"]
    list_select_related = ["account"]
    fields = ["account", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    readonly_fields = ["account", "name", "prefix", "created_at", "last_used_at"]

    def has_add_permission(self, request):
        return False


@admin.register(LoginAttempt)
class LoginAttemptAdmin(ModelAdmin):
    list_display = ["username", "ip", "at", "succeeded"]
    list_filter = ["succeeded"]
    search_fields = ["username", "ip"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
