"""The file a ComfyUI `/view` query names (`filename`, `subfolder`, `type`); `/upload/mask`
finds its `original_ref` the same way.

`input`: DOWNLOAD__ROOT_DIR/input/<subfolder>/<filename>, the folder the nodes share (uploads, and
the images and links the router writes there). The file must resolve inside that folder, or into
the download cache, which links inputs there. `output` and `temp`: a task's stored outputs, named
as the whole front door names them: the subfolder is the task's id, the file name the output's
`stored_name`.

Refusals are ComfyUI's: a file name with `..` or a leading `/` is a 400, so is an unknown type;
a subfolder that leads out of its folder is a 403; anything else that is not there is a 404.
"""

from __future__ import annotations

import posixpath
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from comfy_router.auth import Principal
from downloads.policy import folder_path
from workflows.tasks.selectors import task_output_file

FOLDER_TYPES = ("input", "output", "temp")
DEFAULT_TYPE = "output"  # ComfyUI's, for /view and for original_ref
# ComfyUI's annotated names: `photo.png [input]` names photo.png in the input folder.
_ANNOTATED = re.compile(r"^(?P<name>.*) \[(?P<type>input|output|temp)\]$", re.DOTALL)


class ViewError(Exception):
    """A refusal with ComfyUI's status for it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Located:
    path: Path
    name: str  # the name it is served under


def input_root() -> Path:
    return folder_path(settings.ROUTER.root_dir, "input")


def is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def leaves_its_folder(subfolder: str) -> bool:
    normal = posixpath.normpath(subfolder) if subfolder else "."
    return subfolder.startswith("/") or normal == ".." or normal.startswith("../")


def locate(
    filename: str, subfolder: str, folder_type: str | None, *, seen_by: Principal
) -> Located:
    """The file named, as `seen_by` may see it (another client's task outputs are not there),
    or ViewError."""
    match = _ANNOTATED.match(filename)
    name, folder_type = (match["name"], match["type"]) if match else (filename, folder_type)
    if not name or name.startswith("/") or ".." in name or "\x00" in name or "\x00" in subfolder:
        raise ViewError(400, f"filename {filename!r} is not a file name ComfyUI serves.")
    folder_type = folder_type or DEFAULT_TYPE
    if folder_type not in FOLDER_TYPES:
        raise ViewError(400, f"type {folder_type!r} is none of {', '.join(FOLDER_TYPES)}.")
    if leaves_its_folder(subfolder):
        raise ViewError(403, f"subfolder {subfolder!r} leads out of the {folder_type} folder.")
    name = posixpath.basename(name)  # ComfyUI serves the last part of a name
    if folder_type == "input":
        return _input_file(name, subfolder)
    return _output_file(name, subfolder, seen_by)


def _input_file(name: str, subfolder: str) -> Located:
    not_found = ViewError(404, f"No input file {posixpath.join(subfolder, name)!r}.")
    if not name or name.startswith("."):  # hidden: the router's own temp files while they last
        raise not_found
    root = input_root()
    try:
        real_root = root.resolve()
        if not is_within((root / subfolder).resolve(), real_root):
            raise ViewError(403, f"subfolder {subfolder!r} leads out of the input folder.")
        path = root / subfolder / name
        real = path.resolve()
        inside = is_within(real, real_root) or is_within(real, settings.ROUTER.cache_dir.resolve())
        if not inside:
            raise ViewError(403, f"{name!r} leads out of the input folder.")
        if not real.is_file():
            raise not_found
    except (OSError, RuntimeError):  # a name too long, a loop of links: nothing to serve
        raise not_found from None
    return Located(path=path, name=name)


def _output_file(name: str, subfolder: str, seen_by: Principal) -> Located:
    not_found = ViewError(404, f"No output {name!r} of a task {subfolder!r}.")
    try:
        task_id = uuid.UUID(subfolder)
    except ValueError:
        raise not_found from None
    found = task_output_file(task_id, name, seen_by=seen_by)
    if found is None:
        raise not_found
    return Located(path=found, name=name)
