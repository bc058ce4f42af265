"""Reads every `COMFY_ROUTER__*` variable once, checks it, and fails start-up naming the culprit."""

from __future__ import annotations

import dataclasses
import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, TypeVar
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from comfy_router.durations import parse_duration
from comfy_router.sizes import parse_size

PREFIX = "COMFY_ROUTER__"
GIB = 1024**3
MIB = 1024**2
# Prompts a node may hold waiting behind the one it runs: one is enough to close the gap
# between prompts; more only delay what stealing must take back.
QUEUE_AHEAD_MAX = 8

T = TypeVar("T")


@dataclass(frozen=True)
class RouterConfig:
    host: str
    port: int
    username: str
    password: str
    env: str
    history_limit: int  # 0: no count limit (HISTORY_MAX_AGE alone decides)
    history_max_age: float | None  # seconds a finished task is kept; None: no age limit
    pending_limit: int
    data_dir: Path
    database_url: str
    channel_layer_url: str
    log_level: str
    log_format: str  # text, or json: one object per line for log collectors
    max_request_bytes: int
    webhook_secret: str
    trust_forwarded_proto: bool
    public_url: str  # the router's address for webhooks' output URLs, without a trailing /
    # downloads
    cache_dir: Path
    root_dir: Path
    record_path: Path
    max_cache_bytes: int
    block_private_networks: bool
    download_timeout: float
    # nodes
    health_interval: float
    health_timeout: float
    health_failures: int
    websocket_idle: float
    capabilities_interval: float
    queue_ahead: int
    # tasks
    task_max_attempts: int
    task_timeout: float
    task_max_output_bytes: int
    task_lease: float
    affinity_wait: float
    # One line per `COMFY_ROUTER__*` variable set but not read: most likely a typo (`__PASWORD`),
    # which would otherwise be ignored without a word. `serve` and `worker` log them at start.
    unknown_variables: tuple[str, ...] = ()

    @property
    def is_prod(self) -> bool:
        return self.env == "prod"

    @property
    def scaled_out(self) -> bool:
        """Several processes share the work through Redis (API processes and `worker`s); else
        one `serve` process does everything, with the in-memory channel layer. The one test of
        which it is: everything that differs between the two asks this."""
        return not self.channel_layer_url.startswith("memory://")


