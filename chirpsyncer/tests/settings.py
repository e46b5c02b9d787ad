"""The settings the test suite runs with: the real settings, in a test environment.

pytest-django imports this module before any conftest.py, so it is the one place
that can choose the environment the settings read. The values go into
os.environ, not only into settings, so the real processes tests start
(runscheduler, gunicorn) inherit them; `setdefault` lets a variable set by hand
win, and a developer's `.env` (DEBUG=true from `make run`) cannot change what the
suite tests.

DEBUG is off, as in production. The test client and the live server the
browser tests use speak plain http, so the https-only settings are turned off
here; `test_production_process.py` runs gunicorn with the production defaults.
"""

import os

TEST_ENVIRONMENT = {
    "DEBUG": "false",
    "SECRET_KEY": "test-suite-only-key-" + "x" * 40,
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "CSRF_COOKIE_SECURE": "false",
}
for _name, _value in TEST_ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)

from chirpsyncer.settings import *  # noqa: E402, F403
