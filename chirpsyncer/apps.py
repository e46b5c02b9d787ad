from django.apps import AppConfig


class ChirpSyncerConfig(AppConfig):
    name = "chirpsyncer"
    verbose_name = "ChirpSyncer data"
