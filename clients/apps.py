from __future__ import annotations

from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "clients"
    verbose_name = "Clients and API keys"
    default_auto_field = "django.db.models.BigAutoField"