class _Reader:
    def __init__(self, environment: Mapping[str, str]) -> None:
        self.environment = environment
        self.read: set[str] = set()

    def unknown(self) -> tuple[str, ...]:
        """A line for each prefixed variable of the environment that no setting read, with the
        setting it most likely meant."""
        known = [PREFIX + name for name in sorted(self.read)]
        lines = []
        for name in sorted(self.environment):
            if name.startswith(PREFIX) and name not in known:
                guess = difflib.get_close_matches(name, known, n=1)
                hint = f" (did you mean {guess[0]}?)" if guess else ""
                lines.append(f"{name} is not a setting of the router and is ignored{hint}")
        return tuple(lines)

    def _raw(self, name: str) -> str | None:
        self.read.add(name)
        value = self.environment.get(PREFIX + name)
        return None if value is None else value.strip()

    def _parse(self, name: str, default: T, parse: Callable[[str], T], expected: str) -> T:
        raw = self._raw(name)
        if raw is None or raw == "":
            return default
        try:
            return parse(raw)
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"Unexpected value {PREFIX}{name}={raw!r}: expected {expected}"
            ) from None

    def string(self, name: str, default: str, choices: tuple[str, ...] = ()) -> str:
        def parse(raw: str) -> str:
            if choices and raw not in choices:
                raise ValueError(raw)
            return raw

        expected = "one of " + ", ".join(choices) if choices else "a string"
        return self._parse(name, default, parse, expected)

    def integer(self, name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        def parse(raw: str) -> int:
            value = int(raw.replace("_", ""))
            if value < minimum or (maximum is not None and value > maximum):
                raise ValueError(raw)
            return value

        bounds = f" from {minimum} to {maximum}" if maximum is not None else f" >= {minimum}"
        return self._parse(name, default, parse, "an integer" + bounds)

    def size(self, name: str, default: int, minimum: int = 0) -> int:
        def parse(raw: str) -> int:
            value = parse_size(raw)
            if value < minimum:
                raise ValueError(raw)
            return value

        expected = f"a size such as 64GiB, 500MB or a number of bytes, at least {minimum} bytes"
        return self._parse(name, default, parse, expected)

    def seconds(self, name: str, default: float, minimum: float = 0.0) -> float:
        def parse(raw: str) -> float:
            value = float(raw)
            if not value >= minimum or value == float("inf"):
                raise ValueError(raw)
            return value

        return self._parse(name, default, parse, f"a number of seconds >= {minimum:g}")

    def boolean(self, name: str, default: bool) -> bool:
        truthy, falsy = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}

        def parse(raw: str) -> bool:
            if raw.lower() in truthy:
                return True
            if raw.lower() in falsy:
                return False
            raise ValueError(raw)

        return self._parse(name, default, parse, "true or false")

    def duration(self, name: str) -> float | None:
        def parse(raw: str) -> float:
            value = parse_duration(raw)
            if not value > 0:
                raise ValueError(raw)
            return value

        expected = "a duration such as 7d, 12h, 90m or a number of seconds, above 0"
        return self._parse(name, None, parse, expected)

    def public_url(self, name: str) -> str:
        def parse(raw: str) -> str:
            parts = urlsplit(raw)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(raw)
            if parts.query or parts.fragment or "?" in raw or "#" in raw:
                raise ValueError(raw)
            return raw.rstrip("/")

        expected = "an http or https URL such as https://router.example.com, no query or fragment"
        return self._parse(name, "", parse, expected)

    def path(self, name: str, default: str) -> Path:
        return Path(self.string(name, default)).expanduser()

    def url(self, name: str, default: str, schemes: tuple[str, ...]) -> str:
        def parse(raw: str) -> str:
            scheme = raw.split("://", 1)[0] if "://" in raw else ""
            if scheme not in schemes:
                raise ValueError(raw)
            return raw

        return self._parse(name, default, parse, "a URL with scheme " + " or ".join(schemes))


DATABASE_SCHEMES = ("sqlite", "postgres", "postgresql", "pgsql", "psql")
CHANNEL_LAYER_SCHEMES = ("memory", "redis", "rediss")


