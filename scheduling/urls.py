from django.urls import path

from scheduling import views

app_name = "scheduling"

urlpatterns = [
    path("tasks/", views.task_list, name="task-list"),
    path("tasks/<slug:name>/", views.task_detail, name="task-detail"),
    path(
        "tasks/<slug:name>/executions/<int:pk>/",
        views.execution_detail,
        name="execution-detail",
    ),
]
