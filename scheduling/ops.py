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
    if state["broker"] != "off":  # workers configured: say how many answer, and if the broker does
        body |= {"workers": state["workers"], "broker": state["broker"]}
    if state["last_beat_at"]:
        body["last_beat_at"] = state["last_beat_at"].isoformat()
    return JsonResponse(body, status=200 if healthy else 503)


def _refusal(request: HttpRequest) -> HttpResponse | None:
    """403 when no token is configured outside DEBUG, 401 for a missing or wrong token.

    Any header value is compared as bytes (`Bearer café`, a lone surrogate
    from the test client, 8 KB of garbage), so a bad header is a 401, never a
    500, and the comparison takes the same time however much of it matches.
    """
    token = settings.METRICS_TOKEN
    if not token:
        if settings.DEBUG:
            return None
        return HttpResponse(
            "Forbidden: set METRICS_TOKEN to enable /metrics\n",
            status=403,
            content_type="text/plain",
        )
    scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(_bytes(supplied.strip()), _bytes(token)):
        return None
    response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
    response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # every str, even "\ud800", has bytes


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics; needs METRICS_TOKEN as a bearer token unless DEBUG is on."""
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SchedulerCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
