"""Reads on clients: the key a request presents, and a client's pending limit."""

from __future__ import annotations

import hmac

from django.conf import settings

from clients.keys import is_well_formed, key_digest
from clients.models import ApiKey, Client


def api_key_for(key: str) -> ApiKey | None:
    """The live key `key` is (with its client), or None: malformed, unknown, revoked, or its
    client disabled, all alike. The key is hashed before anything looks at it, and the stored
    digest compared in constant time, so timing tells nothing of the key's characters."""
    if not is_well_formed(key):
        return None
    digest = key_digest(key)
    found = (
        ApiKey.objects.select_related("client")
        .filter(digest=digest, revoked_at__isnull=True, client__enabled=True)
        .first()
    )
    if found is None or not hmac.compare_digest(found.digest, digest):
        return None
    return found


def client_for_key(key: str) -> Client | None:
    api_key = api_key_for(key)
    return None if api_key is None else api_key.client


def pending_limit_for(client_id: int | None) -> int:
    """How many waiting tasks the client may have (None: the operator): its own limit, else
    PENDING_LIMIT."""
    own = None
    if client_id is not None:
        own = Client.objects.filter(pk=client_id).values_list("pending_limit", flat=True).first()
    return own or settings.ROUTER.pending_limit
