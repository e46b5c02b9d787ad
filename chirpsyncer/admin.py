from django.contrib import admin
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast
from django.http import HttpRequest
from django.utils.html import format_html

from chirpsyncer.models import AuditLog, Credential, DailySyncStat, ErrorLog, SyncRecord
from scheduling import jsontext


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
    """The audit trail, read-only: a trail anyone with admin access could edit proves nothing.

    `details` is shown from the text the database stores, parsed only through
    `jsontext.loads`: a row written before kwargs were checked may hold a lone
    surrogate or JSON nested 900 deep, which Django's JSON widget cannot render.
    """

    list_display = ["created_at", "action", "user", "resource_type", "resource_id", "success"]
    list_filter = ["success", "action", "resource_type"]
    search_fields = ["action", "resource_id", "user__username", "ip_address"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    show_full_result_count = False  # COUNT(*) over millions of rows on every page
    fields = [
        "created_at",
        "action",
        "user",
        "resource_type",
        "resource_id",
        "success",
        "ip_address",
        "user_agent",
        "details_text",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        stored = Cast("details", output_field=TextField())
        return super().get_queryset(request).defer("details").annotate(details_stored=stored)

    @admin.display(description="Details")
    def details_text(self, log: AuditLog) -> str:
        text = log.details_stored or ""
        try:
            text = jsontext.display(jsontext.loads(text))
        except jsontext.JSONProblem:
            pass  # shown as stored
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return False


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
