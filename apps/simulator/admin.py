from django.contrib import admin

from .models import SimulatedMedia, SimulatedMessage, SimulatedRequest, SimulatedTemplate, SimulatorConfig


@admin.register(SimulatorConfig)
class SimulatorConfigAdmin(admin.ModelAdmin):
    list_display = ["__str__", "status_delay", "fail_code", "fail_count", "error_5xx_rate", "error_429_rate", "latency_ms"]


@admin.register(SimulatedRequest)
class SimulatedRequestAdmin(admin.ModelAdmin):
    list_display = ["created_at", "method", "path", "status_code"]
    readonly_fields = ["method", "path", "body", "status_code", "response", "created_at"]


@admin.register(SimulatedMessage)
class SimulatedMessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "phone_number_id", "customer", "direction", "type", "status"]
    list_filter = ["direction", "type", "status"]


@admin.register(SimulatedMedia)
class SimulatedMediaAdmin(admin.ModelAdmin):
    list_display = ["media_id", "phone_number_id", "mime_type", "filename", "deleted"]
    exclude = ["content"]


@admin.register(SimulatedTemplate)
class SimulatedTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "language", "waba_id", "category", "status"]
