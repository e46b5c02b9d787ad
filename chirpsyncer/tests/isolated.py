"""Run Django in a child process that sees only the environment a test gives it.

The developer's own `.env` (which `make run` writes, with DEBUG=true) would leak
into the child otherwise; PRELUDE swaps `read_env_file` for a no-op before the
settings module imports it.
"""

from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings

PRELUDE = "import chirpsyncer.env\nchirpsyncer.env.read_env_file = lambda path: None\n"


def environment(**variables: str) -> dict[str, str]:
    """PATH and the settings module, plus exactly `variables`."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "chirpsyncer.settings",
        **variables,
    }


def manage(*args: str, **variables: str) -> subprocess.CompletedProcess:
    """`manage.py ARGS` in a child with only `variables` set (and no .env)."""
    code = PRELUDE + (
        "import sys\nfrom django.core.management import execute_from_command_line\n"
        "execute_from_command_line(['manage.py', *sys.argv[1:]])\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=settings.BASE_DIR,
        env=environment(**variables),
        capture_output=True,
        text=True,
        timeout=120,
    )
