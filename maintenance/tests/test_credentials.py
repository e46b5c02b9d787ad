from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from chirpsyncer.models import AuditLog, Credential
from chirpsyncer.tests.factories import CredentialFactory
from maintenance.credentials import months_before
from maintenance.tasks import cleanup_inactive_credentials

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
