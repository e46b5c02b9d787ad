from django.urls import path

from scheduling import api, export_views, views

app_name = "scheduling"

urlpatterns = [
    path("tasks/", views.task_list, name="task-list"),
    # Before <slug:name>: "new" is a reserved task name (bounds.RESERVED_NAMES).
    path("tasks/new/", views.task_create, name="task-create"),
    path("tasks/<slug:name>/", views.task_detail, name="task-detail"),
    path("tasks/<slug:name>/history.csv", export_views.history_csv, name="history-csv"),
    path("tasks/<slug:name>/history.json", export_views.history_json, name="history-json"),
    path("tasks/<slug:name>/trigger/", views.task_trigger, name="task-trigger"),
    path("tasks/<slug:name>/toggle/", views.task_toggle, name="task-toggle"),
    path("tasks/<slug:name>/configure/", views.task_configure, name="task-configure"),
    path("tasks/<slug:name>/delete/", views.task_delete, name="task-delete"),
    path(
        "tasks/<slug:name>/executions/<int:pk>/",
        views.execution_detail,
        name="execution-detail",
    ),
    path(
        "tasks/<slug:name>/executions/<int:pk>/log/",
        api.execution_log,
        name="execution-log",
    ),
    path("api/tasks/status/", api.task_status_api, name="api-task-status"),
    path("api/tasks/cron-preview/", api.cron_preview, name="cron-preview"),
]
