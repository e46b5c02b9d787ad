"""Prometheus metrics read from the database at scrape time.

The web process does not run tasks, so there is nothing in its memory to
export: each scrape reads the denormalised Task counters (O(tasks)) and the
last 24 hours of durations (a gauge histogram, since old rows are pruned).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.utils import timezone
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from scheduling.engine import heartbeat
from scheduling.models import ExecutionStatus, Task, TaskExecution

DURATION_BUCKETS_SECONDS = [0.1, 0.5, 1, 5, 15, 60, 300, 1800, 3600]


class SchedulerCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        tasks = list(
            Task.objects.values_list("pk", "name", "success_count", "failure_count", "enabled")
        )
        names = {pk: name for pk, name, *_ in tasks}
        yield self._executions(tasks)
        yield self._enabled(tasks)
        yield self._last_success(names)
        yield self._durations(names)
        yield from self._scheduler()

    def _executions(self, tasks: list[tuple]) -> Metric:
        family = CounterMetricFamily(
            "chirpsyncer_task_executions",
            "Finished runs by task and outcome.",
            labels=["task", "status"],
        )
        for _, name, successes, failures, _ in tasks:
            family.add_metric([name, "success"], successes)
            family.add_metric([name, "failed"], failures)
        return family

    def _enabled(self, tasks: list[tuple]) -> Metric:
        family = GaugeMetricFamily(
            "chirpsyncer_task_enabled", "1 if the task is enabled.", labels=["task"]
        )
        for _, name, _, _, enabled in tasks:
            family.add_metric([name], int(enabled))
        return family

    def _last_success(self, names: dict[int, str]) -> Metric:
        family = GaugeMetricFamily(
            "chirpsyncer_task_last_success_timestamp_seconds",
            "Unix time the task last finished successfully.",
            labels=["task"],
        )
        # Newest success per task through the (task, -id) index: O(tasks), not O(history).
        latest = TaskExecution.objects.filter(
            task=OuterRef("pk"), status=ExecutionStatus.SUCCESS
        ).order_by("-id")
        rows = Task.objects.annotate(last=Subquery(latest.values("finished_at")[:1]))
        for pk, last in rows.values_list("pk", "last"):
            if last and pk in names:
                family.add_metric([names[pk]], last.timestamp())
        return family

    def _durations(self, names: dict[int, str]) -> Metric:
        family = GaugeHistogramMetricFamily(
            "chirpsyncer_task_duration_seconds",
            "Run durations over the last 24 hours.",
            labels=["task"],
        )
        since = timezone.now() - timedelta(hours=24)
        buckets = {
            f"le_{i}": Count("pk", filter=Q(duration_ms__lte=int(b * 1000)))
            for i, b in enumerate(DURATION_BUCKETS_SECONDS)
        }
        rows = (
            TaskExecution.objects.filter(created_at__gte=since, duration_ms__isnull=False)
            .exclude(status=ExecutionStatus.SKIPPED)
            .values("task_id")
            .annotate(total=Count("pk"), total_ms=Sum("duration_ms"), **buckets)
        )
        for row in rows:
            if row["task_id"] not in names:
                continue
            counts = [(str(b), row[f"le_{i}"]) for i, b in enumerate(DURATION_BUCKETS_SECONDS)]
            counts.append(("+Inf", row["total"]))
            family.add_metric([names[row["task_id"]]], counts, gsum_value=row["total_ms"] / 1000)
        return family

    def _scheduler(self) -> Iterator[Metric]:
        state = heartbeat.current_state()
        up = GaugeMetricFamily("chirpsyncer_scheduler_up", "1 if a scheduler heartbeat is fresh.")
        up.add_metric([], int(state["state"] == heartbeat.RUNNING))
        yield up
        nodes = GaugeMetricFamily("chirpsyncer_scheduler_nodes", "Scheduler processes alive.")
        nodes.add_metric([], state["nodes"])
        yield nodes
        leader = GaugeMetricFamily(
            "chirpsyncer_scheduler_leader", "The leading scheduler process.", labels=["leader"]
        )
        if state["leader"]:
            leader.add_metric([state["leader"]], 1)
        yield leader
        workers = GaugeMetricFamily(
            "chirpsyncer_workers", "Celery worker processes with a fresh heartbeat."
        )
        workers.add_metric([], state["workers"])
        yield workers
        broker = GaugeMetricFamily(
            "chirpsyncer_broker_up",
            "1 while the leader can send runs to the Celery broker (0 unreachable); "
            "absent without CELERY_BROKER_URL.",
        )
        if state["broker"] != "off":
            broker.add_metric([], int(state["broker"] == "ok"))
        yield broker
