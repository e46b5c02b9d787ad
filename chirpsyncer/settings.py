"""Settings for ChirpSyncer Scheduler.

Everything comes from the environment (and an optional `.env` beside
manage.py) through the strict readers in `chirpsyncer.env`; `.env.example`
documents each variable. DEBUG is off unless set, and then the site is
hardened for https; with only SECRET_KEY set it runs on a SQLite file with mail
printed to the console. `make run` writes DEBUG=true into `.env`.
"""

import logging
import os
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from chirpsyncer.env import (
    env_admins,
    env_bool,
    env_broker_url,
    env_choice,
    env_database,
    env_email,
    env_float,
    env_header,
    env_int,
    env_list,
    env_proxy_ssl_header,
    env_str,
    env_token,
    read_env_file,
)

BASE_DIR = Path(__file__).resolve().parent.parent
read_env_file(BASE_DIR / ".env")

# --- Core ------------------------------------------------------------------
# Off unless asked for: a deployment that forgets DEBUG must not show the debug
# page (settings, environment, tracebacks) to anonymous visitors. `make run`
# writes DEBUG=true into .env for development.
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off. For development, `make run` writes "
            "a .env with a SECRET_KEY and DEBUG=true."
        )
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "bootstrap",  # django-bootstrap-static: Bootstrap 5 served locally
    "django_htmx",
    "django_apscheduler",
    "axes",  # before chirpsyncer: its login-failure receiver must run first
    "csp",
    "chirpsyncer",
    "scheduling",
    "maintenance",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

