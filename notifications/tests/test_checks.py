"""Start-up checks of the notification settings."""

import pytest

from notifications.checks import check_channel_timeout


@pytest.mark.parametrize("seconds", [1, 10, 300])
def test_a_sensible_channel_timeout_passes(settings, seconds):
    settings.NOTIFY_CHANNEL_TIMEOUT_SECONDS = seconds

    assert check_channel_timeout() == []


@pytest.mark.parametrize("seconds", [301, 10**12])
def test_a_channel_timeout_that_would_hold_up_exit_is_an_error(settings, seconds):
    settings.NOTIFY_CHANNEL_TIMEOUT_SECONDS = seconds

    [error] = check_channel_timeout()

    assert error.id == "notifications.E001"
    assert "Use 1 to 300 seconds" in error.hint
