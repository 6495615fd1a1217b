"""What every admin page of customer data shares: rows scoped to the organisation.

Platform superusers (no organisation) see and change everything. An organisation's
admins (role admin, staff) see and change only their own organisation's rows: the
querysets, the choices of every foreign key and the organisation saved on a row
all come from the requesting user, never from the form.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.http import Http404

from apps.accounts import access
from apps.core import crypto


def _org_of(request):
    return request.user.organization_id


def _has_organization_field(model) -> bool:
    try:
        field = model._meta.get_field("organization")
    except Exception:
        return False
    return field.is_relation


class OrganizationScopedAdminMixin:
    """Put before `admin.ModelAdmin` (or `UserAdmin`) in the bases.

    `organization_lookup` reaches the organisation from the model ("organization" by
    default; "pk" for the Organization model itself).
    """

    organization_lookup = "organization"

    # --- who may use the page ---------------------------------------------------
    def _allowed(self, request) -> bool:
        return access.can_use_admin(request.user)

    def has_module_permission(self, request):
        return self._allowed(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request) and self._owns(request, obj)

    def has_add_permission(self, request):
        return self._allowed(request)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request) and self._owns(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request) and self._owns(request, obj)

    def is_platform(self, request) -> bool:
        return access.is_platform_admin(request.user)

    def _owns(self, request, obj) -> bool:
        if obj is None or self.is_platform(request):
            return True
        return self.get_queryset(request).filter(pk=obj.pk).exists()

    # --- what the page shows ----------------------------------------------------
    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if self.is_platform(request):
            return queryset
        if not access.can_use_admin(request.user):
            return queryset.none()
        return queryset.filter(**{self.organization_lookup: _org_of(request)})

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if not self.is_platform(request):
            filters = [f for f in filters if f != self.organization_lookup]
        return filters

    def _ensure_visible(self, request, object_id):
        # Another organisation's row is "not found", not a redirect that names it.
        if object_id is not None and self.get_object(request, unquote(object_id)) is None:
            raise Http404

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._ensure_visible(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        self._ensure_visible(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        self._ensure_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)

    # --- what the forms offer ---------------------------------------------------
    def _scope_choices(self, request, db_field, formfield):
        if formfield is None or self.is_platform(request) or not hasattr(formfield, "queryset"):
            return formfield
        related = db_field.remote_field.model
        org_id = _org_of(request)
        if related._meta.label == "accounts.Organization":
            formfield.queryset = related._default_manager.filter(pk=org_id)
            if db_field.name == "organization":
                formfield.required = True
                formfield.empty_label = None
                formfield.initial = org_id
        elif _has_organization_field(related):
            formfield.queryset = formfield.queryset.filter(organization_id=org_id)
        return formfield

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return self._scope_choices(request, db_field, super().formfield_for_foreignkey(db_field, request, **kwargs))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return self._scope_choices(request, db_field, super().formfield_for_manytomany(db_field, request, **kwargs))

    def save_model(self, request, obj, form, change):
        if not self.is_platform(request) and self.organization_lookup == "organization":
            obj.organization_id = _org_of(request)
        super().save_model(request, obj, form, change)


class ReadOnlyAdminMixin:
    """Rows written only by the product itself (messages, audit log): shown, never edited."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def masked(value) -> str:
    """A secret as admin pages may show it."""
    return crypto.mask(value)
