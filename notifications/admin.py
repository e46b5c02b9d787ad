from django import forms
from django.contrib import admin, messages

from notifications import channel_posts, channels
from notifications.models import Channel, Delivery, Event

# Each test waits for its service (up to NOTIFY_CHANNEL_TIMEOUT_SECONDS).
MAX_TESTS_AT_ONCE = 5


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """The delivery log is a record: readable, filterable, never edited by hand."""

    list_display = ("created_at", "kind", "recipient", "channel", "subject", "status", "task")
    list_filter = ("status", "kind", "channel", "created_at")
    search_fields = ("recipient", "subject", "task__name", "error")
    date_hierarchy = "created_at"
    list_select_related = ("task", "channel")
    raw_id_fields = ("task", "execution", "channel")
    readonly_fields = [f.name for f in Delivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class WriteOnlyInput(forms.TextInput):
    """Never renders a value: the stored secret is not sent back to the browser,
    nor is a typed URL shown again after a form error."""

    def format_value(self, value):
        return None


class ChannelForm(forms.ModelForm):
    url = forms.CharField(
        label="Apprise URL",
        required=False,
        max_length=channels.MAX_URL_LENGTH,
        strip=True,
        widget=WriteOnlyInput(attrs={"autocomplete": "off", "spellcheck": "false", "size": 80}),
    )
    events = forms.MultipleChoiceField(choices=Event.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Channel
        fields = ["name", "url", "enabled", "events", "tasks"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        examples = "e.g. slack://TokenA/TokenB/TokenC, discord://WebhookID/Token, ntfy://topic"
        if self.instance.pk:
            self.fields["url"].help_text = (
                f"Stored: {self.instance.masked_url} (shown masked). Leave blank to keep it; "
                f"type a URL to replace it ({examples})."
            )
        else:
            self.fields["url"].help_text = f"A secret, never shown again in full ({examples})."

    def clean_url(self) -> str:
        """Blank keeps the stored URL; a new one is checked by the model's validator."""
        url = self.cleaned_data.get("url") or ""
        if url:
            return url
        if self.instance.pk:
            return self.instance.url
        raise forms.ValidationError("Enter the channel's Apprise URL.")


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    """Channels with their URL masked everywhere, and a test you can send."""

    form = ChannelForm
    list_display = ("name", "shown_url", "enabled", "event_list", "task_scope")
    list_filter = ("enabled",)
    # Never the URL: searching it would let a viewer probe the secret.
    search_fields = ("name",)
    filter_horizontal = ("tasks",)
    actions = ["send_test"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tasks")

    @admin.display(description="Apprise URL (masked)")
    def shown_url(self, channel: Channel) -> str:
        return channel.masked_url

    @admin.display(description="Events")
    def event_list(self, channel: Channel) -> str:
        return ", ".join(channel.events)

    @admin.display(description="Tasks")
    def task_scope(self, channel: Channel) -> str:
        names = [task.name for task in channel.tasks.all()]
        return ", ".join(names) if names else "All tasks"

    @admin.action(description="Send a test message", permissions=["change"])
    def send_test(self, request, queryset) -> None:
        """Post a test to each selected channel now and show what its service answered."""
        selected = list(queryset[: MAX_TESTS_AT_ONCE + 1])
        if len(selected) > MAX_TESTS_AT_ONCE:
            self.message_user(
                request,
                f"Select at most {MAX_TESTS_AT_ONCE} channels: each test waits for its service.",
                messages.WARNING,
            )
            return
        for channel in selected:
            answer = channel_posts.send_test(channel, request.user)
            outcome = "accepted the test" if answer.ok else "did not take the test"
            level = messages.SUCCESS if answer.ok else messages.ERROR
            # "Channel ..." first: admin capitalises a message's first letter.
            self.message_user(request, f"Channel {channel.name} {outcome}: {answer.text}", level)
