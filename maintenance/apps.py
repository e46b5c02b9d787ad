from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def _ensure_sync_change_triggers(using: str, **kwargs) -> None:
    """Put back the daily stats' triggers if a migration rebuilt the sync record table."""
    from maintenance import sync_changes

    sync_changes.ensure_installed(connections[using])


class MaintenanceConfig(AppConfig):
    name = "maintenance"

    def ready(self) -> None:
        post_migrate.connect(_ensure_sync_change_triggers, sender=self)
