"""Endpoints for ops tooling: /healthz/ for probes, /metrics for Prometheus."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from scheduling.engine import heartbeat
from scheduling.metrics import SchedulerCollector


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 while a scheduler heartbeat is fresh, 503 otherwise. No auth, nothing secret."""
    state = heartbeat.current_state()
    healthy = state["state"] == heartbeat.RUNNING
    body = {"status": "ok" if healthy else "unhealthy", "scheduler": state["state"]}
    if state["last_beat_at"]:
        body["last_beat_at"] = state["last_beat_at"].isoformat()
    return JsonResponse(body, status=200 if healthy else 503)


def _authorised(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return True
    header = request.headers.get("Authorization", "")
    scheme, _, supplied = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(supplied.strip(), token)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _authorised(request):
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SchedulerCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
