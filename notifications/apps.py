from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # scheduling never imports notifications: it sends signals, we listen.
        from notifications import checks, policy  # noqa: F401 - checks registers itself
        from scheduling import signals
        from scheduling.models import Task

        signals.task_finished.connect(
            policy.on_task_finished, sender=Task, dispatch_uid="notifications.task_finished"
        )
        signals.task_overdue.connect(
            policy.on_task_overdue, sender=Task, dispatch_uid="notifications.task_overdue"
        )
