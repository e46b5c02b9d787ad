"""Who may see and do what on the task pages, and how refusals look.

Browsers get Django's usual answers (a login redirect, a 403 page); clients
that ask for JSON get JSON with the same status codes, so a script never has
to parse a login form to learn it is signed out.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse

View = Callable[..., HttpResponse]


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
