"""Clients of the router and their API keys. A key is stored only as its SHA-256 digest: keys
are 32 random bytes, so a fast hash looked up by an index is as strong as a slow one (there is
no dictionary to try), and a request costs one indexed query."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models


class Client(models.Model):
    name = models.CharField(max_length=100, unique=True)
    enabled = models.BooleanField(
        default=True, help_text="A disabled client's keys are refused; its tasks go on."
    )
    notes = models.TextField(blank=True)
    pending_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="How many of its tasks may wait at once; empty: the global PENDING_LIMIT.",
    )
    priority = models.IntegerField(default=0, help_text="Higher goes first.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="api_keys")
    prefix = models.CharField(
        max_length=16, editable=False, help_text="The key's first characters, to tell keys apart."
    )
    # Hex SHA-256 of the whole key; unique, so indexed.
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.client_id})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