ROOT_URLCONF = "chirpsyncer.urls"
WSGI_APPLICATION = "chirpsyncer.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ----------------------------------------------------------------
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
SQLITE_BUSY_TIMEOUT = env_float("SQLITE_BUSY_TIMEOUT", 20.0, minimum=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A scheduler and a web server write at once: WAL lets readers proceed
    # during a write, the busy timeout queues writers instead of failing, and
    # BEGIN IMMEDIATE takes the write lock up front so two transactions never
    # deadlock upgrading read locks ("database is locked" under load).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": SQLITE_BUSY_TIMEOUT,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file (not :memory:) so real runscheduler subprocesses can
    # share the test database; the pid keeps concurrent runs apart.
    DATABASES["default"]["TEST"] = {
        "NAME": env_str("SQLITE_TEST_NAME", f"/tmp/chirpsyncer-test-{os.getpid()}.sqlite3")
    }
else:
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
# Reuse connections on SQLite too: with 0, the runner's close_old_connections()
# closes the connection twice per run, and closing the last connection to a WAL
# database checkpoints it with fsyncs (30-60 ms per run on a busy disk).
DATABASES["default"].setdefault("CONN_MAX_AGE", env_int("DB_CONN_MAX_AGE", 60, minimum=0))
# PostgreSQL: the runner's two per-run statements are prepared once per
# connection (planning them cost more than running them). Set false behind a
# pooler in transaction mode that cannot keep prepared statements (PgBouncer < 1.21).
SCHEDULER_PREPARED_STATEMENTS = env_bool("SCHEDULER_PREPARED_STATEMENTS", True)

# --- Auth, i18n, static ------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out sign-in before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/tasks/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Email -------------------------------------------------------------------
# EMAIL_URL wins; otherwise the seed's SMTP_* variables; otherwise the console.
ADMINS = env_admins("ADMINS")
SERVER_EMAIL = DEFAULT_FROM_EMAIL = env_str("SMTP_FROM", "chirpsyncer@localhost")
SMTP_HOST = env_str("SMTP_HOST", "")
SMTP_PORT = env_int("SMTP_PORT", 587, minimum=1)
_email = env_email("EMAIL_URL")
SMTP_ENABLED = env_bool("SMTP_ENABLED", bool(_email or SMTP_HOST))
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
if not SMTP_ENABLED:
    # Nothing leaves the machine: mail is printed where the process logs.
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
elif _email:
    globals().update(_email)
elif SMTP_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = SMTP_HOST
    EMAIL_PORT = SMTP_PORT
    EMAIL_HOST_USER = env_str("SMTP_USER", "")
    EMAIL_HOST_PASSWORD = env_str("SMTP_PASSWORD", "")
    EMAIL_USE_SSL = SMTP_PORT == 465
    EMAIL_USE_TLS = SMTP_PORT == 587
else:
    raise ImproperlyConfigured("SMTP_ENABLED is true but neither EMAIL_URL nor SMTP_HOST is set.")

NOTIFY_ON_TASK_FAILURE = env_bool("NOTIFY_ON_TASK_FAILURE", True)
NOTIFY_ON_TASK_SUCCESS = env_bool("NOTIFY_ON_TASK_SUCCESS", False)
NOTIFY_ADMINS_ONLY = env_bool("NOTIFY_ADMINS_ONLY", True)
NOTIFY_REPEAT_HOURS = env_int("NOTIFY_REPEAT_HOURS", 24, minimum=1)
NOTIFY_MAX_PER_HOUR = env_int("NOTIFY_MAX_PER_HOUR", 20, minimum=1)
# Seconds one channel post (Slack, Discord, webhook...) may take; posts run off the run's path.
NOTIFY_CHANNEL_TIMEOUT_SECONDS = env_int("NOTIFY_CHANNEL_TIMEOUT_SECONDS", 10, minimum=1)

# --- Maintenance ---------------------------------------------------------------
ARCHIVE_DIR = Path(env_str("ARCHIVE_DIR", str(VAR_DIR / "archive")))
BACKUP_DIR = Path(env_str("BACKUP_DIR", str(VAR_DIR / "backups")))
BACKUP_KEEP = env_int("BACKUP_KEEP", 7, minimum=1)
BACKUP_GZIP = env_bool("BACKUP_GZIP", False)
EXECUTION_RETENTION_DAYS = env_int("EXECUTION_RETENTION_DAYS", 90, minimum=1)
AUDIT_LOG_RETENTION_DAYS = env_int("AUDIT_LOG_RETENTION_DAYS", 90, minimum=1)
ERROR_LOG_RETENTION_DAYS = env_int("ERROR_LOG_RETENTION_DAYS", 30, minimum=1)
CREDENTIAL_INACTIVE_MONTHS = env_int("CREDENTIAL_INACTIVE_MONTHS", 6, minimum=1)
MAINTENANCE_BATCH_SIZE = env_int("MAINTENANCE_BATCH_SIZE", 5000, minimum=1)
ARCHIVE_ROWS_PER_FILE = env_int("ARCHIVE_ROWS_PER_FILE", 20000, minimum=1)

# --- Scheduler -------------------------------------------------------------------
SCHEDULER_THREADS = env_int("SCHEDULER_THREADS", 10, minimum=1)
SCHEDULER_SYNC_SECONDS = env_float("SCHEDULER_SYNC_SECONDS", 2.0, minimum=0.1)
SCHEDULER_HEARTBEAT_SECONDS = env_float("SCHEDULER_HEARTBEAT_SECONDS", 5.0, minimum=0.1)
SCHEDULER_SHUTDOWN_GRACE_SECONDS = env_float("SCHEDULER_SHUTDOWN_GRACE_SECONDS", 30.0, minimum=0)
SCHEDULER_LEASE_SECONDS = env_float("SCHEDULER_LEASE_SECONDS", 30.0, minimum=1)
SCHEDULER_MISFIRE_GRACE_SECONDS = env_int("SCHEDULER_MISFIRE_GRACE_SECONDS", 300, minimum=1)
# Modules (besides each app's tasks.py) whose @scheduled_task functions may run.
SCHEDULER_TASK_MODULES = env_list("SCHEDULER_TASK_MODULES", [])
METRICS_TOKEN = env_token("METRICS_TOKEN")

# --- Workers (Celery) ------------------------------------------------------------
# Unset: every run stays in the scheduler process and no broker is needed. Set
# (redis://... or amqp://...): tasks with a `queue` are sent to Celery workers
# (`celery -A chirpsyncer worker -Q NAMES`); chirpsyncer/celery.py reads CELERY_*.
CELERY_BROKER_URL = env_broker_url("CELERY_BROKER_URL")
# Seconds a publish waits for the broker: the sender backs off instead of hanging.
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 3.0, minimum=0.1)
_broker_timeout = CELERY_BROKER_CONNECTION_TIMEOUT
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # One connection attempt per publish; the sender's own back-off does the retrying.
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
    "socket_connect_timeout": _broker_timeout,
    "socket_timeout": max(_broker_timeout, 5.0),
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True  # a worker waits for the broker at start
# Early ack is safe here: exactly once comes from the conditional queued -> running
# claim of the execution row, and a lost message is re-sent by the scheduler
# (WORKER_RESEND_SECONDS), so no visibility timeout ever redelivers a long run.
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # a busy worker process holds no runs others could start
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True  # outcomes live on TaskExecution rows
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # keep LOGGING (and each run's own log capture)
CELERY_WORKER_SEND_TASK_EVENTS = env_bool("CELERY_WORKER_SEND_TASK_EVENTS", False)  # for Flower
CELERY_TIMEZONE = TIME_ZONE
# A queued run still queued this long after it was sent (message lost, worker
# killed before claiming it) is sent again; a second copy runs nothing.
# Keep it well under the misfire grace (default 300 s), or a lost message is
# skipped as late before it is ever re-sent.
WORKER_RESEND_SECONDS = env_int("WORKER_RESEND_SECONDS", 60, minimum=1)
# Hard limit = timeout_seconds + this margin: the soft limit lets the run record
# "timed out"; the hard limit kills a run that ignores it.
WORKER_HARD_LIMIT_MARGIN_SECONDS = env_int("WORKER_HARD_LIMIT_MARGIN_SECONDS", 5, minimum=1)

