"""The schedule form on the task page.

A ModelForm, so `full_clean` runs `Task.clean` -> `services.validate_schedule`:
the page, the admin and the Python API accept exactly the same schedules.
"""

from __future__ import annotations

import json
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Field, Layout, Submit
from django import forms
from django.forms.utils import flatatt
from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString

from scheduling.models import SCHEDULE_FIELDS, Task

# Filled in by static/scheduling/tasks.js from the cron-preview endpoint as you type.
CRON_PREVIEW = (
    '<div id="cron-preview" class="mb-3 small" aria-live="polite" '
    "data-url=\"{% url 'scheduling:cron-preview' %}\"></div>"
)


@lru_cache(maxsize=1)
def timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(available_timezones())]


@lru_cache(maxsize=1)
def _timezone_options() -> dict[str, str]:
    return {
        name: f'<option value="{escape(name)}">{escape(name)}</option>'
        for name, _ in timezone_choices()
    }


class TimezoneSelect(forms.Select):
    """A <select> of the ~600 IANA names, built by string join.

    Django renders each <option> through a template: 600 of them made the task
    page take 200 ms. The options are fixed, so they are escaped once and reused.
    """

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        options = dict(_timezone_options())
        if value in options:
            options[value] = options[value].replace("<option ", "<option selected ", 1)
        elif value:
            options = {
                value: f'<option value="{escape(value)}" selected>{escape(value)}</option>'
            } | options
        final = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        return format_html(
            "<select{}>{}</select>", flatatt(final), SafeString("".join(options.values()))
        )


class TaskScheduleForm(forms.ModelForm):
    timezone = forms.ChoiceField(
        label="Time zone",
        choices=timezone_choices,
        widget=TimezoneSelect,
        help_text="Cron times are read in this zone.",
    )
    run_at = forms.DateTimeField(
        required=False,
        label="Run at",
        help_text="For a one-off task; read in the task's time zone.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    kwargs = forms.JSONField(
        required=False,
        label="Keyword arguments (JSON)",
        help_text='A JSON object passed to the function, e.g. {"days_old": 90}.',
        widget=forms.Textarea(attrs={"rows": 3, "class": "font-monospace"}),
    )

    class Meta:
        model = Task
        fields = SCHEDULE_FIELDS
        labels = {"trigger_type": "Trigger", "interval_seconds": "Interval (seconds)"}
        help_texts = {
            "cron_expression": "Five fields: minute hour day-of-month month day-of-week, "
            "or @hourly, @daily, @weekly, @monthly, @yearly.",
        }
        widgets = {
            "cron_expression": forms.TextInput(
                attrs={"class": "font-monospace", "autocomplete": "off", "spellcheck": "false"}
            ),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.run_at and not self.is_bound:
            # Show the stored instant as wall-clock time in the task's zone.
            local = self.instance.run_at.astimezone(ZoneInfo(self.instance.timezone))
            self.initial["run_at"] = local.replace(tzinfo=None)
        self.helper = FormHelper()
        self.helper.form_id = "schedule-form"
        self.helper.attrs = {"novalidate": ""}
        self.helper.layout = Layout(
            "trigger_type",
            Div(
                Field("cron_expression"),
                HTML(CRON_PREVIEW),
                css_class="trigger-fields",
                data_trigger="cron",
            ),
            Div(Field("interval_seconds"), css_class="trigger-fields", data_trigger="interval"),
            Div(Field("run_at"), css_class="trigger-fields", data_trigger="date"),
            "timezone",
            "kwargs",
            "enabled",
            Submit("save", "Save schedule", css_class="btn-primary"),
        )
        self.helper.form_action = reverse("scheduling:task-configure", args=[self.instance.name])

    def clean_kwargs(self) -> dict:
        value = self.cleaned_data.get("kwargs")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError(
                f"kwargs: must be a JSON object, not {json.dumps(value)[:40]}"
            )
        return value

    def clean(self) -> dict:
        cleaned = super().clean()
        run_at = cleaned.get("run_at")
        zone = cleaned.get("timezone")
        if run_at and zone:
            # The field read the wall-clock time in the server's zone; re-read it in the task's.
            naive = run_at.astimezone(self._server_zone()).replace(tzinfo=None)
            cleaned["run_at"] = naive.replace(tzinfo=ZoneInfo(zone))
        return cleaned

    @staticmethod
    def _server_zone() -> ZoneInfo:
        from django.utils import timezone

        return timezone.get_current_timezone()
