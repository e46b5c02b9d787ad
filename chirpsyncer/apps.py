from django.apps import AppConfig


class ChirpSyncerConfig(AppConfig):
    name = "chirpsyncer"
    verbose_name = "ChirpSyncer data"

    def ready(self) -> None:
        from chirpsyncer import signins  # noqa: F401  (connects the sign-in audit receiver)
