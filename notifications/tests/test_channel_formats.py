"""The bodies Slack- and Discord-shaped URLs produce, received by a real local server.

Apprise's Slack and Discord plugins post to fixed hosts (hooks.slack.com,
discord.com) kept in a class attribute. Pointing that attribute at the local
endpoint lets Apprise's own plugin build and send its real request; only the
host differs from production. (Apprise's own tests patch `requests.post`
instead; here the request really travels.)
"""

import pytest
from apprise.plugins.discord import NotifyDiscord
from apprise.plugins.slack import NotifySlack

from notifications import channels

TITLE = "[Failing] backup-db: OSError: disk full"
BODY = "OSError: disk full\nhttps://scheduler.example.com/tasks/backup-db/"


@pytest.fixture
def slack_and_discord_hosts(endpoint, monkeypatch):
    monkeypatch.setattr(NotifySlack, "webhook_url", f"http://127.0.0.1:{endpoint.port}/services")
    monkeypatch.setattr(
        NotifyDiscord, "notify_url", f"http://127.0.0.1:{endpoint.port}/api/webhooks"
    )
    return endpoint


def test_a_slack_webhook_gets_an_attachment_with_title_body_and_failure_colour(
    slack_and_discord_hosts,
):
    url = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#ops"

    answer = channels.send(url, TITLE, BODY, tone="failure", timeout=5)

    assert answer.ok and answer.text == "Sent Slack notification to #ops."
    [request] = slack_and_discord_hosts.requests
    assert request.path == "/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"
    payload = request.json
    assert payload["channel"] == "#ops"
    [attachment] = payload["attachments"]
    assert (attachment["title"], attachment["text"]) == (TITLE, BODY)
    assert attachment["color"] == "#A32037"  # Apprise's failure red
    assert attachment["footer"] == "ChirpSyncer Scheduler"


def test_a_discord_webhook_gets_title_and_body_as_content(slack_and_discord_hosts):
    url = "https://discord.com/api/webhooks/1234567890/abcdefghijklmnopqrstuvwxyz"

    answer = channels.send(url, TITLE, BODY, tone="failure", timeout=5)

    assert answer.ok and answer.text == "Sent Discord notification."
    [request] = slack_and_discord_hosts.requests
    assert request.path == "/api/webhooks/1234567890/abcdefghijklmnopqrstuvwxyz"
    assert request.json["content"] == f"{TITLE}\r\n{BODY}"


def test_a_rejected_slack_token_comes_back_as_the_answer(slack_and_discord_hosts, monkeypatch):
    monkeypatch.setattr(
        NotifySlack, "webhook_url", f"http://127.0.0.1:{slack_and_discord_hosts.port}/status/403"
    )

    url = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/"
    answer = channels.send(url, TITLE, BODY, timeout=5)

    assert not answer.ok
    assert "Slack" in answer.text and "403" in answer.text
    assert "TIiajkdnlazkcOXrIdevi7FQ" not in answer.text
