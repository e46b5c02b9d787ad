from django.contrib import admin

from notifications.models import Delivery


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """The delivery log is a record: readable, filterable, never edited by hand."""

    list_display = ("created_at", "kind", "recipient", "subject", "status", "task")
    list_filter = ("status", "kind", "created_at")
    search_fields = ("recipient", "subject", "task__name", "error")
    date_hierarchy = "created_at"
    list_select_related = ("task",)
    raw_id_fields = ("task", "execution")
    readonly_fields = [f.name for f in Delivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
