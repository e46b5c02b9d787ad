import factory

from notifications.models import Delivery, DeliveryStatus, Kind


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delivery

    kind = Kind.TASK_FAILURE
    recipient = factory.Sequence(lambda n: f"person{n}@example.com")
    subject = "[Failing] a task"
    status = DeliveryStatus.SENT
