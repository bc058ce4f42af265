"""The router's logging: the LOGGING setting built from the configuration, the one-JSON-object-
per-line format for log collectors (`COMFY_ROUTER__LOG_FORMAT=json`), the filter that keeps
unauthenticated requests (a browser's favicon, a probe) out of the log, and the lines `serve` and
`worker` print for the person starting them."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

from django.core.management.base import BaseCommand

from comfy_router.config import RouterConfig

# What every LogRecord carries; anything else on a record came from `extra=` and is logged too.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# Django's request logging passes these in `extra`: objects, not facts for a log collector.
_NOT_LOGGED = frozenset({"request", "server_time"})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the fields passed
    with `extra=` (task_id, node, …) and, for an exception, its traceback as `exc_info`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRIBUTES and name not in _NOT_LOGGED:
                entry[name] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class QuietUnauthenticated(logging.Filter):
    """Drops Django's "Unauthorized: /path" warning for a request that carried no credentials:
    a browser asking for /favicon.ico, a health probe, a scanner. A 401 for wrong credentials
    is still logged, like every other 4xx and 5xx."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) != 401:
            return True
        request = getattr(record, "request", None)
        meta = getattr(request, "META", {})
        return bool(meta.get("HTTP_AUTHORIZATION"))


def logging_settings(config: RouterConfig) -> dict[str, Any]:
    """Django's LOGGING for `config`: everything to stderr, at LOG_LEVEL, as text or JSON."""
    # httpx logs every request at INFO ("HTTP Request: GET …/system_stats"): a line per node per
    # health check. They are shown only when debugging.
    http_client_level = "DEBUG" if config.log_level == "DEBUG" else "WARNING"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
            "json": {"()": JsonFormatter},
        },
        "filters": {"quiet_unauthenticated": {"()": QuietUnauthenticated}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": config.log_format},
        },
        "root": {"handlers": ["console"], "level": config.log_level},
        "loggers": {
            "django.channels.server": {"level": "WARNING"},
            "daphne": {"level": "WARNING"},
            "httpx": {"level": http_client_level},
            "httpcore": {"level": http_client_level},
            "django.request": {"filters": ["quiet_unauthenticated"]},
        },
    }


def tell_operator(
    command: BaseCommand, config: RouterConfig, line: str, *, level: int = logging.INFO
) -> None:
    """A line for the person starting the router: printed as it is, or with the JSON format a log
    record of the command's logger, so that every line a collector reads is a JSON object."""
    if config.log_format == "json":
        logging.getLogger(type(command).__module__).log(level, line.strip())
    else:
        command.stdout.write(line)
        command.stdout.flush()
