import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from chirpsyncer import models


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class CredentialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Credential

    user = factory.SubFactory(UserFactory)
    platform = "mastodon"
    label = factory.Sequence(lambda n: f"account {n}")
    secret = "token-not-a-real-secret"
    last_used_at = factory.LazyFunction(timezone.now)


class AuditLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.AuditLog

    user = factory.SubFactory(UserFactory)
    action = "login"
    resource_type = "account"
    resource_id = "1"
    ip_address = "10.0.0.1"
    details = factory.LazyFunction(lambda: {"demo": True})


class SyncRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.SyncRecord

    user = factory.SubFactory(UserFactory)
    platform = "bluesky"
    success = True
    posts_synced = 3
    duration_ms = 1200


class DailySyncStatFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.DailySyncStat

    user = factory.SubFactory(UserFactory)
    date = factory.LazyFunction(lambda: timezone.localdate())


class ErrorLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ErrorLog

    level = "ERROR"
    source = "sync.mastodon"
    message = "upstream returned 502"
