"""The Celery app: `celery -A chirpsyncer worker -Q NAMES` runs the runs of queued tasks.

Configured from Django settings in the `CELERY` namespace (CELERY_BROKER_URL
and friends, see settings.py). Only one Celery task exists,
`scheduling.run_execution` (scheduling/tasks.py): it runs a `TaskExecution`
the scheduler claimed and sent, through the same runner as local runs, so the
registry rule (only registered functions run) holds in workers too.
Without CELERY_BROKER_URL nothing here connects anywhere.
"""

from __future__ import annotations

import logging.config
import os
from typing import Any

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chirpsyncer.settings")

app = Celery("chirpsyncer")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def keep_django_logging(**kwargs: Any) -> None:
    """Workers log as every other process does, through settings.LOGGING.

    Left to itself Celery reconfigures the root logger at its `-l` level
    (WARNING by default), which drops the INFO records a run logs, so a run on a
    worker would keep an emptier log than the same run in the scheduler. Any
    receiver of this signal stops that; LOG_LEVEL and TASK_LOG_LEVEL then apply.
    """
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
