from django.contrib import admin

from chirpsyncer.models import AuditLog, Credential, DailySyncStat, ErrorLog, SyncRecord


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    list_display = ["user", "platform", "label", "is_active", "last_used_at", "created_at"]
    list_filter = ["is_active", "platform"]
    search_fields = ["label", "user__username", "platform"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    exclude = ["secret"]  # never shown back to anyone


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action", "user", "resource_type", "resource_id", "success"]
    list_filter = ["success", "action", "resource_type"]
    search_fields = ["action", "resource_id", "user__username", "ip_address"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    show_full_result_count = False  # COUNT(*) over millions of rows on every page


@admin.register(SyncRecord)
class SyncRecordAdmin(admin.ModelAdmin):
    list_display = ["started_at", "user", "platform", "success", "posts_synced", "duration_ms"]
    list_filter = ["success", "platform"]
    search_fields = ["user__username", "error"]
    date_hierarchy = "started_at"
    list_select_related = ["user"]
    show_full_result_count = False


@admin.register(DailySyncStat)
class DailySyncStatAdmin(admin.ModelAdmin):
    list_display = [
        "date",
        "user",
        "total_syncs",
        "successful_syncs",
        "failed_syncs",
        "posts_synced",
    ]
    list_filter = ["date"]
    search_fields = ["user__username"]
    date_hierarchy = "date"
    list_select_related = ["user"]


@admin.register(ErrorLog)
class ErrorLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "level", "source", "message"]
    list_filter = ["level", "source"]
    search_fields = ["message", "source"]
    date_hierarchy = "created_at"
    show_full_result_count = False
