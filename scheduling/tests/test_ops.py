"""/healthz/ and /metrics, as a probe and Prometheus see them."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from scheduling.engine import heartbeat
from scheduling.models import SchedulerNode
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db


def test_healthz_is_503_without_a_scheduler(client):
    response = client.get("/healthz/")
    assert response.status_code == 503
    assert response.json() == {"status": "unhealthy", "scheduler": "not_running"}


def test_healthz_is_200_with_a_fresh_heartbeat_and_503_when_stale(client):
    node = heartbeat.register("node-a")
    response = client.get("/healthz/")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    SchedulerNode.objects.filter(pk=node.pk).update(
        last_beat_at=timezone.now() - heartbeat.stale_after() - timedelta(seconds=1)
    )
    response = client.get("/healthz/")
    assert response.status_code == 503 and response.json()["scheduler"] == "stale"


def test_healthz_reveals_no_host_names_or_settings(client):
    heartbeat.register("secret-host:1:abc")
    body = client.get("/healthz/").content.decode()
    assert "secret-host" not in body and "SECRET" not in body


@override_settings(METRICS_TOKEN="s3cret-token")
def test_metrics_exports_counters_last_success_durations_and_leader(client):
    task = TaskFactory(name="backup", success_count=4, failure_count=1)
    TaskExecutionFactory(task=task, duration_ms=300)
    TaskExecutionFactory(task=task, duration_ms=7000)
    heartbeat.register("n1")
    heartbeat.beat("n1", is_leader=True)
    response = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert response.status_code == 200
    text = response.content.decode()
    assert 'chirpsyncer_task_executions_total{status="success",task="backup"} 4.0' in text
    assert 'chirpsyncer_task_executions_total{status="failed",task="backup"} 1.0' in text
    assert 'chirpsyncer_task_last_success_timestamp_seconds{task="backup"}' in text
    assert 'chirpsyncer_task_duration_seconds_bucket{le="0.5",task="backup"} 1.0' in text
    assert 'chirpsyncer_task_duration_seconds_bucket{le="+Inf",task="backup"} 2.0' in text
    assert "chirpsyncer_scheduler_up 1.0" in text
    assert 'chirpsyncer_scheduler_leader{leader="' in text


@override_settings(METRICS_TOKEN="s3cret-token")
def test_metrics_require_the_bearer_token_when_set(client):
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"].startswith("Bearer")
    ok = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200 and b"chirpsyncer_scheduler_up" in ok.content


@override_settings(METRICS_TOKEN="", DEBUG=False)
def test_metrics_are_refused_without_a_token_when_debug_is_off(client):
    response = client.get("/metrics", headers={"Authorization": "Bearer anything"})

    assert response.status_code == 403
    assert b"METRICS_TOKEN" in response.content
    assert b"chirpsyncer_" not in response.content


@override_settings(METRICS_TOKEN="", DEBUG=True)
def test_metrics_are_open_without_a_token_in_development(client):
    assert client.get("/metrics").status_code == 200


@override_settings(METRICS_TOKEN="s3cret-token")
@pytest.mark.parametrize(
    "header",
    [
        "Bearer café",
        "Bearer cafÃ©",  # the same bytes as a WSGI server hands them over (latin-1)
        "Bearer \ud800",
        "Bearer ☃" * 2000,
        "",
        " ",
        "Bearer",
        "Bearer ",
        "garbage",
        "Basic czNjcmV0LXRva2Vu",
        "Bearer s3cret-toke",
        "Bearer s3cret-token-and-more",
        "Bearer " + "x" * 100_000,
    ],
)
def test_any_wrong_authorization_header_is_401_never_500(client, header):
    response = client.get("/metrics", headers={"Authorization": header})

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'


@override_settings(METRICS_TOKEN="s3cret-token")
def test_the_scheme_is_case_insensitive_and_spaces_around_the_token_do_not_matter(client):
    response = client.get("/metrics", headers={"Authorization": "bearer   s3cret-token "})

    assert response.status_code == 200
