from django.contrib import admin

from apps.accounts.admin_scoping import OrganizationScopedAdminMixin, ReadOnlyAdminMixin

from .models import Message, PendingStatus, Reaction


class ReactionInline(admin.TabularInline):
    model = Reaction
    extra = 0
    fields = ["direction", "reactor", "emoji", "reacted_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Message)
class MessageAdmin(ReadOnlyAdminMixin, OrganizationScopedAdminMixin, admin.ModelAdmin):
    """Messages are written by the webhook and the send use-case only; admin shows them."""

    list_display = ["id", "timestamp", "direction", "type", "author_type", "status", "conversation", "wamid"]
    list_filter = ["direction", "type", "status", "author_type", "organization"]
    search_fields = ["wamid", "text"]
    date_hierarchy = "timestamp"
    raw_id_fields = ["conversation", "reply_to"]
    inlines = [ReactionInline]


@admin.register(Reaction)
class ReactionAdmin(ReadOnlyAdminMixin, OrganizationScopedAdminMixin, admin.ModelAdmin):
    list_display = ["target_wamid", "reactor", "emoji", "direction", "reacted_at"]
    list_filter = ["direction", "organization"]
    search_fields = ["target_wamid", "reactor"]


@admin.register(PendingStatus)
class PendingStatusAdmin(ReadOnlyAdminMixin, OrganizationScopedAdminMixin, admin.ModelAdmin):
    list_display = ["wamid", "status", "number", "received_at"]
    list_filter = ["status", "organization"]
    search_fields = ["wamid"]
