"""What every admin page of customer data shares: rows scoped to the organisation.

Platform superusers (no organisation) see and change everything. An organisation's
admins (role admin, staff) see and change only their own organisation's rows: the
querysets, the choices of every foreign key and many-to-many field (select, raw id,
autocomplete, inline), the values a query string may preset, the related list
filters and the organisation saved on a row all come from the requesting user,
never from the form.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import widgets
from django.contrib.admin.filters import AllValuesFieldListFilter, RelatedFieldListFilter, RelatedOnlyFieldListFilter
from django.contrib.admin.utils import get_model_from_relation, unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Prefetch
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


def organization_rows(queryset, organization_id, admin_site=None):
    """`queryset` narrowed to organisation `organization_id`'s rows, or None when its
    model holds no organisation's data (permissions, groups)."""
    model = queryset.model
    if model._meta.label == "accounts.Organization":
        return queryset.filter(pk=organization_id)
    if _has_organization_field(model):
        return queryset.filter(organization_id=organization_id)
    model_admin = (admin_site or admin.site)._registry.get(model)
    if isinstance(model_admin, OrganizationScopedAdminMixin):
        return queryset.filter(**{model_admin.organization_lookup: organization_id})
    return None


def _foreign_keys(model):
    return [f for f in model._meta.concrete_fields if f.is_relation and (f.many_to_one or f.one_to_one)]


def hide_foreign_relations(rows, organization_id, admin_site=None) -> None:
    """On these rows, forget the related row of a foreign key that belongs to another
    organisation, so that pages show "-" rather than its name (the stored id is kept).

    Rows of an organisation point only to its own rows when every writer keeps the
    rule; this keeps read-only fields and list columns from naming another
    organisation's row when one did not. One query per foreign key."""
    rows = list(rows)
    if not rows:
        return
    for field in _foreign_keys(type(rows[0])):
        ids = {getattr(row, field.attname) for row in rows} - {None}
        if not ids:
            continue
        related = organization_rows(field.related_model._default_manager.all(), organization_id, admin_site)
        if related is None:
            continue
        key = field.target_field.attname
        own = set(related.filter(**{f"{key}__in": ids}).values_list(key, flat=True))
        for row in rows:
            if getattr(row, field.attname) not in own | {None}:
                field.set_cached_value(row, None)


class ScopedForeignKeyRawIdWidget(widgets.ForeignKeyRawIdWidget):
    """Names the chosen row only when it is one of the field's choices: Django's widget
    looks up whatever id the form holds (a query string's, a refused POST's), in every
    organisation, and prints its name next to the box."""

    def __init__(self, rel, admin_site, queryset, attrs=None, using=None):
        self.queryset = queryset
        super().__init__(rel, admin_site, attrs, using)

    def label_and_url_for_value(self, value):
        key = self.rel.get_related_field().name
        try:
            if not self.queryset.filter(**{key: value}).exists():
                return "", ""
        except (ValueError, TypeError, ValidationError):
            return "", ""
        return super().label_and_url_for_value(value)


def scope_formfield(request, db_field, formfield, admin_site=None):
    """The form field of a relation with only the requesting organisation's rows to
    choose from (a platform admin's form is left whole)."""
    if formfield is None or access.is_platform_admin(request.user) or not hasattr(formfield, "queryset"):
        return formfield
    org_id = _org_of(request)
    related = db_field.remote_field.model
    rows = organization_rows(formfield.queryset, org_id, admin_site)
    if rows is None:
        return formfield
    formfield.queryset = rows
    if related._meta.label == "accounts.Organization" and db_field.name == "organization":
        formfield.required = True
        formfield.empty_label = None
        formfield.initial = org_id
    widget = formfield.widget
    if type(widget) is widgets.ForeignKeyRawIdWidget:
        formfield.widget = ScopedForeignKeyRawIdWidget(
            widget.rel, widget.admin_site, rows, attrs=widget.attrs, using=widget.db
        )
    return formfield


class OrganizationScopedChangeList(ChangeList):
    """The list filters' choices, like the rows, of the requesting organisation only:
    Django lists every row of a related model, and every value of a field reached
    through a relation."""

    def get_filters(self, request):
        result = super().get_filters(request)
        model_admin = self.model_admin
        if access.is_platform_admin(request.user):
            return result
        org_id = _org_of(request)
        for spec in result[0]:
            if isinstance(spec, RelatedOnlyFieldListFilter):
                continue  # already only values of the (scoped) rows
            if isinstance(spec, RelatedFieldListFilter):
                related = get_model_from_relation(spec.field)
                rows = organization_rows(related._default_manager.all(), org_id, model_admin.admin_site)
                if rows is not None:
                    spec.lookup_choices = spec.field.get_choices(
                        include_blank=False,
                        ordering=spec.field_admin_ordering(spec.field, request, model_admin),
                        limit_choices_to={"pk__in": rows.values("pk")},
                    )
            elif isinstance(spec, AllValuesFieldListFilter):
                spec.lookup_choices = (
                    model_admin.get_queryset(request).distinct().order_by(spec.field_path)
                    .values_list(spec.field_path, flat=True)
                )
        return result

    def get_results(self, request):
        super().get_results(request)
        if not access.is_platform_admin(request.user):
            # Evaluated here, the page's rows are the ones the columns then render.
            hide_foreign_relations(self.result_list, _org_of(request), self.model_admin.admin_site)


