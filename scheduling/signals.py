"""Signals other apps listen to, so `scheduling` never imports them.

task_finished(sender=Task, task: Task, execution: TaskExecution, final: bool,
              facts: FinishedFacts | None)
    Sent after every run is recorded. `final` is False when a retry follows,
    so alerting can follow the final outcome only. `facts`, when given, were
    read in the statement that stored the outcome, so receivers need not read
    them again (on PostgreSQL each read is a round trip); None: read them.
task_overdue(sender=Task, task: Task, execution: TaskExecution)
    Sent once when a running execution passes its task's timeout_seconds.
"""

from dataclasses import dataclass

from django.dispatch import Signal


@dataclass(frozen=True)
class FinishedFacts:
    """What the receivers of `task_finished` would otherwise each read after a run.

    `previous_outcome`: status of the task's latest earlier success, failure or
    abandoned run (None: there is none). `has_downstream`: an enabled task runs
    after this one (`trigger_type` after).
    """

    previous_outcome: str | None
    has_downstream: bool


task_finished = Signal()
task_overdue = Signal()
