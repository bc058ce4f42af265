"""What `serve` and `worker` check before they start: the directories they write to, the
database and Redis they need, the port they listen on. A failed check is one line naming the
setting and the cause (`StartupCheckFailed`), rather than a traceback, a restart loop, or a
router that starts and then fails every download."""

from __future__ import annotations

import errno
import socket
from urllib.parse import urlsplit

import redis
from django.db import DatabaseError, connection

from comfy_router.config import PREFIX, RouterConfig
from comfy_router.directory_checks import StartupCheckFailed, check_directories

__all__ = ["StartupCheckFailed", "check_all"]

REDIS_TIMEOUT = 5.0  # seconds to connect to Redis and have its PONG


def check_all(config: RouterConfig, *, listens: bool) -> None:
    """Every check that applies to `config`, in the order a person would fix them; `listens`:
    the process serves HTTP on HOST:PORT."""
    check_directories(config)
    check_database()
    if config.scaled_out:
        check_redis(config.channel_layer_url)
    if listens:
        check_port(config.host, config.port)


def check_database() -> None:
    try:
        connection.ensure_connection()
    except DatabaseError as error:
        place = connection.settings_dict.get("HOST") or connection.settings_dict.get("NAME")
        port = connection.settings_dict.get("PORT")
        where = f"{place}:{port}" if port else str(place)
        raise StartupCheckFailed(
            f"{PREFIX}DATABASE_URL: cannot connect to {connection.display_name} at {where}: "
            f"{_first_line(error)}"
        ) from None
    finally:
        connection.close()


def check_redis(url: str) -> None:
    parts = urlsplit(url)
    where = f"{parts.hostname}:{parts.port or 6379}"
    client = redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT
    )
    try:
        client.ping()
    except (redis.RedisError, OSError) as error:
        raise StartupCheckFailed(
            f"{PREFIX}CHANNEL_LAYER_URL: Redis at {where} does not answer: {_first_line(error)}"
        ) from None
    finally:
        client.close()


def check_port(host: str, port: int) -> None:
    """Binds HOST:PORT as Twisted will (SO_REUSEADDR: a restart's connections in TIME_WAIT do
    not count), then lets go of it for Daphne."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        setting = "PORT" if error.errno in (errno.EADDRINUSE, errno.EACCES) else "HOST"
        value = port if setting == "PORT" else host
        raise StartupCheckFailed(
            f"{PREFIX}{setting}={value}: cannot listen on {host}:{port}: "
            f"{error.strerror or error}"
        ) from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
