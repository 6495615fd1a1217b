from django.contrib import admin

from apps.core.admin import OrganizationScopedAdminMixin, ReadOnlyAdminMixin

from .models import Media


@admin.register(Media)
class MediaAdmin(ReadOnlyAdminMixin, OrganizationScopedAdminMixin, admin.ModelAdmin):
    """Files are mirrored and uploaded by the media tasks; admin shows their state."""

    list_display = ["id", "filename", "mime_type", "size", "state", "created_at", "stored_at"]
    list_filter = ["state", "mime_type", "organization"]
    search_fields = ["filename", "meta_media_id", "sha256"]
    raw_id_fields = ["message"]
