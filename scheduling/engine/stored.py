"""What a run's outcome looks like when stored: a JSON result and texts of bounded size.

A task may return anything and fail with any traceback; the execution row
keeps JSON as is, a note in place of what is not JSON (NaN, lone surrogates
and deep nesting included: the database or the pages would fail on them),
and at most 64 KiB of any text (its head and its informative tail).
"""

from __future__ import annotations

import json
import reprlib
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from scheduling import jsontext

MAX_STORED_BYTES = 64 * 1024

# A repr that stops at six levels of nesting: the builtin one recurses without limit.
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 6, 2_000, 2_000
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 200


def cap_text(text: str, limit: int = MAX_STORED_BYTES) -> str:
    """Keep a long text under `limit` bytes, keeping its head and its (informative) tail.

    Lone surrogates (from an exception message, say) become `\\udXXX` escapes
    and NUL becomes `\\x00`: neither the database nor a page could take them.
    """
    data = text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace")
    text = data.decode("utf-8")
    if len(data) <= limit:
        return text
    keep = limit // 2 - 64
    head = data[:keep].decode("utf-8", "ignore")
    tail = data[-keep:].decode("utf-8", "ignore")
    return f"{head}\n\n[... {len(data) - 2 * keep} bytes cut ...]\n\n{tail}"


def to_json_result(value: Any) -> Any:
    """What to store for a function's return value: JSON as is, else a note."""
    if value is None:
        return None
    try:
        text = jsontext.dumps(value, encoder=DjangoJSONEncoder)
    except jsontext.JSONProblem as exc:
        return {
            "note": f"The task returned a value that is not JSON ({exc}); its repr is stored.",
            "repr": cap_text(_REPR.repr(value), MAX_STORED_BYTES // 4),
        }
    if len(text.encode("utf-8")) > MAX_STORED_BYTES:
        return {
            "note": f"The result was {len(text)} characters; only the start is kept.",
            "truncated": cap_text(text, MAX_STORED_BYTES - 200)[: MAX_STORED_BYTES // 2],
        }
    return json.loads(text)