class ScopedFormFieldsMixin:
    """Relation fields of a form offer only the organisation's rows (scope_formfield),
    for model admins and inlines alike."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        return scope_formfield(request, db_field, formfield, self.admin_site)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        formfield = super().formfield_for_manytomany(db_field, request, **kwargs)
        return scope_formfield(request, db_field, formfield, self.admin_site)


class OrganizationScopedInlineMixin(ScopedFormFieldsMixin):
    """Put before the inline's base class; `OrganizationScopedAdminMixin` adds it to
    every inline of its pages that lacks it. Permissions stay the inline's own."""

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if access.is_platform_admin(request.user):
            return queryset
        if not access.can_use_admin(request.user):
            return queryset.none()
        rows = organization_rows(queryset, _org_of(request), self.admin_site)
        queryset = queryset if rows is None else rows
        # A related row of another organisation is read as none (hide_foreign_relations).
        prefetches = []
        for field in _foreign_keys(self.model):
            related = organization_rows(field.related_model._default_manager.all(), _org_of(request), self.admin_site)
            if related is not None and field.related_model is not self.parent_model:
                prefetches.append(Prefetch(field.name, queryset=related))
        return queryset.prefetch_related(*prefetches)



_scoped_inlines: dict[type, type] = {}


def scoped_inline(inline_class: type) -> type:
    if issubclass(inline_class, OrganizationScopedInlineMixin):
        return inline_class
    if inline_class not in _scoped_inlines:
        _scoped_inlines[inline_class] = type(
            inline_class.__name__, (OrganizationScopedInlineMixin, inline_class),
            {"__module__": inline_class.__module__, "__qualname__": inline_class.__qualname__},
        )
    return _scoped_inlines[inline_class]


class OrganizationScopedAdminMixin(ScopedFormFieldsMixin):
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

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None and not self.is_platform(request):
            hide_foreign_relations([obj], _org_of(request), self.admin_site)
        return obj

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

    def get_changelist(self, request, **kwargs):
        return OrganizationScopedChangeList

    def get_inlines(self, request, obj):
        return [scoped_inline(inline) for inline in super().get_inlines(request, obj)]

    # --- what the forms offer ---------------------------------------------------

    def get_changeform_initial_data(self, request):
        """The add form's values from the query string (?contact=<id>), keeping of a
        relation only the ids of the organisation's rows."""
        initial = super().get_changeform_initial_data(request)
        if self.is_platform(request):
            return initial
        for name in list(initial):
            try:
                field = self.model._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            if not (field.is_relation and field.concrete):
                continue
            rows = organization_rows(field.related_model._default_manager.all(), _org_of(request), self.admin_site)
            if rows is None:
                continue
            key = field.target_field.name if not field.many_to_many else "pk"
            values = initial[name] if isinstance(initial[name], list) else [initial[name]]
            try:
                known = {str(v) for v in rows.filter(**{f"{key}__in": values}).values_list(key, flat=True)}
            except (ValueError, TypeError, ValidationError):
                known = set()
            kept = [value for value in values if str(value) in known]
            if field.many_to_many:
                initial[name] = kept
            elif kept:
                initial[name] = kept[0]
            else:
                del initial[name]
        return initial

    def save_model(self, request, obj, form, change):
        if not self.is_platform(request) and self.organization_lookup == "organization":
            obj.organization_id = _org_of(request)
        super().save_model(request, obj, form, change)


class PlatformOnlyAdminMixin:
    """Pages of the platform itself (the simulator's settings and traffic, which span
    every organisation): platform superusers only, whatever Django permissions an
    organisation's admin was given."""

    def has_module_permission(self, request):
        return access.is_platform_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return access.is_platform_admin(request.user)

    def has_add_permission(self, request, *args):
        return access.is_platform_admin(request.user)

    def has_change_permission(self, request, obj=None):
        return access.is_platform_admin(request.user)

    def has_delete_permission(self, request, obj=None):
        return access.is_platform_admin(request.user)


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
