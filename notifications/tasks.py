"""The notifications app's scheduled task: the weekly report."""

from __future__ import annotations

from notifications.models import DeliveryStatus
from notifications.service import deliver_weekly_report
from scheduling.registry import scheduled_task


@scheduled_task(
    name="send_weekly_report",
    schedule="0 8 * * 1",
    description="Email staff and admins last week's runs, failures and maintenance totals "
    "(and post a summary to the channels that want it).",
)
def send_weekly_report() -> dict[str, int]:
    """Mail the weekly report; fails the run only when no recipient could be reached.

    Channel posts are still `pending` when this returns (they go out in the
    background); they count as possibly reached.
    """
    deliveries = deliver_weekly_report(to_channels=True)
    counts = {status: 0 for status in DeliveryStatus.values}
    for item in deliveries:
        counts[item.status] += 1
    reached = counts[DeliveryStatus.SENT] + counts.pop(DeliveryStatus.PENDING)
    if deliveries and counts[DeliveryStatus.FAILED] and not reached:
        errors = {d.error for d in deliveries if d.error}
        raise RuntimeError(f"The weekly report reached no one: {'; '.join(sorted(errors))}")
    channels = sum(1 for item in deliveries if item.channel_id)
    return {"recipients": len(deliveries) - channels, "channels": channels, **counts}