# --- Production hardening ------------------------------------------------------------
# Secure by default once DEBUG is off; plain http for development with DEBUG on.
# Each can be overridden, e.g. SECURE_SSL_REDIRECT=false when a proxy redirects.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if not SECURE_HSTS_PRELOAD:
    # Joining the browsers' preload list is the domain owner's decision
    # (hstspreload.org), not a default; check --deploy would warn about it.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
# Behind a TLS-terminating proxy: `X-Forwarded-Proto,https`. Only set it when the
# proxy always sets (or strips) that header, or clients could claim https.
SECURE_PROXY_SSL_HEADER = env_proxy_ssl_header("SECURE_PROXY_SSL_HEADER")
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Scripts and styles only from our own static files: no inline code, no CDN.
# Bootstrap's CSS draws its icons (select arrows, close buttons) as data: SVGs.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Login throttling (django-axes) -----------------------------------------------------
# Five failed sign-ins for one username from one address lock that pair out
# for LOGIN_LOCKOUT_MINUTES, counted from the fifth failure; other usernames and
# addresses are unaffected. `manage.py axes_reset_username NAME` lifts a lock early.
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1, maximum=43_200)  # 30 days
# The address comes from REMOTE_ADDR unless a trusted proxy's header is named here.
CLIENT_IP_HEADER = env_header("CLIENT_IP_HEADER")
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # a refused try does not extend the lock
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins would fill a table nothing prunes
AXES_CLIENT_IP_CALLABLE = "chirpsyncer.client_ip.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False  # no start-up banner in every command; chirpsyncer.signins logs attempts

# --- Logging -----------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
# What a run keeps of its own logging on its execution (scheduling/engine/runlog.py).
TASK_LOG_LEVEL = env_choice(
    "TASK_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "level": LOG_LEVEL}
    },
    # The lower of the two: TASK_LOG_LEVEL=DEBUG keeps a run's debug lines without
    # printing every process's debug lines on the console.
    "root": {
        "handlers": ["console"],
        "level": min(
            LOG_LEVEL, TASK_LOG_LEVEL, key=lambda n: logging.getLevelNamesMapping().get(n, 20)
        ),
    },
    "loggers": {"apscheduler": {"level": "WARNING"}},
}
