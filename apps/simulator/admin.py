"""The simulator's settings (failure injection) and what it received: platform staff
only, since the simulator is one for every organisation."""

from django.contrib import admin

from apps.accounts.admin_scoping import PlatformOnlyAdminMixin

from .models import SimulatedMedia, SimulatedMessage, SimulatedRequest, SimulatedTemplate, SimulatorConfig


@admin.register(SimulatorConfig)
class SimulatorConfigAdmin(PlatformOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "__str__", "status_delay", "fail_code", "fail_count", "error_5xx_rate", "error_429_rate", "latency_ms",
    ]


@admin.register(SimulatedRequest)
class SimulatedRequestAdmin(PlatformOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "method", "path", "status_code"]
    readonly_fields = ["method", "path", "body", "status_code", "response", "created_at"]


@admin.register(SimulatedMessage)
class SimulatedMessageAdmin(PlatformOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "phone_number_id", "customer", "direction", "type", "status"]
    list_filter = ["direction", "type", "status"]


@admin.register(SimulatedMedia)
class SimulatedMediaAdmin(PlatformOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["media_id", "phone_number_id", "mime_type", "filename", "deleted"]
    exclude = ["content"]


@admin.register(SimulatedTemplate)
class SimulatedTemplateAdmin(PlatformOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["name", "language", "waba_id", "category", "status"]
