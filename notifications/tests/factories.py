import factory

from notifications.models import Channel, Delivery, DeliveryStatus, Kind


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delivery

    kind = Kind.TASK_FAILURE
    recipient = factory.Sequence(lambda n: f"person{n}@example.com")
    subject = "[Failing] a task"
    status = DeliveryStatus.SENT


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel

    name = factory.Sequence(lambda n: f"channel-{n}")
    url = "json://127.0.0.1:9/hook"
    events = ["failure", "recovery"]
