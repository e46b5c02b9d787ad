"""Who may see and do what on the task pages, and how refusals look.

Browsers get Django's usual answers (a login redirect, a 403 page); clients
that ask for JSON get JSON with the same status codes, so a script never has
to parse a login form to learn it is signed out.

Every signed-in user sees what runs and how it went (names, schedules,
status, times, counts). The details of a run can hold secrets or server
internals (kwargs, the function's path, results with file paths, tracebacks,
host and pid, who asked), so they need `scheduling.view_task`; `change_task`
implies it, as it does in Django admin.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse

View = Callable[..., HttpResponse]

DETAILS_PERMISSION = "scheduling.view_task"
# The keys of task_status(), execution_summary() and heartbeat.current_state()
# that only users who may see details get.
TASK_DETAIL_KEYS = ("func", "kwargs")
EXECUTION_DETAIL_KEYS = ("result", "error", "kwargs", "host", "pid", "requested_by")
SCHEDULER_DETAIL_KEYS = ("host", "pid", "leader", "broker_error")


def sees_details(user: Any) -> bool:
    """May `user` see kwargs, func, results, errors, host/pid and requesters?"""
    return user.has_perm(DETAILS_PERMISSION) or user.has_perm("scheduling.change_task")


def without(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """`data` minus `keys`: what a user without the details permission gets."""
    return {key: value for key, value in data.items() if key not in keys}


def wants_json(request: HttpRequest) -> bool:
    """True when the client prefers JSON to HTML (an API call, a fetch())."""
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def signed_in(view: View) -> View:
    """Like login_required, but a JSON client gets a 401 JSON body instead of a redirect."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if wants_json(request):
            return JsonResponse({"error": "authentication required"}, status=401)
        return redirect_to_login(request.get_full_path())

    return wrapper


def permission(perm: str) -> Callable[[View], View]:
    """Signed in (else login), then `perm` (else 403): anonymous and unauthorised differ."""

    def decorator(view: View) -> View:
        @signed_in
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.has_perm(perm):
                if wants_json(request):
                    return JsonResponse({"error": f"permission {perm} required"}, status=403)
                raise PermissionDenied(f"permission {perm} required")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
