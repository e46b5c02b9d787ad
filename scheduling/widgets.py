"""Form widgets that render many options by string join rather than a template each.

Django renders every <option> through a template; a page with a hundred tasks
or every registered function would spend more on that than on its queries.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.utils import flatatt
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString

from scheduling import display, jsontext, registry


class TaskSelect(forms.Select):
    """The upstream-task <select>, joined as a string like `TimezoneSelect`: a row per task."""

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        chosen = "" if value is None else str(value)
        options = [
            f'<option value="{escape(str(key))}"{" selected" if str(key) == chosen else ""}>'
            f"{escape(str(label))}</option>"
            for key, label in self.choices
        ]
        final = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        return format_html("<select{}>{}</select>", flatatt(final), SafeString("".join(options)))


class FuncSelect(forms.Select):
    """Registered functions, each <option> carrying its description, default schedule and
    kwargs as data attributes: tasks.js shows them and fills the form's empty fields."""

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        options = ['<option value="">Choose a function</option>']
        for entry in sorted(registry.registered().values(), key=lambda e: e.name):
            data = {
                "value": entry.name,
                "data-description": entry.description,
                "data-kwargs": jsontext.display(entry.kwargs, indent=None),
            }
            if entry.schedule:
                fields = registry.parse_schedule_text(entry.schedule)
                data["data-trigger"] = fields["trigger_type"]
                data["data-schedule"] = fields.get("cron_expression") or str(
                    fields.get("interval_seconds")
                )
                data["data-schedule-words"] = _schedule_words(fields)
            chosen = " selected" if entry.name == value else ""
            options.append(f"<option{flatatt(data)}{chosen}>{escape(entry.label)}</option>")
        final = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        return format_html("<select{}>{}</select>", flatatt(final), SafeString("".join(options)))


def _schedule_words(fields: dict[str, Any]) -> str:
    if fields["trigger_type"] == "interval":
        return display.describe_interval(fields["interval_seconds"])
    return display.describe_cron(fields["cron_expression"])
