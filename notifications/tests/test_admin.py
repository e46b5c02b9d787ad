"""The delivery log in Django admin: readable and searchable, not editable."""

import pytest

from notifications.tests.factories import DeliveryFactory

pytestmark = pytest.mark.django_db


def test_the_delivery_log_lists_and_searches_deliveries(admin_client_):
    DeliveryFactory(recipient="ops@example.com", subject="[Failing] backup_database")
    DeliveryFactory(recipient="other@example.com", subject="Unrelated message")

    response = admin_client_.get("/admin/notifications/delivery/", {"q": "ops@"})

    assert response.status_code == 200
    assert b"[Failing] backup_database" in response.content
    assert b"Unrelated message" not in response.content


def test_a_delivery_cannot_be_added_or_changed(admin_client_):
    delivery = DeliveryFactory()

    assert admin_client_.get("/admin/notifications/delivery/add/").status_code == 403
    page = admin_client_.get(f"/admin/notifications/delivery/{delivery.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
