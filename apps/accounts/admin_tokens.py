"""API tokens in admin: issued here (the key shown once), listed and revoked.

An organisation's admins see and revoke the tokens of their organisation's users, and
issue tokens only for themselves: a token of a colleague would let them act through the
API as that colleague (another admin included), with the colleague's name on every
change. Platform superusers see all and issue for anyone. Rows are never changed or
deleted: a revoked token stays listed, with when it was last used.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework.authtoken.models import TokenProxy

from apps.accounts.admin_scoping import OrganizationScopedAdminMixin

from . import access, tokens
from .models import ApiToken

# DRF's clear-text tokens are no longer used to authenticate (see accounts.tokens).
if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)


def may_issue_token(actor, user) -> bool:
    """Platform staff issue a token for anyone; an organisation's admin (who may use
    admin) only for themselves."""
    if access.is_platform_admin(actor):
        return True
    return access.can_use_admin(actor) and user is not None and user.pk == actor.pk


class RevokedFilter(admin.SimpleListFilter):
    title = gettext_lazy("revoked")
    parameter_name = "revoked"

    def lookups(self, request, model_admin):
        return [("no", gettext_lazy("No")), ("yes", gettext_lazy("Yes"))]

    def queryset(self, request, queryset):
        if self.value() in ("no", "yes"):
            return queryset.filter(revoked_at__isnull=self.value() == "no")
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(OrganizationScopedAdminMixin, admin.ModelAdmin):
    organization_lookup = "user__organization"
    list_display = ["name", "prefix", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = [RevokedFilter]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["user", "name"]
        return ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name != "user" or formfield is None:
            return formfield
        formfield.help_text = gettext_lazy(
            "An organisation’s admin issues tokens only for themselves (a token acts as its user); platform "
            "staff issue tokens for anyone. Every token of the organisation’s users is listed and can be revoked."
        )
        if not self.is_platform(request):
            # Offering a colleague would let the admin act through the API as them.
            formfield.queryset = formfield.queryset.filter(pk=request.user.pk)
            formfield.initial = request.user.pk
            formfield.error_messages["invalid_choice"] = gettext_lazy(
                "An organisation’s admin issues API tokens only for themselves.")
        return formfield

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if not may_issue_token(request.user, form.cleaned_data["user"]):  # the form offers no other
            raise PermissionDenied
        token, key = tokens.token_issue(user=form.cleaned_data["user"], name=form.cleaned_data["name"])
        obj.pk, obj.prefix, obj.key_hash, obj.created_at = token.pk, token.prefix, token.key_hash, token.created_at
        messages.warning(request, _("The key of the token “%(name)s”, shown this once (copy it now): %(key)s")
                         % {"name": token.name, "key": key})

    @admin.action(description=gettext_lazy("Revoke the selected tokens"))
    def revoke(self, request, queryset):
        count = tokens.tokens_revoke(tokens=queryset)
        messages.success(request, _("%(count)d tokens revoked.") % {"count": count})
