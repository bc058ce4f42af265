from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from comfy_router.config import GIB, database_settings, load_config
from tests.support.live_router import PROJECT_DIR


def test_it_uses_the_original_defaults_when_nothing_is_set(tmp_path: Path) -> None:
    config = load_config({"COMFY_ROUTER__DATA_DIR": str(tmp_path)})
    assert (config.host, config.port) == ("0.0.0.0", 8080)
    assert (config.username, config.password) == ("admin", "admin")
    assert (config.history_limit, config.pending_limit, config.env) == (50, 25, "dev")
    assert config.cache_dir == Path("/tmp/cache")
    assert config.root_dir == Path("/tmp/model")
    assert config.record_path == Path("/tmp/record.json")
    assert config.max_cache_bytes == 64 * GIB
    assert config.database_url == f"sqlite:///{tmp_path / 'router.sqlite3'}"
    assert config.channel_layer_url == "memory://"


def test_it_reads_every_value_from_the_environment(tmp_path: Path) -> None:
    config = load_config(
        {
            "COMFY_ROUTER__PORT": "9000",
            "COMFY_ROUTER__PENDING_LIMIT": "3",
            "COMFY_ROUTER__DOWNLOAD__MAX_CACHE_BYTES": "1_000",
            "COMFY_ROUTER__DOWNLOAD__BLOCK_PRIVATE_NETWORKS": "true",
            "COMFY_ROUTER__HEALTH__INTERVAL": "0.5",
            "COMFY_ROUTER__DATABASE_URL": "postgres://u:p@localhost:5432/router",
            "COMFY_ROUTER__CHANNEL_LAYER_URL": "redis://localhost:6379/0",
        }
    )
    assert config.port == 9000
    assert config.pending_limit == 3
    assert config.max_cache_bytes == 1000
    assert config.block_private_networks is True
    assert config.health_interval == 0.5
    assert config.database_url.startswith("postgres://")
    assert config.channel_layer_url.startswith("redis://")


@pytest.mark.parametrize(
    "name, value",
    [
        ("PORT", "abc"),
        ("PORT", "70000"),
        ("PENDING_LIMIT", "-1"),
        ("HISTORY_LIMIT", "0"),
        ("DOWNLOAD__MAX_CACHE_BYTES", "lots"),
        ("HEALTH__INTERVAL", "-2"),
        ("DOWNLOAD__BLOCK_PRIVATE_NETWORKS", "maybe"),
        ("ENV", "staging"),
        ("DATABASE_URL", "mysql://localhost/x"),
        ("CHANNEL_LAYER_URL", "amqp://localhost"),
    ],
)
def test_it_rejects_a_malformed_value_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=f"COMFY_ROUTER__{name}="):
        load_config({f"COMFY_ROUTER__{name}": value})


def test_it_refuses_the_default_credentials_in_prod() -> None:
    with pytest.raises(ImproperlyConfigured, match="refuses the default credentials"):
        load_config({"COMFY_ROUTER__ENV": "prod"})
    config = load_config(
        {"COMFY_ROUTER__ENV": "prod", "COMFY_ROUTER__PASSWORD": "a-long-secret"}
    )
    assert config.is_prod


def test_sqlite_runs_in_wal_mode_with_immediate_transactions(tmp_path: Path) -> None:
    database = database_settings(load_config({"COMFY_ROUTER__DATA_DIR": str(tmp_path)}))
    assert database["ENGINE"] == "comfy_router.sqlite_backend"  # Django's, writers taking turns
    options = database["OPTIONS"]
    assert isinstance(options, dict)
    assert options["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in options["init_command"]
    assert options["timeout"] > 0


def test_the_test_database_really_is_in_wal_mode(db: None) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"


def test_start_up_stops_with_one_line_naming_the_variable(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "serve"],
        cwd=PROJECT_DIR,
        env={"COMFY_ROUTER__PORT": "abc", "COMFY_ROUTER__DATA_DIR": str(tmp_path), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "COMFY_ROUTER__PORT='abc'" in lines[0]


def _next_link(router, forwarded_proto: str) -> str:
    graph = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
        "2": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["1", 0]}},
    }
    with router.client() as client:
        for _ in range(2):
            client.post("/workflow", json={"type": "ComfyUI", "params": {"prompt": graph}})
        page = client.get("/workflow", params={"limit": 1}, headers={"X-Forwarded-Proto": forwarded_proto})
    return str(page.json()["next"])


def test_links_say_https_only_behind_a_trusted_tls_proxy(router_factory) -> None:
    trusting = router_factory(COMFY_ROUTER__TRUST_FORWARDED_PROTO="true")
    assert _next_link(trusting, "https").startswith("https://")
    assert _next_link(router_factory(), "https").startswith("http://")
