from django.contrib import admin

from apps.core.admin import OrganizationScopedAdminMixin

from .models import MessageTemplate


@admin.register(MessageTemplate)
class MessageTemplateAdmin(OrganizationScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "language", "category", "status", "quality", "waba_id", "synced_at"]
    list_filter = ["status", "category", "language", "organization"]
    search_fields = ["name", "meta_id", "waba_id"]
    readonly_fields = ["meta_id", "quality", "rejection_reason", "synced_at", "updated_at"]
