"""Every domain model is browsable in the admin: list, search, add and change pages."""

import pytest
from django.db import connection
from django.urls import reverse
from django.utils.html import escape

from chirpsyncer.tests.factories import (
    AuditLogFactory,
    CredentialFactory,
    DailySyncStatFactory,
    ErrorLogFactory,
    SyncRecordFactory,
)
from scheduling.tests.stored import DEEP, LONE_SURROGATE, write_raw

FACTORIES = {
    "credential": CredentialFactory,
    "auditlog": AuditLogFactory,
    "syncrecord": SyncRecordFactory,
    "dailysyncstat": DailySyncStatFactory,
    "errorlog": ErrorLogFactory,
}
MODELS = list(FACTORIES)


@pytest.mark.parametrize("model", MODELS)
def test_changelist_lists_rows(admin_client_, model):
    obj = FACTORIES[model]()

    response = admin_client_.get(reverse(f"admin:chirpsyncer_{model}_changelist"))

    assert response.status_code == 200
    assert reverse(f"admin:chirpsyncer_{model}_change", args=[obj.pk]) in response.text


@pytest.mark.parametrize("model", MODELS)
def test_changelist_search_and_filters_work(admin_client_, model):
    FACTORIES[model]()
    url = reverse(f"admin:chirpsyncer_{model}_changelist")

    response = admin_client_.get(url, {"q": "alice"})

    assert response.status_code == 200
    assert "errornote" not in response.text


@pytest.mark.parametrize("model", [m for m in MODELS if m != "auditlog"])
def test_add_page_loads(admin_client_, model):
    response = admin_client_.get(reverse(f"admin:chirpsyncer_{model}_add"))

    assert response.status_code == 200
    assert "<form" in response.text


@pytest.mark.parametrize("model", MODELS)
def test_change_page_loads(admin_client_, model):
    obj = FACTORIES[model]()

    response = admin_client_.get(reverse(f"admin:chirpsyncer_{model}_change", args=[obj.pk]))

    assert response.status_code == 200
    assert escape(str(obj)) in response.text


def test_credential_secret_is_never_shown(admin_client_):
    credential = CredentialFactory(secret="do-not-leak-me")

    response = admin_client_.get(
        reverse("admin:chirpsyncer_credential_change", args=[credential.pk])
    )

    assert "do-not-leak-me" not in response.text


def test_admin_index_lists_the_chirpsyncer_models(admin_client_):
    response = admin_client_.get(reverse("admin:index"))

    for model in MODELS:
        assert reverse(f"admin:chirpsyncer_{model}_changelist") in response.text


def test_staff_without_model_permissions_cannot_browse(staff_client):
    response = staff_client.get(reverse("admin:chirpsyncer_auditlog_changelist"))

    assert response.status_code == 403


def test_the_audit_log_is_read_only(admin_client_):
    log = AuditLogFactory(details={"old": {"enabled": True}, "new": {"enabled": False}})

    assert admin_client_.get(reverse("admin:chirpsyncer_auditlog_add")).status_code == 403
    page = admin_client_.get(reverse("admin:chirpsyncer_auditlog_change", args=[log.pk]))
    assert 'name="action"' not in page.text
    assert "&quot;enabled&quot;: false" in page.text
    response = admin_client_.post(
        reverse("admin:chirpsyncer_auditlog_change", args=[log.pk]), {"action": "forged"}
    )
    assert response.status_code == 403
    log.refresh_from_db()
    assert log.action == "login"


SQLITE_ONLY = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="PostgreSQL's jsonb refuses this text outright"
)


@pytest.mark.parametrize(
    "stored, shown",
    [
        (DEEP, "[[[[[[["),
        pytest.param(LONE_SURROGATE, "\\ud800", marks=SQLITE_ONLY),
        pytest.param('{"a": NaN}', "NaN", marks=SQLITE_ONLY),
    ],
)
def test_audit_rows_holding_values_no_check_lets_in_still_render(admin_client_, stored, shown):
    log = AuditLogFactory()
    write_raw(log, details=stored)

    changelist = admin_client_.get(reverse("admin:chirpsyncer_auditlog_changelist"))
    page = admin_client_.get(reverse("admin:chirpsyncer_auditlog_change", args=[log.pk]))

    assert changelist.status_code == 200
    assert page.status_code == 200
    assert shown in page.text
