"""Filters the email templates need to show numbers the way people read them."""

from __future__ import annotations

from django import template

from scheduling.display import format_duration

register = template.Library()


@register.filter
def duration(ms: float | int | None) -> str:
    """Milliseconds as `850 ms`, `12.3 s`, `4 min 05 s`."""
    return "—" if ms is None else format_duration(int(ms))


@register.filter
def percent(ratio: float | None) -> str:
    """0.975 as `97.5%`; no runs as an em dash."""
    if ratio is None:
        return "—"
    value = ratio * 100
    return f"{value:.0f}%" if value in (0, 100) else f"{value:.1f}%"
