from django.contrib import admin

from maintenance.models import AuditArchive, Watermark


@admin.register(AuditArchive)
class AuditArchiveAdmin(admin.ModelAdmin):
    """Read-only: rows are written by the archive task in the same transaction as the delete."""

    list_display = ["path", "row_count", "first_id", "last_id", "bytes", "cutoff", "created_at"]
    search_fields = ["path", "sha256"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Watermark)
class WatermarkAdmin(admin.ModelAdmin):
    list_display = ["name", "value", "updated_at"]
