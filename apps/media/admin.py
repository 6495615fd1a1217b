from django.contrib import admin

from .models import Media


@admin.register(Media)
class MediaAdmin(admin.ModelAdmin):
    list_display = ["id", "organization", "kind", "mime_type", "size", "state", "stored_at"]
    list_filter = ["state", "kind"]
    search_fields = ["meta_media_id", "filename", "sha256"]
    readonly_fields = [f.name for f in Media._meta.fields]

    def has_add_permission(self, request):
        return False
