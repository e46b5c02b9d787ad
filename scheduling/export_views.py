"""`GET /tasks/<name>/history.csv` and `/history.json`: the export, over HTTP.

Same audience as the task page (signed in), same details rule
(`access.sees_details`), same filters as its history table plus a time
window; a bad filter is a 400 that says which one and why, before a single
row is read. The body is streamed (`scheduling.export`), so a worker holds
one chunk of rows at a time.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils.cache import patch_cache_control

from scheduling import access, export
from scheduling.access import signed_in
from scheduling.models import Task

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8; header=present", "json": "application/json"}


def _refused(fmt: str, message: str) -> HttpResponse:
    if fmt == "json":
        return JsonResponse({"error": message}, status=400)
    return HttpResponse(message + "\n", status=400, content_type="text/plain; charset=utf-8")


def _export(request: HttpRequest, name: str, fmt: str) -> HttpResponse:
    task = get_object_or_404(Task, name=name)
    try:
        filters = export.parse_filters(request.GET)
    except ValidationError as exc:
        return _refused(fmt, "; ".join(exc.messages))
    body = export.stream(task, fmt, filters, details=access.sees_details(request.user))
    response = StreamingHttpResponse(body, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{task.name}-history.{fmt}"'
    response["X-Accel-Buffering"] = "no"  # nginx: pass the rows on as they come
    patch_cache_control(response, private=True, no_store=True)
    return response


@signed_in
def history_csv(request: HttpRequest, name: str) -> HttpResponse:
    return _export(request, name, "csv")


@signed_in
def history_json(request: HttpRequest, name: str) -> HttpResponse:
    return _export(request, name, "json")
