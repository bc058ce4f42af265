from __future__ import annotations

from django.apps import AppConfig


class DownloadsConfig(AppConfig):
    name = "downloads"
    verbose_name = "Downloads"
    default_auto_field = "django.db.models.BigAutoField"
    background_services = ["downloads.startup.run"]
