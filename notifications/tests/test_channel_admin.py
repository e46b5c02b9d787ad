"""Channels in Django admin: the URL is write-only and masked, bad URLs are form
errors, and "Send a test message" reports what the service answered."""

import logging

import pytest
from django.contrib.messages import get_messages

from notifications.admin import ChannelForm
from notifications.models import Channel, Delivery, DeliveryStatus
from notifications.tests.factories import ChannelFactory, DeliveryFactory
from notifications.tests.smtp import free_port

SECRET = "Sup3rSecretToken"
ADD, LIST = "/admin/notifications/channel/add/", "/admin/notifications/channel/"

pytestmark = pytest.mark.django_db


def change_url(channel):
    return f"/admin/notifications/channel/{channel.pk}/change/"


def form_data(**fields):
    return {"name": "ops", "url": "", "enabled": "on", "events": ["failure", "recovery"], **fields}


def secret_url(endpoint=None):
    host = f"127.0.0.1:{endpoint.port}" if endpoint else "hooks.example.com"
    return f"json://ops:{SECRET}@{host}/alerts/{SECRET}"


def test_a_channel_is_added_and_its_url_never_shown_again(admin_client_):
    response = admin_client_.post(ADD, form_data(url=secret_url()))

    assert response.status_code == 302, response.content.decode()[:2000]
    channel = Channel.objects.get()
    assert channel.url == secret_url()
    assert channel.events == ["failure", "recovery"]
    for page in (LIST, change_url(channel), f"{change_url(channel)[:-7]}history/"):
        content = admin_client_.get(page).content.decode()
        assert SECRET not in content, page
    listing = admin_client_.get(LIST).content.decode()
    assert "json://ops:****@hooks.example.com/alerts/S...n" in listing


def test_a_blank_url_keeps_the_stored_one_and_a_new_one_replaces_it(admin_client_):
    channel = ChannelFactory(url=secret_url())

    admin_client_.post(change_url(channel), form_data(name="renamed"))
    channel.refresh_from_db()
    assert (channel.name, channel.url) == ("renamed", secret_url())

    admin_client_.post(change_url(channel), form_data(url="ntfy://ops-alerts"))
    channel.refresh_from_db()
    assert channel.url == "ntfy://ops-alerts"


@pytest.mark.parametrize(
    "url, message",
    [
        ("file:///etc/passwd", "does not know the scheme file://"),
        ("syslog://", "notifies this server itself"),
        ("json://" + "a" * 100_000, "at most 2048 characters"),
        ("slack://not-enough-tokens", "incomplete or malformed"),
    ],
)
def test_a_bad_url_is_a_form_error_and_changes_nothing(admin_client_, url, message):
    channel = ChannelFactory(name="ops", url=secret_url())

    response = admin_client_.post(change_url(channel), form_data(name="renamed", url=url))

    assert response.status_code == 200
    assert message in response.content.decode()
    channel.refresh_from_db()
    assert (channel.name, channel.url) == ("ops", secret_url())


def test_undecodable_bytes_are_a_form_error_not_a_500(admin_client_):
    body = "name=ops&events=failure&url=%ED%A0%80%FFjson%3A%2F%2Fhost%2Fx"
    response = admin_client_.post(ADD, body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 200
    assert "Apprise does not know the scheme" in response.content.decode()
    assert not Channel.objects.exists()


def test_a_lone_surrogate_is_refused_by_the_form():
    form = ChannelForm(data=form_data(url="json://host/\ud800"))

    assert not form.is_valid()
    assert "not valid text" in form.errors["url"][0]


def test_a_new_channel_needs_a_url_and_an_event(admin_client_):
    response = admin_client_.post(ADD, {"name": "ops", "url": "  "})

    errors = response.context["adminform"].form.errors
    assert errors["url"] == ["Enter the channel's Apprise URL."]
    assert "events" in errors


def test_searching_never_matches_the_url(admin_client_):
    ChannelFactory(name="ops", url=secret_url())

    response = admin_client_.get(LIST, {"q": SECRET})

    assert "0 results" in response.content.decode()


def test_send_test_reports_the_services_answer(admin_client_, endpoint, caplog):
    caplog.set_level(logging.DEBUG)
    working = ChannelFactory(name="working", url=secret_url(endpoint))
    refusing = ChannelFactory(name="refusing", url=f"json://127.0.0.1:{free_port()}/{SECRET}")

    response = admin_client_.post(
        LIST, {"action": "send_test", "_selected_action": [working.pk, refusing.pk]}, follow=True
    )

    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert "Channel refusing did not take the test: A Connection error occurred" in shown[0]
    assert shown[1] == "Channel working accepted the test: Sent JSON POST notification."
    [request] = endpoint.requests
    assert request.json["title"] == "ChirpSyncer Scheduler: test message"
    assert 'the channel "working", sent by root' in request.json["message"]
    logged = dict(Delivery.objects.values_list("recipient", "status"))
    assert logged == {"working": DeliveryStatus.SENT, "refusing": DeliveryStatus.FAILED}
    assert SECRET not in response.content.decode() + caplog.text + "".join(shown)
    assert SECRET not in Delivery.objects.get(recipient="refusing").error


def test_send_test_needs_the_change_permission(client, staff):
    staff.user_permissions.add(
        *staff.user_permissions.model.objects.filter(codename="view_channel")
    )
    client.force_login(staff)

    response = client.get(LIST)

    assert response.status_code == 200
    assert "send_test" not in response.content.decode()


def test_channel_posts_are_in_the_delivery_log(admin_client_):
    channel = ChannelFactory(name="ops-slack")
    DeliveryFactory(channel=channel, recipient="ops-slack", subject="[Failing] x")
    DeliveryFactory(recipient="someone@example.com", subject="A mail")

    log = "/admin/notifications/delivery/"
    response = admin_client_.get(log, {"channel__id__exact": channel.pk})

    content = response.content.decode()
    assert "[Failing] x" in content and "A mail" not in content
