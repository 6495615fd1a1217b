"""Admin of the inbound pipeline: the webhook log with replay, and account notices."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.accounts.admin_scoping import OrganizationScopedAdminMixin, ReadOnlyAdminMixin

from . import services
from .models import AccountEvent, WebhookEvent


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdminMixin, OrganizationScopedAdminMixin, admin.ModelAdmin):
    list_display = ["id", "received_at", "provider", "status", "signature", "number", "attempts", "short_reason"]
    list_filter = ["status", "signature", "provider", "organization"]
    search_fields = ["reason", "error"]
    date_hierarchy = "received_at"
    list_select_related = ["number"]
    actions = ["replay"]
    fields = ["provider", "organization", "number", "status", "signature", "attempts", "received_at",
              "processed_at", "reason", "error", "remote_addr", "headers", "decoded_body"]
    readonly_fields = fields

    @admin.display(description=_("reason"))
    def short_reason(self, obj):
        text = obj.error or obj.reason
        return text[:80] + ("…" if len(text) > 80 else "")

    @admin.display(description=_("body"))
    def decoded_body(self, obj):
        raw = bytes(obj.body or b"")
        text = raw.decode("utf-8", errors="replace")
        try:
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            pass
        return format_html('<pre style="white-space: pre-wrap; max-height: 40em; overflow: auto">{}</pre>', text)

    @admin.action(description=_("Replay the selected webhook events"))
    def replay(self, request, queryset):
        count = services.webhook_events_replay(events=queryset)
        self.message_user(
            request,
            ngettext("%(count)d event queued for processing.", "%(count)d events queued for processing.", count)
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(AccountEvent)
class AccountEventAdmin(ReadOnlyAdminMixin, OrganizationScopedAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "field", "event", "waba_id", "number", "organization"]
    list_filter = ["field", "event", "organization"]
    search_fields = ["waba_id", "event"]
    fields = ["organization", "number", "waba_id", "field", "event", "payload", "webhook_event", "created_at"]
    readonly_fields = fields
