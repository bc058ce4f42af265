"""Writes images posted inline (base64) into ComfyUI's `input/` folder, atomically."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings

from workflows.builders.base import InlineFile


def write_inline_files(files: Iterable[InlineFile], root_dir: Path | None = None) -> None:
    """Names are content hashes, so a file already there is the same file and is left alone."""
    root = root_dir or settings.ROUTER.root_dir
    for inline in files:
        folder = (root / inline.folder).resolve()
        target = (folder / inline.name).resolve()
        if target.parent != folder or not str(folder).startswith(str(root.resolve())):
            raise ValueError(f"refusing to write {inline.folder}/{inline.name} outside {root}")
        if target.is_file() and target.stat().st_size == len(inline.data):
            continue
        folder.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as temp:
                temp.write(inline.data)
            os.chmod(temp_name, 0o644)
            os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
