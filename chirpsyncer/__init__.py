"""ChirpSyncer Scheduler's project package.

The Celery app loads with it, as Celery's Django guide asks, so `@shared_task`
functions bind to it in every process.
"""

from chirpsyncer.celery import app as celery_app

__all__ = ("celery_app",)
