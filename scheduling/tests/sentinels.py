"""A task and a run whose every sensitive value is a distinctive string.

Tests of who sees what look for these strings in pages and JSON: a viewer
without `scheduling.view_task` must see none of them, a user with it all.
"""

from chirpsyncer.tests.factories import UserFactory
from scheduling.models import SchedulerNode, Task, TaskExecution
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory

FUNC = "scheduling.tests.factories.noop"
TASK_KWARG = "kwarg-sentinel-41c2"
RUN_KWARG = "run-kwarg-sentinel-8e07"
RESULT = "/srv/result-sentinel-93ab.sqlite3"
TRACEBACK_PATH = "/opt/traceback-path-sentinel/app.py"
ERROR = "error-sentinel-5d1e"
HOST = "host-sentinel-7f3a"
PID = 987654
REQUESTER = "requester-sentinel"
SCHEDULER_HOST = "scheduler-host-sentinel"
SCHEDULER_PID = 876543

# What a viewer without the permission must never see, anywhere.
SECRETS = [
    FUNC,
    TASK_KWARG,
    RUN_KWARG,
    RESULT,
    TRACEBACK_PATH,
    ERROR,
    HOST,
    str(PID),
    REQUESTER,
    SCHEDULER_HOST,
    str(SCHEDULER_PID),
]
# What the history table and the execution page of the failed run show to those who may see.
FAILED_RUN_SECRETS = [TRACEBACK_PATH, ERROR, HOST, str(PID), REQUESTER]


def task_with_secrets(name: str = "backup") -> tuple[Task, TaskExecution, TaskExecution]:
    """A task with secret kwargs, a successful run with a secret result, a failed run
    with a secret traceback, host, pid and requester, and a running scheduler node."""
    task = TaskFactory(name=name, func=FUNC, kwargs={"target": TASK_KWARG})
    succeeded = TaskExecutionFactory(
        task=task, kwargs={"only": RUN_KWARG}, result={"path": RESULT}, host=HOST, pid=PID
    )
    failed = TaskExecutionFactory(
        task=task,
        status="failed",
        trigger="manual",
        requested_by=UserFactory(username=REQUESTER),
        kwargs={"only": RUN_KWARG},
        result=None,
        error=(  # as the runner stores it: the message, then the traceback
            f"RuntimeError: {ERROR}\n\nTraceback (most recent call last):\n"
            f'  File "{TRACEBACK_PATH}", line 3, in run\n'
            f"RuntimeError: {ERROR}"
        ),
        host=HOST,
        pid=PID,
        duration_ms=2500,
    )
    SchedulerNode.objects.create(
        node_id="n1", host=SCHEDULER_HOST, pid=SCHEDULER_PID, is_leader=True
    )
    return task, succeeded, failed


def leaked(text: str) -> list[str]:
    """The secrets that appear in `text`."""
    return [secret for secret in SECRETS if secret in text]
