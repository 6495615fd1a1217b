"""Admin: notification rules (an event type mapped to a template and its parameters)
and the notifications received."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _lazy

from apps.accounts.admin_scoping import OrganizationScopedAdminMixin, ReadOnlyAdminMixin

from . import selectors
from .forms import NotificationRuleForm
from .models import Notification, NotificationRule


@admin.register(NotificationRule)
class NotificationRuleAdmin(OrganizationScopedAdminMixin, admin.ModelAdmin):
    form = NotificationRuleForm
    list_display = ["event_type", "template", "number", "active"]
    list_filter = ["active", "organization"]
    search_fields = ["event_type", "template__name"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        # The mapping's selects offer the fields this user's events were seen with.
        return type(form.__name__, (form,), {"known_event_fields": selectors.event_fields_for_user(user=request.user)})


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, OrganizationScopedAdminMixin, admin.ModelAdmin):
    list_display = ["event_type", "idempotency_key", "phone", "outcome", "code", "created_at"]
    list_select_related = ["message"]

    @admin.display(description=_lazy("status"))
    def outcome(self, obj):
        from .serializers import NotificationSerializer

        return NotificationSerializer().get_status(obj)
    list_filter = ["status", "event_type", "organization"]
    search_fields = ["idempotency_key", "phone", "event_type"]
    readonly_fields = ["organization", "rule", "event_type", "idempotency_key", "phone", "payload", "message",
                       "status", "code", "reason", "created_by", "created_at"]