def load_config(environment: Mapping[str, str] | None = None) -> RouterConfig:
    read = _Reader(os.environ if environment is None else environment)
    data_dir = read.path("DATA_DIR", "./data").resolve()
    config = RouterConfig(
        host=read.string("HOST", "0.0.0.0"),
        port=read.integer("PORT", 8080, minimum=1, maximum=65535),
        username=read.string("USERNAME", "admin"),
        password=read.string("PASSWORD", "admin"),
        env=read.string("ENV", "dev", choices=("dev", "test", "prod")),
        history_limit=read.integer("HISTORY_LIMIT", 50, minimum=0),
        history_max_age=read.duration("HISTORY_MAX_AGE"),
        pending_limit=read.integer("PENDING_LIMIT", 25, minimum=1),
        data_dir=data_dir,
        database_url=read.url(
            "DATABASE_URL", f"sqlite:///{data_dir / 'router.sqlite3'}", DATABASE_SCHEMES
        ),
        channel_layer_url=read.url("CHANNEL_LAYER_URL", "memory://", CHANNEL_LAYER_SCHEMES),
        log_level=read.string(
            "LOG_LEVEL", "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        ),
        log_format=read.string("LOG_FORMAT", "text", choices=("text", "json")),
        max_request_bytes=read.size("MAX_REQUEST_BYTES", 32 * MIB, minimum=1024),
        webhook_secret=read.string("WEBHOOK_SECRET", ""),
        trust_forwarded_proto=read.boolean("TRUST_FORWARDED_PROTO", False),
        public_url=read.public_url("PUBLIC_URL"),
        cache_dir=read.path("DOWNLOAD__CACHE_DIR", "/tmp/cache"),
        root_dir=read.path("DOWNLOAD__ROOT_DIR", "/tmp/model"),
        record_path=read.path("DOWNLOAD__RECORD_PATH", "/tmp/record.json"),
        max_cache_bytes=read.size("DOWNLOAD__MAX_CACHE_BYTES", 64 * GIB, minimum=1),
        block_private_networks=read.boolean("DOWNLOAD__BLOCK_PRIVATE_NETWORKS", False),
        download_timeout=read.seconds("DOWNLOAD__TIMEOUT", 60.0, minimum=0.1),
        health_interval=read.seconds("HEALTH__INTERVAL", 2.0, minimum=0.05),
        health_timeout=read.seconds("HEALTH__TIMEOUT", 3.0, minimum=0.05),
        health_failures=read.integer("HEALTH__FAILURES", 3, minimum=1),
        websocket_idle=read.seconds("NODE__WEBSOCKET_IDLE", 30.0, minimum=0.0),
        capabilities_interval=read.seconds("NODE__CAPABILITIES_INTERVAL", 300.0, minimum=1.0),
        queue_ahead=read.integer("NODE__QUEUE_AHEAD", 1, minimum=0, maximum=QUEUE_AHEAD_MAX),
        task_max_attempts=read.integer("TASK__MAX_ATTEMPTS", 2, minimum=1),
        task_timeout=read.seconds("TASK__TIMEOUT", 3600.0, minimum=1.0),
        task_max_output_bytes=read.size("TASK__MAX_OUTPUT_BYTES", 4 * GIB, minimum=1),
        task_lease=read.seconds("TASK__LEASE", 30.0, minimum=1.0),
        affinity_wait=read.seconds("SCHEDULER__AFFINITY_WAIT", 2.0, minimum=0.0),
    )
    config = dataclasses.replace(config, unknown_variables=read.unknown())
    if config.is_prod and (config.username, config.password) == ("admin", "admin"):
        raise ImproperlyConfigured(
            f"{PREFIX}ENV=prod refuses the default credentials: "
            f"set {PREFIX}USERNAME and {PREFIX}PASSWORD"
        )
    if config.history_limit == 0 and config.history_max_age is None:
        raise ImproperlyConfigured(
            f"{PREFIX}HISTORY_LIMIT=0 keeps finished tasks by age alone: "
            f"set {PREFIX}HISTORY_MAX_AGE too (7d, 12h, 90m or seconds)"
        )
    if not config.username or not config.password:
        raise ImproperlyConfigured(f"{PREFIX}USERNAME and {PREFIX}PASSWORD must not be empty")
    return config


WAL_WRITER_CHECKPOINT_PAGES = 10_000  # 40 MB of log with 4 KB pages


def database_settings(config: RouterConfig) -> dict[str, object]:
    """Django DATABASES['default'] for the configured URL; SQLite gets WAL and IMMEDIATE writes."""
    database = environ.Env.db_url_config(config.database_url)
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database["ENGINE"] = "comfy_router.sqlite_backend"  # see its module
        Path(database["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        database["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000; "
                # Writers leave checkpoints to comfy_router.sqlite_backend.checkpoints.
                f"PRAGMA wal_autocheckpoint={WAL_WRITER_CHECKPOINT_PAGES};"
            ),
        }
        database["TEST"] = {"NAME": str(Path(database["NAME"]).with_suffix(".test.sqlite3"))}
        # Kept open: async code reaches the database through one thread, and reopening the file
        # with its PRAGMAs on every call cost more than most queries.
        database["CONN_MAX_AGE"] = None
    else:
        database["CONN_MAX_AGE"] = 60
        database["CONN_HEALTH_CHECKS"] = True
    return database


REDIS_SOCKET_TIMEOUT = 30.0


def channel_layer_settings(config: RouterConfig) -> dict[str, object]:
    if not config.scaled_out:
        return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # channels-redis blocks 5 s in BZPOPMIN per receive; redis-py's default 5 s socket
                # timeout would cut that short and crash every idle receiver.
                "hosts": [
                    {"address": config.channel_layer_url, "socket_timeout": REDIS_SOCKET_TIMEOUT}
                ],
                "capacity": 1000,
                "expiry": 60,
            },
        }
    }

