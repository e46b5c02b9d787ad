import factory
from django.utils import timezone

from scheduling.models import ExecutionStatus, ExecutionTrigger, Task, TaskExecution, TriggerType
from scheduling.tests.tasks_for_tests import boom, noop  # noqa: F401 (registers the test functions)


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    name = factory.Sequence(lambda n: f"task-{n}")
    func = "test_noop"
    description = "A task made by a factory."
    trigger_type = TriggerType.CRON
    cron_expression = "0 * * * *"
    timezone = "UTC"


class TaskExecutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TaskExecution

    task = factory.SubFactory(TaskFactory)
    trigger = ExecutionTrigger.SCHEDULE
    status = ExecutionStatus.SUCCESS
    scheduled_for = factory.LazyFunction(timezone.now)
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyFunction(timezone.now)
    duration_ms = 120
    result = factory.LazyFunction(lambda: {"ok": True})
