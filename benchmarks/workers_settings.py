"""Settings for `python -m benchmarks.workers` and every process it starts.

The product's settings plus django-celery-beat, the baseline the benchmark
measures against. Only the benchmark installs it, so the product's apps,
migrations and run-time requirements never depend on it (it is in
requirements-bench.txt, not requirements.txt).
"""

from chirpsyncer.settings import *  # noqa: F403
from chirpsyncer.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "django_celery_beat"]

# The floor's and the beat baseline's Celery task must be known to the workers
# even when no scheduler setting lists its module.
CELERY_IMPORTS = [*globals().get("CELERY_IMPORTS", ()), "benchmarks.workers_tasks"]
