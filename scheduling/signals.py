"""Signals other apps listen to, so `scheduling` never imports them.

task_finished(sender=Task, task: Task, execution: TaskExecution, final: bool)
    Sent after every run is recorded. `final` is False when a retry follows,
    so alerting can follow the final outcome only.
task_overdue(sender=Task, task: Task, execution: TaskExecution)
    Sent once when a running execution passes its task's timeout_seconds.
"""

from django.dispatch import Signal

task_finished = Signal()
task_overdue = Signal()
