"""Admin: notification rules (an event type mapped to a template and its parameters)
and the notifications received."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from apps.accounts.admin_scoping import OrganizationScopedAdminMixin, ReadOnlyAdminMixin
from apps.message_templates.render import mapping_errors

from .models import Notification, NotificationRule


class NotificationRuleForm(forms.ModelForm):
    class Meta:
        model = NotificationRule
        fields = ["organization", "event_type", "number", "template", "parameter_mapping", "active"]

    def clean(self):
        data = super().clean()
        template, mapping = data.get("template"), data.get("parameter_mapping") or {}
        number = data.get("number")
        if template is not None:
            problems = mapping_errors(template, mapping)
            if problems:
                self.add_error("parameter_mapping", problems)
            if number is not None and number.waba_id and template.waba_id != number.waba_id:
                self.add_error("template", _("This template belongs to another WhatsApp Business Account than the "
                                             "number's."))
        return data


@admin.register(NotificationRule)
class NotificationRuleAdmin(OrganizationScopedAdminMixin, admin.ModelAdmin):
    form = NotificationRuleForm
    list_display = ["event_type", "template", "number", "active"]
    list_filter = ["active", "organization"]
    search_fields = ["event_type", "template__name"]


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
