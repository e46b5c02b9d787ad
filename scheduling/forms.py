"""The task forms: the schedule form on the task page, and `/tasks/new/`.

ModelForms, so `full_clean` runs `Task.clean` -> `services.validate_task`;
the views then save through `services.save_task`: the pages, the admin and
the Python API accept exactly the same tasks, and every change is audited.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Field, Fieldset, Layout, Submit
from django import forms
from django.forms.utils import flatatt
from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString

from scheduling import bounds, registry
from scheduling.kwargs import KwargsFormField
from scheduling.models import NOTIFY_FIELDS, POLICY_FIELDS, SCHEDULE_FIELDS, Task
from scheduling.widgets import FuncSelect, TaskSelect

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


class OneErrorPerCause:
    """A ModelForm mixin: a field the form already refused gets no model error on top.

    The model's `clean` sees the stored value of a field whose input was refused
    ("Enter a whole number.") and would add a second, misleading error about it
    ("interval_seconds: None must be a positive number of seconds").
    """

    def _post_clean(self) -> None:
        refused = {name: len(errors) for name, errors in self.errors.items()}
        super()._post_clean()
        for name, count in refused.items():
            if name in self._errors:
                del self._errors[name][count:]


class OptionalAfterStatus:
    """A ModelForm mixin: `after_status` may be left out, and then keeps its value.

    Scripts that post the schedule form (or the admin's) predate chains; a
    form that suddenly required the field would refuse all their posts.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "after_status" in self.fields:
            self.fields["after_status"].required = False

    def clean_after_status(self) -> str:
        return self.cleaned_data.get("after_status") or self.instance.after_status


class TaskFieldsForm(OptionalAfterStatus, OneErrorPerCause, forms.ModelForm):
    """What the schedule form and the create form share: zone, run_at, kwargs, upstream task."""

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
    after_task = forms.ModelChoiceField(
        # The fields the task page's chain card reads too (see `offered_tasks`).
        queryset=Task.objects.order_by("name").only(
            "pk", "name", "trigger_type", "after_task", "after_status", "enabled"
        ),
        required=False,
        to_field_name="name",  # scripts post the upstream's name, as the status API shows it
        label="Runs after",
        widget=TaskSelect,
        help_text="Each time a run of that task ends as chosen below (after its retries), "
        "this task runs once. While this task is paused, nothing is queued.",
    )
    kwargs = KwargsFormField(label="Keyword arguments (JSON)")

    class Meta:
        model = Task
        fields = SCHEDULE_FIELDS
        labels = {
            "trigger_type": "Trigger",
            "interval_seconds": "Interval (seconds)",
            "after_status": "When that task",
        }
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
            self.initial["run_at"] = wall_clock(self.instance.run_at, self.instance.timezone)
        # A declared field does not take the model's default (TIME_ZONE) as a new task's.
        self.initial.setdefault("timezone", self.instance.timezone)
        if self.instance.pk is not None:  # never offered to run after itself
            self.fields["after_task"].queryset = self.fields["after_task"].queryset.exclude(
                pk=self.instance.pk
            )
        self.fields["after_task"].empty_label = "Choose a task"

    def offered_tasks(self) -> list[Task]:
        """The tasks the "Runs after" select offers, read once and used for its options.

        The task page also finds the tasks that run after this one among them,
        rather than asking the database a second time.
        """
        field = self.fields["after_task"]
        tasks = list(field.queryset)
        field.choices = [("", field.empty_label), *((t.name, t.name) for t in tasks)]
        # The instance's upstream comes as its pk; the options are names.
        upstream = self.initial.get("after_task")
        if isinstance(upstream, int):
            self.initial["after_task"] = next((t.name for t in tasks if t.pk == upstream), None)
        return tasks

    @staticmethod
    def trigger_layout() -> list:
        """The trigger select and, shown by tasks.js for the chosen trigger, its own fields."""
        return [
            "trigger_type",
            Div(
                Field("cron_expression"),
                HTML(CRON_PREVIEW),
                css_class="trigger-fields",
                data_trigger="cron",
            ),
            Div(Field("interval_seconds"), css_class="trigger-fields", data_trigger="interval"),
            Div(Field("run_at"), css_class="trigger-fields", data_trigger="date"),
            Div(
                Field("after_task"),
                Field("after_status"),
                css_class="trigger-fields",
                data_trigger="after",
            ),
            "timezone",
        ]

    def clean(self) -> dict:
        cleaned = super().clean()
        run_at = cleaned.get("run_at")
        zone = cleaned.get("timezone")
        if run_at and zone:
            # The field read the wall-clock time in the server's zone; re-read it in the task's.
            try:
                naive = run_at.astimezone(self._server_zone()).replace(tzinfo=None)
                bounds.validate_wall_clock_year(naive.year)
                cleaned["run_at"] = naive.replace(tzinfo=ZoneInfo(zone))
                bounds.validate_run_at(cleaned["run_at"])
            except forms.ValidationError as exc:
                self.add_error("run_at", exc)
            except OverflowError:
                self.add_error("run_at", "run_at: that date is out of range")
        return cleaned

    @staticmethod
    def _server_zone() -> ZoneInfo:
        from django.utils import timezone

        return timezone.get_current_timezone()


def wall_clock(moment: Any, zone: str) -> Any:
    """The stored instant as the task's own clock shows it (naive), for the date input.

    A row written around the checks may hold a zone that does not exist or an
    instant that has no wall-clock time there (year 9999 in UTC+14): it is then
    shown in UTC rather than failing the page.
    """
    try:
        return moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    except (KeyError, ValueError, OverflowError):
        return moment.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


class FuncChoiceField(forms.ChoiceField):
    """`func` as a choice of registered functions (label "name — description"), never free text."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("label", "Function")
        options.setdefault("help_text", registry.HOW_TO_REGISTER)
        super().__init__(choices=registry.choices, **options)


def add_model_errors(form: forms.BaseForm, error: forms.ValidationError) -> None:
    """Put a model's ValidationError on `form`: under its field if the form has it, else on top.

    `services.save_task` validates every field, including ones a page form does
    not show (such as `func`); `form.add_error` would raise for those.
    """
    by_field = getattr(error, "error_dict", {None: error.error_list})
    for name, errors in by_field.items():
        form.add_error(name if name in form.fields else None, errors)


QUEUE_HELP = (
    "Blank: the scheduler process runs it. A name sends its runs to that Celery queue, "
    "for workers started with -Q that name (needs CELERY_BROKER_URL)."
)


class TaskScheduleForm(TaskFieldsForm):
    """The task page's schedule form (`POST /tasks/<name>/configure/`)."""

    class Meta(TaskFieldsForm.Meta):
        fields = [*SCHEDULE_FIELDS, "queue"]
        help_texts = {**TaskFieldsForm.Meta.help_texts, "queue": QUEUE_HELP}

    def clean_queue(self) -> str:
        """Left out of a post (scripts older than queues): the stored queue is kept."""
        if "queue" not in self.data:
            return self.instance.queue
        return self.cleaned_data.get("queue", "")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_id = "schedule-form"
        self.helper.attrs = {"novalidate": ""}
        self.helper.layout = Layout(
            *self.trigger_layout(),
            "kwargs",
            "queue",
            "enabled",
            Submit("save", "Save schedule", css_class="btn-primary"),
        )
        self.helper.form_action = reverse("scheduling:task-configure", args=[self.instance.name])


class TaskCreateForm(TaskFieldsForm):
    """`/tasks/new/`: a task from a registered function, with every field a person sets."""

    func = FuncChoiceField(widget=FuncSelect)

    class Meta(TaskFieldsForm.Meta):
        fields = [
            "name",
            "func",
            "description",
            *[f for f in SCHEDULE_FIELDS if f not in ("kwargs", "enabled")],
            "kwargs",
            "queue",
            *POLICY_FIELDS,
            *NOTIFY_FIELDS,
            "enabled",
        ]
        help_texts = {
            **TaskFieldsForm.Meta.help_texts,
            "name": "Letters, digits, '-' or '_'; it becomes the page address /tasks/NAME/.",
            "queue": QUEUE_HELP,
        }
        widgets = {
            **TaskFieldsForm.Meta.widgets,
            "description": forms.Textarea(attrs={"rows": 2}),
            "notify_recipients": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_id = "create-form"
        self.helper.attrs = {"novalidate": ""}
        self.helper.form_action = reverse("scheduling:task-create")
        self.helper.layout = Layout(
            Div(
                Div(
                    Fieldset("Task", "name", "func", HTML(FUNC_INFO), "description"),
                    Fieldset("Schedule", *self.trigger_layout()),
                    css_class="col-lg-6",
                ),
                Div(
                    Fieldset("Arguments", "kwargs", "queue"),
                    Fieldset("Run policy", *POLICY_FIELDS),
                    Fieldset("Notifications", *NOTIFY_FIELDS),
                    "enabled",
                    Submit("create", "Create task", css_class="btn-primary"),
                    css_class="col-lg-6",
                ),
                css_class="row gx-5",
            )
        )


# Filled in by tasks.js from the chosen function's <option> data attributes.
FUNC_INFO = '<div id="func-info" class="mb-3 small" aria-live="polite"></div>'
