"""The API key check comfy_router.auth calls (setting API_KEY_PRINCIPAL): a key to the principal
of its client."""

from __future__ import annotations

from clients.selectors import api_key_for
from clients.services import api_key_mark_used
from comfy_router.auth import Principal


def principal_for_key(key: str) -> Principal | None:
    api_key = api_key_for(key)
    if api_key is None:
        return None
    api_key_mark_used(api_key)
    client = api_key.client
    return Principal(
        name=client.name,
        client_id=client.pk,
        priority=client.priority,
        pending_limit=client.pending_limit,
    )
