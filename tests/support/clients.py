"""Clients and API keys for tests, made as an operator makes them: with `create_client` and
`create_api_key`, run against a live router's database."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx

from tests.support.live_router import PROJECT_DIR, TLS, LiveRouter


def manage(router: LiveRouter, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR, env=router.environment(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def create_client(router: LiveRouter, name: str, *options: str) -> None:
    made = manage(router, "create_client", name, *options)
    assert made.returncode == 0, made.stderr


def create_api_key(router: LiveRouter, client: str) -> str:
    made = manage(router, "create_api_key", client)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def client_with_key(router: LiveRouter, name: str, *options: str) -> str:
    """A new client named `name` and a key of its."""
    create_client(router, name, *options)
    return create_api_key(router, name)


def key_client(router: LiveRouter, key: str, **kwargs: Any) -> httpx.Client:
    """An HTTP client that presents `key` as a Bearer token."""
    return httpx.Client(
        base_url=router.url, headers={"Authorization": f"Bearer {key}"}, timeout=10, verify=TLS,
        **kwargs,
    )  # fmt: skip
