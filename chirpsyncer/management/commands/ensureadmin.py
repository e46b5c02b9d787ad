"""Create the first admin account so a fresh install can be signed in to."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Create the superuser from DJANGO_SUPERUSER_USERNAME/PASSWORD/EMAIL, or 'admin' with a "
        "generated password (printed once) when no superuser exists yet."
    )

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "admin@example.com")
        if bool(username) != bool(password):
            # Half a configuration would otherwise quietly create 'admin' instead.
            raise CommandError(
                "Set both DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD, or neither."
            )
        if username and password:
            user, created = User.objects.get_or_create(username=username, defaults={"email": email})
            if created:
                user.is_staff = user.is_superuser = True
                user.set_password(password)
                user.save()
                self.stdout.write(f"Created superuser {username!r} from the environment.")
            else:
                self.stdout.write(f"Superuser {username!r} already exists.")
            return
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("A superuser already exists; not creating another.")
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser("admin", email, password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created superuser 'admin' with password {password}\n"
                "It is shown only this once: note it or change it in /admin/."
            )
        )
