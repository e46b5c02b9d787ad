import contextlib
import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, transaction

from chirpsyncer.models import AuditLog, Credential
from chirpsyncer.tests.factories import CredentialFactory
from maintenance import credentials as credentials_module
from maintenance.credentials import inactive_credentials, months_before
from maintenance.tasks import cleanup_inactive_credentials
from scheduling.tests.processes import wait_until

NOW = datetime(2025, 8, 31, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "months", "expected"),
    [
        (datetime(2025, 8, 31, 12, tzinfo=UTC), 6, datetime(2025, 2, 28, 12, tzinfo=UTC)),
        (datetime(2024, 8, 31, 12, tzinfo=UTC), 6, datetime(2024, 2, 29, 12, tzinfo=UTC)),
        (datetime(2025, 1, 31, 12, tzinfo=UTC), 1, datetime(2024, 12, 31, 12, tzinfo=UTC)),
        (datetime(2025, 3, 15, 8, tzinfo=UTC), 14, datetime(2024, 1, 15, 8, tzinfo=UTC)),
        (datetime(2025, 3, 15, 8, tzinfo=UTC), 0, datetime(2025, 3, 15, 8, tzinfo=UTC)),
    ],
)
def test_months_before_counts_calendar_months(moment, months, expected):
    assert months_before(moment, months) == expected


def test_months_before_keeps_local_wall_time_across_dst(settings):
    settings.TIME_ZONE = "Europe/Paris"
    paris = ZoneInfo("Europe/Paris")
    summer = datetime(2025, 7, 15, 9, 0, tzinfo=paris)  # UTC+2
    assert months_before(summer, 6) == datetime(2025, 1, 15, 9, 0, tzinfo=paris)  # UTC+1


@pytest.mark.django_db
class TestCleanupInactiveCredentials:
    @pytest.fixture(autouse=True)
    def frozen(self):
        with time_machine.travel(NOW, tick=False):
            yield

    cutoff = datetime(2025, 2, 28, 12, 0, tzinfo=UTC)

    def test_it_deactivates_stale_and_never_used_credentials_with_an_audit_row_each(self):
        stale = CredentialFactory(last_used_at=self.cutoff - timedelta(days=1))
        never_used = CredentialFactory(
            last_used_at=None, created_at=self.cutoff - timedelta(days=30)
        )
        fresh = CredentialFactory(last_used_at=NOW - timedelta(days=3))
        new_unused = CredentialFactory(last_used_at=None, created_at=NOW - timedelta(days=3))

        result = cleanup_inactive_credentials()

        assert result == {"deactivated": 2, "audit_logs": 2, "cutoff": self.cutoff.isoformat()}
        active = set(Credential.objects.filter(is_active=True).values_list("pk", flat=True))
        assert active == {fresh.pk, new_unused.pk}
        logs = AuditLog.objects.filter(action="credential.deactivated").order_by("resource_id")
        assert [(log.resource_type, log.resource_id, log.user_id) for log in logs] == sorted(
            [("credential", str(c.pk), c.user_id) for c in (stale, never_used)],
            key=lambda row: row[1],
        )
        assert logs[0].details["inactive_months"] == 6

    def test_the_cutoff_is_exact(self):
        at_cutoff = CredentialFactory(last_used_at=self.cutoff)
        just_before = CredentialFactory(last_used_at=self.cutoff - timedelta(microseconds=1))
        created_at_cutoff = CredentialFactory(last_used_at=None, created_at=self.cutoff)

        assert cleanup_inactive_credentials()["deactivated"] == 1

        inactive = set(Credential.objects.filter(is_active=False).values_list("pk", flat=True))
        assert inactive == {just_before.pk}
        assert at_cutoff.pk != created_at_cutoff.pk

    def test_months_comes_from_the_argument_then_the_setting(self, settings):
        CredentialFactory(last_used_at=NOW - timedelta(days=45))
        settings.CREDENTIAL_INACTIVE_MONTHS = 2
        assert cleanup_inactive_credentials()["deactivated"] == 0
        assert cleanup_inactive_credentials(months=1)["deactivated"] == 1

    def test_it_is_idempotent_and_fine_on_an_empty_table(self):
        assert cleanup_inactive_credentials()["deactivated"] == 0
        CredentialFactory(last_used_at=self.cutoff - timedelta(days=1))
        assert cleanup_inactive_credentials()["deactivated"] == 1
        assert cleanup_inactive_credentials()["deactivated"] == 0
        assert AuditLog.objects.filter(action="credential.deactivated").count() == 1

    def test_already_inactive_credentials_are_left_alone(self):
        CredentialFactory(is_active=False, last_used_at=self.cutoff - timedelta(days=100))
        assert cleanup_inactive_credentials()["deactivated"] == 0
        assert not AuditLog.objects.exists()

    def test_it_handles_more_than_one_batch(self, monkeypatch):
        monkeypatch.setattr("maintenance.credentials.BATCH_SIZE", 2)
        CredentialFactory.create_batch(5, last_used_at=self.cutoff - timedelta(days=1))
        assert cleanup_inactive_credentials()["deactivated"] == 5
        assert AuditLog.objects.filter(action="credential.deactivated").count() == 5


