from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Scheduled tasks"

    def ready(self) -> None:
        from scheduling import registry

        registry.autodiscover()
