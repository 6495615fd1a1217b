from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from apps.accounts.admin_scoping import OrganizationScopedAdminMixin, ReadOnlyAdminMixin

from .models import AuditLogEntry, CannedResponse, Contact, Conversation, Label, Note


@admin.register(Contact)
class ContactAdmin(OrganizationScopedAdminMixin, admin.ModelAdmin):
    list_display = ["display_name", "phone", "wa_id", "organization", "opted_out", "marketing_opted_out", "created_at"]
    list_filter = ["opted_out", "marketing_opted_out", "organization"]
    search_fields = ["name", "profile_name", "phone", "wa_id"]
    readonly_fields = ["wa_id", "profile_name", "opted_out_at", "marketing_opted_out", "marketing_opted_out_at"]
    actions = ["delete_media_files"]

    @admin.action(description=_("Delete the contacts' media files (on their request)"))
    def delete_media_files(self, request, queryset):
        from django.core.exceptions import PermissionDenied

        from apps.media.services import contact_media_delete

        deleted = 0
        for contact in queryset:
            try:
                deleted += contact_media_delete(contact=contact, user=request.user)
            except PermissionDenied:
                self.message_user(
                    request, _("Only an admin of the contact's organisation may delete their files."), messages.ERROR
                )
                return
        self.message_user(request, _("%(count)d media files deleted.") % {"count": deleted}, messages.SUCCESS)


@admin.register(Label)
class LabelAdmin(OrganizationScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "color", "organization"]
    list_filter = ["organization"]
    search_fields = ["name"]


class NoteInline(admin.TabularInline):
    model = Note
    extra = 0
    fields = ["author", "body", "created_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Conversation)
class ConversationAdmin(OrganizationScopedAdminMixin, admin.ModelAdmin):
    list_display = ["id", "contact", "number", "status", "assignee", "team", "priority", "bot_active", "last_message_at"]
    list_filter = ["status", "priority", "bot_active", "organization", "number", "team", "labels"]
    search_fields = ["contact__name", "contact__profile_name", "contact__phone", "contact__wa_id"]
    list_select_related = ["contact", "number", "assignee", "team"]
    raw_id_fields = ["contact"]
    filter_horizontal = ["labels"]
    date_hierarchy = "last_message_at"
    readonly_fields = [
        "unread_count", "last_message_at", "last_message_preview", "last_customer_message_at",
        "first_response_at", "resolved_at", "created_at", "updated_at",
    ]
    inlines = [NoteInline]


@admin.register(Note)
class NoteAdmin(OrganizationScopedAdminMixin, admin.ModelAdmin):
    list_display = ["conversation", "author", "short_body", "created_at"]
    list_filter = ["organization"]
    search_fields = ["body"]
    raw_id_fields = ["conversation"]

    @admin.display(description=_("note"))
    def short_body(self, obj):
        return obj.body[:80]


@admin.register(CannedResponse)
class CannedResponseAdmin(OrganizationScopedAdminMixin, admin.ModelAdmin):
    list_display = ["shortcut", "short_body", "organization"]
    list_filter = ["organization"]
    search_fields = ["shortcut", "body"]

    @admin.display(description=_("text"))
    def short_body(self, obj):
        return obj.body[:80]


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(ReadOnlyAdminMixin, OrganizationScopedAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "action", "actor", "conversation", "organization"]
    list_filter = ["action", "organization"]
    search_fields = ["action", "actor__username"]
    list_select_related = ["actor", "conversation__contact", "organization"]
