"""Reading the original router's download record, whose exact format we never saw.

Assumed, liberally: JSON that is either an object mapping URL -> record, or a list of records
carrying a `url` (optionally wrapped as {"records"|"entries"|"files"|"items"|"downloads": ...}).
A record is an object with the file under `path`, `file`, `file_path`, `filename`, `local_path`
or `name` (or is that path as a plain string), an optional `size` and an optional `status`.
A record counts as complete when it has no status or a status such as "completed"/"done"/"ready".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

PATH_FIELDS = ("path", "file", "file_path", "filepath", "filename", "local_path", "name")
WRAPPER_FIELDS = ("records", "entries", "files", "items", "downloads", "cache")
COMPLETE = frozenset(
    {"completed", "complete", "done", "ready", "success", "succeeded", "finished", "downloaded", "ok"}
)


@dataclass(frozen=True)
class RecordedFile:
    url: str
    path: str
    size: int | None


def read_record(path: Path) -> list[RecordedFile]:
    """Completed entries of the record; raises ValueError when it is not JSON we understand."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return list(_completed(_records(data)))


def _records(data: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(data, dict):
        for field in WRAPPER_FIELDS:
            if field in data and isinstance(data[field], (dict, list)) and len(data) <= 2:
                yield from _records(data[field])
                return
        for url, value in data.items():
            if isinstance(url, str) and "://" in url:
                yield url, value
    elif isinstance(data, list):
        for value in data:
            if isinstance(value, dict) and isinstance(value.get("url"), str):
                yield value["url"], value
    else:
        raise ValueError("expected a JSON object or list")


def _completed(records: Iterator[tuple[str, Any]]) -> Iterator[RecordedFile]:
    for url, value in records:
        if isinstance(value, str):
            yield RecordedFile(url=url, path=value, size=None)
            continue
        if not isinstance(value, dict):
            continue
        status = value.get("status", value.get("state"))
        if status is not None and not _is_complete(status):
            continue
        if value.get("completed") is False or value.get("done") is False:
            continue
        path = next((value[f] for f in PATH_FIELDS if isinstance(value.get(f), str) and value[f]), None)
        if path is None:
            continue
        size = value.get("size", value.get("file_size", value.get("bytes")))
        yield RecordedFile(url=url, path=path, size=size if isinstance(size, int) else None)


def _is_complete(status: Any) -> bool:
    if isinstance(status, bool):
        return status
    return str(status).strip().lower() in COMPLETE
