from django.apps import AppConfig
from django.conf import settings


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Scheduled tasks"

    def ready(self) -> None:
        """Register the task functions, in every process: tasks.py, then SCHEDULER_TASK_MODULES."""
        from scheduling import checks, registry  # noqa: F401 (checks registers itself)

        registry.autodiscover()
        registry.import_task_modules(settings.SCHEDULER_TASK_MODULES)
