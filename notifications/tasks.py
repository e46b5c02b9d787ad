"""The notifications app's scheduled task: the weekly report."""

from __future__ import annotations

from notifications.models import DeliveryStatus
from notifications.service import deliver_weekly_report
from scheduling.registry import scheduled_task


@scheduled_task(
    name="send_weekly_report",
    schedule="0 8 * * 1",
    description="Email staff and admins last week's runs, failures and maintenance totals.",
)
def send_weekly_report() -> dict[str, int]:
    """Mail the weekly report; fails the run only when no recipient could be reached."""
    deliveries = deliver_weekly_report()
    counts = {status: 0 for status in DeliveryStatus.values if status != DeliveryStatus.PENDING}
    for item in deliveries:
        counts[item.status] = counts.get(item.status, 0) + 1
    if deliveries and counts[DeliveryStatus.FAILED] and not counts[DeliveryStatus.SENT]:
        errors = {d.error for d in deliveries if d.error}
        raise RuntimeError(f"The weekly report reached no one: {'; '.join(sorted(errors))}")
    return {"recipients": len(deliveries), **counts}