ODD_LABELS = [
    'say "hi"',
    "back\\slash and C:\\path\\",
    "it's",
    "naïve café – ünïcödé",
    "emoji 🔑🚀 and 👩‍💻",
    "tab\there, newline\nthere, control \x01 char",
    "</script><script>alert(1)</script>",
    "",
    '{"label": null}',
]


def python_details(credential: Credential, cutoff: datetime, months: int) -> dict:
    """What the task wrote when it built each audit row in Python (the reference)."""
    last_used = credential.last_used_at.isoformat() if credential.last_used_at else None
    return {
        "platform": credential.platform,
        "label": credential.label,
        "last_used_at": last_used,
        "inactive_months": months,
        "cutoff": cutoff.isoformat(),
    }


@pytest.mark.django_db
class TestAuditRowsBuiltBySql:
    """The database builds each audit row's JSON; it must say what Python used to write."""

    @pytest.mark.parametrize("time_zone", ["UTC", "Europe/Paris", "America/St_Johns"])
    def test_details_match_what_python_wrote_for_odd_labels_and_times(self, settings, time_zone):
        settings.TIME_ZONE = time_zone
        stale = NOW - timedelta(days=400)
        last_used = [
            None,
            stale,  # whole seconds: isoformat() prints no fraction
            stale.replace(microsecond=100000),  # trailing zeros are kept
            stale.replace(microsecond=1),
            datetime(2024, 3, 31, 1, 30, tzinfo=ZoneInfo("Europe/Paris")),  # a DST day
        ]
        credentials = [
            CredentialFactory(
                label=label,
                platform=f"plat'form {i}",
                last_used_at=last_used[i % len(last_used)],
                created_at=stale,
            )
            for i, label in enumerate(ODD_LABELS)
        ]
        with time_machine.travel(NOW, tick=False):
            result = cleanup_inactive_credentials()
        cutoff = datetime.fromisoformat(result["cutoff"])

        assert result["deactivated"] == len(credentials)
        for credential in credentials:
            credential.refresh_from_db()
            (log,) = AuditLog.objects.filter(action="credential.deactivated").filter(
                resource_id=str(credential.pk)
            )
            expected = python_details(credential, cutoff, 6)
            assert log.details == expected
            # Key lookups (admin filters, reports) find the same values.
            assert AuditLog.objects.filter(
                pk=log.pk,
                details__label=credential.label,
                details__platform=credential.platform,
                details__cutoff=expected["cutoff"],
                details__inactive_months=6,
            ).exists()
            assert (log.user_id, log.resource_type, log.success) == (
                credential.user_id,
                "credential",
                True,
            )
            assert (log.ip_address, log.user_agent, log.created_at) == (None, "", NOW)

    def test_it_deactivates_exactly_what_the_queryset_selects(self):
        cutoff = datetime(2025, 2, 28, 12, 0, tzinfo=UTC)
        moments = [None, cutoff - timedelta(microseconds=1), cutoff, NOW]
        for last_used in moments:
            for created in moments[1:]:
                for active in (True, False):
                    CredentialFactory(last_used_at=last_used, created_at=created, is_active=active)
        expected = set(inactive_credentials(cutoff).values_list("pk", flat=True))

        with time_machine.travel(NOW, tick=False):
            assert cleanup_inactive_credentials()["deactivated"] == len(expected)

        logged = AuditLog.objects.values_list("resource_id", flat=True)
        assert sorted(logged) == sorted(str(pk) for pk in expected)
        assert not Credential.objects.filter(pk__in=expected, is_active=True).exists()


def _waiting_for_a_lock(pid: int) -> bool:
    """PostgreSQL: the session with backend `pid` waits for a lock."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted", [pid])
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_overlapping_runs_log_each_credential_once(monkeypatch):
    """A second run that starts while the first holds its batch open logs nothing twice.

    The first run stops inside its batch transaction (rows switched off and
    logged, not committed) until the second run is waiting: on PostgreSQL for
    the first run's row locks, on SQLite for its write lock.
    """
    stale = CredentialFactory.create_batch(20, last_used_at=NOW - timedelta(days=400))
    first_in_batch, second_started = threading.Event(), threading.Event()
    results, errors, second_pid = {}, [], []

    @contextlib.contextmanager
    def atomic_held_open_by_the_first_run():
        with transaction.atomic():
            yield
            if threading.current_thread().name == "first" and not first_in_batch.is_set():
                first_in_batch.set()
                wait_until(second_started.is_set, 10, "the second run to start")
                if connection.vendor == "postgresql":
                    wait_until(
                        lambda: _waiting_for_a_lock(second_pid[0]),
                        10,
                        "the second run to wait for the first run's row locks",
                    )

    monkeypatch.setattr(
        credentials_module, "transaction", SimpleNamespace(atomic=atomic_held_open_by_the_first_run)
    )

    def run(name: str) -> None:
        try:
            if name == "second":
                wait_until(first_in_batch.is_set, 10, "the first run to be inside its batch")
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT pg_backend_pid()")
                        second_pid.append(cursor.fetchone()[0])
                second_started.set()
            results[name] = cleanup_inactive_credentials()
        except Exception as error:  # noqa: BLE001 - reported by the test thread
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(name,), name=name) for name in ("first", "second")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert (results["first"]["deactivated"], results["second"]["deactivated"]) == (20, 0)
    logged = list(AuditLog.objects.values_list("resource_id", flat=True))
    assert sorted(logged) == sorted(str(c.pk) for c in stale)
