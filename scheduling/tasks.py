"""The Celery task workers run (`celery -A chirpsyncer worker -Q NAMES`), and its hooks.

One task, `scheduling.run_execution`, takes the id of a `TaskExecution` the
scheduler claimed and sent; `scheduling.engine.worker` does the work. The
Celery signal receivers below start each worker process's heartbeat. Django
imports this module in every process (it is the app's tasks.py); connecting
receivers costs nothing where no worker runs.
"""

from __future__ import annotations

from typing import Any

from celery import Task as CeleryTask
from celery import shared_task
from celery.exceptions import TimeLimitExceeded
from celery.signals import (
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)

from scheduling.engine import worker


class ExecutionTask(CeleryTask):
    """Records a run killed at its hard time limit: its own process cannot any more."""

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        if isinstance(exc, TimeLimitExceeded) and args:
            limit = self.request.timelimit[0] if self.request.timelimit else None
            worker.record_hard_timeout(int(args[0]), float(limit or exc.args[0] or 0))


@shared_task(name="scheduling.run_execution", base=ExecutionTask, ignore_result=True)
def run_execution(execution_id: int) -> str:
    """Run one execution the scheduler sent, unless it was claimed already."""
    return worker.run_execution(int(execution_id))


def _queues(app: Any) -> str:
    try:
        return ",".join(sorted(app.amqp.queues.consume_from or app.amqp.queues))
    except Exception:  # noqa: BLE001 - only a label on the heartbeat row
        return ""


@worker_process_init.connect
def _child_started(**kwargs: Any) -> None:
    """A prefork child: it runs executions, so it heartbeats under its own pid."""
    from chirpsyncer.celery import app

    worker.start_heartbeat(_queues(app))


@worker_ready.connect
def _worker_ready(sender: Any = None, **kwargs: Any) -> None:
    """Solo and thread pools run executions in the main process: it heartbeats itself."""
    pool = getattr(sender, "pool", None)
    if pool is not None and not type(pool).__module__.endswith("prefork"):
        worker.start_heartbeat(_queues(sender.app))


@worker_process_shutdown.connect
@worker_shutdown.connect
def _stopped(**kwargs: Any) -> None:
    worker.stop_heartbeat()
