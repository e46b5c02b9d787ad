"""The APScheduler job store the engine uses: DjangoJobStore, minus two costs.

1. No DjangoJobExecution rows: TaskExecution is our history, and
   django-apscheduler's listeners wrote one or two more rows per fire from the
   scheduler thread, in turn, before the next due job could be handled.
2. Job writes are buffered and flushed as one upsert before the store is next
   read (once per scheduler pass, or per sync chunk), instead of one
   transaction per job: with 1,000 jobs due at once APScheduler called
   `update_job` 1,000 times in a row while holding its job store lock.
"""

from __future__ import annotations

import pickle
from typing import Any

from django.db import transaction
from django_apscheduler.jobstores import DjangoJobStore
from django_apscheduler.models import DjangoJob
from django_apscheduler.util import get_django_internal_datetime

CHUNK = 500


class TaskJobStore(DjangoJobStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._dirty: dict[str, tuple[Any, bytes]] = {}

    def register_event_listeners(self) -> None:
        """Record nothing: the runner writes TaskExecution for every run."""

    def add_job(self, job: Any) -> None:
        """An upsert, buffered: the engine always adds with replace_existing=True."""
        self.update_job(job)

    def update_job(self, job: Any) -> None:
        self._dirty[job.id] = (
            get_django_internal_datetime(job.next_run_time),
            pickle.dumps(job.__getstate__(), self.pickle_protocol),
        )

    def flush(self) -> None:
        """Write buffered jobs in one transaction; called before every read."""
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, {}
        rows = [DjangoJob(id=k, next_run_time=t, job_state=s) for k, (t, s) in dirty.items()]
        with transaction.atomic():
            DjangoJob.objects.bulk_create(
                rows,
                batch_size=CHUNK,
                update_conflicts=True,
                unique_fields=["id"],
                update_fields=["next_run_time", "job_state"],
            )

    def lookup_job(self, job_id: str) -> Any:
        self.flush()
        return super().lookup_job(job_id)

    def get_due_jobs(self, now: Any) -> list:
        self.flush()
        return super().get_due_jobs(now)

    def get_next_run_time(self) -> Any:
        self.flush()
        return super().get_next_run_time()

    def get_all_jobs(self) -> list:
        self.flush()
        return super().get_all_jobs()

    def remove_job(self, job_id: str) -> None:
        self.flush()
        super().remove_job(job_id)

    def shutdown(self) -> None:
        self.flush()
        super().shutdown()
