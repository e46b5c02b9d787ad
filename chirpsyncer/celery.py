"""The Celery app: `celery -A chirpsyncer worker -Q NAMES` runs the runs of queued tasks.

Configured from Django settings in the `CELERY` namespace (CELERY_BROKER_URL
and friends, see settings.py). Only one Celery task exists,
`scheduling.run_execution` (scheduling/tasks.py): it runs a `TaskExecution`
the scheduler claimed and sent, through the same runner as local runs, so the
registry rule (only registered functions run) holds in workers too.
Without CELERY_BROKER_URL nothing here connects anywhere.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chirpsyncer.settings")

app = Celery("chirpsyncer")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
