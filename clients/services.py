"""Writes on clients and their keys."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from clients.keys import key_digest, key_prefix, new_key
from clients.models import ApiKey, Client

# How stale a key's last_used_at may get: it is written at most this often per key, so a client
# polling its tasks does not make a database write of every request.
LAST_USED_PRECISION = timedelta(minutes=5)


def client_create(
    *,
    name: str,
    priority: int = 0,
    pending_limit: int | None = None,
    notes: str = "",
    enabled: bool = True,
) -> Client:
    """Raises django.core.exceptions.ValidationError naming the field (a taken name, a limit
    below 1)."""
    client = Client(
        name=name, priority=priority, pending_limit=pending_limit, notes=notes, enabled=enabled
    )
    client.full_clean()
    client.save()
    return client


def api_key_create(*, client: Client) -> tuple[ApiKey, str]:
    """A new key for `client`: the stored row, and the key itself, which is kept nowhere and
    so can be shown only now."""
    key = new_key()
    api_key = ApiKey.objects.create(client=client, prefix=key_prefix(key), digest=key_digest(key))
    return api_key, key


def api_key_revoke(*, api_key_id: int) -> bool:
    """Revokes the key at once (its next request is a 401); False if it already was."""
    revoked = ApiKey.objects.filter(pk=api_key_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    return bool(revoked)


def api_key_mark_used(api_key: ApiKey) -> None:
    now = timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_PRECISION:
        return
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
