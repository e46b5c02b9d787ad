"""A tiny server-rendered SVG bar chart of recent run durations.

One bar per run, oldest on the left, height proportional to the duration on
a square-root scale (so one slow run does not flatten all the others), and
coloured by status. Runs without a duration (queued, running) show as a short
grey stub. No JavaScript, no chart library: it works offline and in email.
The `fill` is the colour without a stylesheet; on the pages the `status-*`
class wins (`scheduling.css`), with colours that also read on a dark theme.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from django.utils.safestring import SafeString

from scheduling.stats import RecentRun

FILLS = {
    "success": "#198754",
    "failed": "#dc3545",
    "skipped": "#ffc107",
    "abandoned": "#212529",
    "running": "#0d6efd",
    "queued": "#adb5bd",
}
UNKNOWN = "#adb5bd"
SAFE_STATUS = {status: status for status in FILLS}  # known words need no escaping
BAR, GAP, HEIGHT, STUB = 4, 1, 24, 2


def _bar_height(duration_ms: int | None, longest: int) -> int:
    if not duration_ms or longest <= 0:
        return STUB
    return max(STUB, round(HEIGHT * math.sqrt(duration_ms / longest)))


def _bar(index: int, run: RecentRun, longest: int) -> str:
    height = _bar_height(run.duration_ms, longest)
    took = "" if run.duration_ms is None else f" {run.duration_ms} ms"
    status = SAFE_STATUS.get(run.status) or escape(run.status)
    return (
        f'<rect x="{index * (BAR + GAP)}" y="{HEIGHT - height}" width="{BAR}" '
        f'height="{height}" fill="{FILLS.get(run.status, UNKNOWN)}" class="status-{status}">'
        f"<title>#{run.id} {status}{took}</title></rect>"
    )


def render(runs: Sequence[RecentRun]) -> SafeString:
    """The SVG for `runs` (oldest first); an empty string when there are none.

    Built with f-strings over ints and escaped text: format_html per bar made
    a 100-task page spend most of its time here.
    """
    if not runs:
        return SafeString("")
    longest = max((run.duration_ms or 0) for run in runs)
    bars = "".join(_bar(i, run, longest) for i, run in enumerate(runs))
    width = len(runs) * (BAR + GAP) - GAP
    return SafeString(
        f'<svg class="sparkline" width="{width}" height="{HEIGHT}" '
        f'viewBox="0 0 {width} {HEIGHT}" role="img" '
        f'aria-label="Durations of the last {len(runs)} runs">{bars}</svg>'
    )
