from django.apps import AppConfig
from django.conf import settings


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Scheduled tasks"

    def ready(self) -> None:
        """Register the task functions (tasks.py, then SCHEDULER_TASK_MODULES) and chain runs."""
        from scheduling import chains, checks, registry, signals  # noqa: F401 (checks registers)
        from scheduling.models import Task

        registry.autodiscover()
        registry.import_task_modules(settings.SCHEDULER_TASK_MODULES)
        # Every finished run passes through this signal, in any process: chains start there.
        signals.task_finished.connect(
            chains.on_task_finished, sender=Task, dispatch_uid="scheduling.chains"
        )
