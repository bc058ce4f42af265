"""The directories the router writes to take files: a check light enough for the settings, which
make the SQLite file's directory as they load, and for `serve` and `worker` at start (see
`comfy_router.startup_checks`)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import environ

from comfy_router.config import PREFIX, RouterConfig


class StartupCheckFailed(Exception):
    pass


def check_directories(config: RouterConfig) -> None:
    for setting, path in (
        ("DATA_DIR", config.data_dir),
        ("DOWNLOAD__CACHE_DIR", config.cache_dir),
        ("DOWNLOAD__ROOT_DIR", config.root_dir),
    ):
        cause = unwritable(path)
        if cause is not None:
            raise StartupCheckFailed(
                f"{PREFIX}{setting}={path} is not a writable directory: {cause}"
            )


def database_directory_made(config: RouterConfig) -> None:
    """The SQLite file's directory exists and takes files. Asked by the settings themselves, as
    Django's database settings make that directory."""
    database = environ.Env.db_url_config(config.database_url)
    if database["ENGINE"] != "django.db.backends.sqlite3" or database["NAME"] == ":memory:":
        return
    folder = Path(database["NAME"]).parent
    cause = unwritable(folder)
    if cause is None:
        return
    if folder == config.data_dir:
        raise StartupCheckFailed(f"{PREFIX}DATA_DIR={folder} is not a writable directory: {cause}")
    raise StartupCheckFailed(
        f"{PREFIX}DATABASE_URL: the SQLite file's directory {folder} is not a writable "
        f"directory: {cause}"
    )


def unwritable(path: Path) -> str | None:
    """Why no file can be made in the directory `path` (made if missing), or None."""
    if path.exists() and not path.is_dir():
        return "it is a file"
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        return error.strerror or str(error)
    return None
