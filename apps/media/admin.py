from django.contrib import admin

from apps.accounts.admin_scoping import OrganizationScopedAdminMixin, ReadOnlyAdminMixin

from .models import Media


@admin.register(Media)
class MediaAdmin(ReadOnlyAdminMixin, OrganizationScopedAdminMixin, admin.ModelAdmin):
    """Files are written by the product only (mirror, upload, retention)."""

    list_display = ["id", "organization", "kind", "mime_type", "size", "state", "stored_at"]
    list_filter = ["state", "kind", "organization"]
    search_fields = ["meta_media_id", "filename", "sha256"]
