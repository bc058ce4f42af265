"""Files on disk: cache files, their temp files while downloading, and the links ComfyUI sees.

Every write is a rename into place, so ComfyUI and other routers never see half a file or a
missing link.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from downloads.policy import check_file_name, folder_path

TEMP_SUFFIX = ".part"
_TEMP_NAME = re.compile(r"^\.(?P<file_name>[^/]+)\.(?P<token>[0-9a-f]{16})\.part$")


def cache_path(cache_dir: Path, file_name: str) -> Path:
    return cache_dir / check_file_name(file_name)


def temp_path(cache_dir: Path, file_name: str, token: str) -> Path:
    return cache_dir / f".{check_file_name(file_name)}.{token}{TEMP_SUFFIX}"


def parse_temp_name(name: str) -> tuple[str, str] | None:
    """(file name, owner token) of a temp file, or None for anything else."""
    match = _TEMP_NAME.match(name)
    return (match["file_name"], match["token"]) if match else None


def link_path(root_dir: Path, folder: str, name: str) -> Path:
    return folder_path(root_dir, folder) / check_file_name(name)


def ensure_link(root_dir: Path, folder: str, name: str, target: Path) -> Path:
    """Makes `ROOT_DIR/<folder>/<name>` a symlink to `target`, whatever stood there before
    (nothing, a dangling or wrong link, a stray file)."""
    path = link_path(root_dir, folder, name)
    target = target.absolute()
    if path.is_symlink() and os.readlink(path) == str(target):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir() and not path.is_symlink():
        raise IsADirectoryError(f"{path} is a directory, not a link to {target}")
    staging = path.with_name(f".{name}.{secrets.token_hex(8)}.link")
    os.symlink(target, staging)
    try:
        os.replace(staging, path)
    except OSError:
        staging.unlink(missing_ok=True)
        raise
    return path


def remove_link(root_dir: Path, folder: str, name: str, target: Path) -> bool:
    """Removes the link if it still points at `target` (or nowhere); leaves anything else."""
    try:
        path = link_path(root_dir, folder, name)
    except ValueError:
        return False
    if not path.is_symlink():
        return False
    if os.readlink(path) != str(target.absolute()) and path.exists():
        return False
    path.unlink(missing_ok=True)
    return True


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        with open(staging, "wb") as file:
            file.write(data)
        os.replace(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


def write_inline_file(root_dir: Path, folder: str, name: str, data: bytes) -> Path:
    path = link_path(root_dir, folder, name)
    if path.is_file() and not path.is_symlink() and path.stat().st_size == len(data):
        if path.read_bytes() == data:
            return path
    write_atomically(path, data)
    return path
