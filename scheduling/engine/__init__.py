"""The process side of scheduling: what `runscheduler` and Celery workers run.

`loop` is the main loop (leadership, sync, dispatch); `executor`, `claims`
and `runner` take a fire from claim to recorded outcome (`runlog` keeps what
each run logs); `sending` hands runs of tasks with a `queue` to Celery and
`worker` runs them there, through the same runner; `hot_sql` holds the
per-run statements; `jobstore`, `leader`, `heartbeat` and `recovery` keep
APScheduler, the lease and crashed runs in order. The web side (views, forms,
admin) lives at the app root and only reads what these write.

Jobs stored by earlier versions reference `scheduling.engine:fire_job`; that
name resolves here, lazily, so importing a submodule stays cheap.
"""

from __future__ import annotations

from typing import Any

_FROM_LOOP = {"Engine", "fire_job", "job_id", "JOB_PREFIX"}


def __getattr__(name: str) -> Any:
    if name in _FROM_LOOP:
        from scheduling.engine import loop

        return getattr(loop, name)
    raise AttributeError(f"module 'scheduling.engine' has no attribute {name!r}")
