"""Where ComfyUI's uploads land, and under which name: `input/<subfolder>/<name>` under
DOWNLOAD__ROOT_DIR, the folder every node reads, so `subfolder/name` is at once a LoadImage input.

Names follow ComfyUI: without `overwrite`, a name taken by other bytes becomes `stem (1).ext`,
`stem (2).ext`, ... and a name holding the very same bytes is answered again without a copy. A
file appears whole or not at all: it is staged beside the folder and linked or renamed into
place, and a name taken meanwhile by another upload is never replaced. Images are checked as the
API's inline images are (bounded work, at most 16 MiB and 8192² pixels).
"""

from __future__ import annotations

import asyncio
import contextlib
import filecmp
import io
import logging
import os
import time
from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from downloads.policy import check_file_name
from workflows.comfyui_api.upload_parser import STAGING_PREFIX, STAGING_SUFFIX, staging_path
from workflows.comfyui_api.view_files import input_root, is_within, leaves_its_folder
from workflows.graphs.builders.images import InvalidImage, check_image_bytes

MAX_NAME_BYTES = 200  # leaves room for " (n)" within the 255 bytes file systems allow
MAX_SUBFOLDER_CHARS = 1024
MAX_NUMBERED = 10_000  # " (n)" names tried before giving up
# Masking decodes both images whole, 4 bytes a pixel: 16 Mpx is 64 MiB per image.
MAX_MASK_PIXELS = 4096 * 4096
# A staged file untouched this long (seconds) belongs to no upload under way, whose every write
# touches it: its process died before it could remove it.
ABANDONED_AFTER = 3600.0
SWEEP_INTERVAL = 3600.0

logger = logging.getLogger(__name__)


class UploadRefused(ValueError):
    """A 400, naming the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_image(data: bytes, field: str) -> None:
    """The API's own check of an inline image."""
    try:
        check_image_bytes(data)
    except InvalidImage as invalid:
        raise UploadRefused(field, str(invalid)) from None


def check_name(name: str) -> str:
    try:
        check_file_name(name)
    except ValueError as exc:
        raise UploadRefused("image", str(exc)) from None
    if name.startswith("."):
        # Hidden names in the input folder are the router's own staged files: `/view` serves
        # none of them, so such an upload could never be seen again.
        raise UploadRefused("image", f"{name!r} starts with '.': hidden names are not taken.")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise UploadRefused("image", f"The file name is longer than {MAX_NAME_BYTES} bytes.")
    return name


def upload_folder(subfolder: str) -> Path:
    """`input/<subfolder>`, made if missing; refused if it would lead out of the input folder."""
    if len(subfolder) > MAX_SUBFOLDER_CHARS:
        raise UploadRefused("subfolder", f"Longer than {MAX_SUBFOLDER_CHARS} characters.")
    if leaves_its_folder(subfolder) or "\\" in subfolder or "\x00" in subfolder:
        raise UploadRefused("subfolder", f"{subfolder!r} leads out of the input folder.")
    root = input_root()
    root.mkdir(parents=True, exist_ok=True)
    real_root = root.resolve()
    folder = root / subfolder
    try:
        if not is_within(folder.resolve(), real_root):  # through a link, before making anything
            raise UploadRefused("subfolder", f"{subfolder!r} leads out of the input folder.")
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file in the way, a name too long
        raise UploadRefused("subfolder", f"{subfolder!r} cannot be a folder: {exc.strerror}.")
    return folder


def numbered(name: str, number: int) -> str:
    stem, extension = os.path.splitext(name)
    return f"{stem} ({number}){extension}"


def place(staged: Path, folder: Path, name: str, *, overwrite: bool) -> str:
    """Moves the staged file to `folder/<name>` and answers the name it took (see the module's
    docstring); the staged file is gone afterwards in every case but an exception."""
    if overwrite:
        target = folder / name
        if target.is_symlink() or target.is_dir():
            raise UploadRefused(
                "image", f"{name!r} is a folder or a link the router keeps; it is not replaced."
            )
        os.replace(staged, target)
        return name
    for number in range(MAX_NUMBERED + 1):
        candidate = numbered(name, number) if number else name
        target = folder / candidate
        if target.is_file() and filecmp.cmp(target, staged, shallow=False):
            staged.unlink()
            return candidate
        if _link_if_free(staged, target):
            return candidate
    raise UploadRefused("image", f"{MAX_NUMBERED} files are already named after {name!r}.")


def _link_if_free(staged: Path, target: Path) -> bool:
    """Puts `staged` at `target` unless something is there (checked by the link itself, so a
    concurrent upload of the same name is never replaced)."""
    try:
        os.link(staged, target)
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: a rename, after looking
        if os.path.lexists(target):
            return False
        os.replace(staged, target)
        return True
    staged.unlink()
    return True


def stage_bytes(data: bytes) -> Path:
    """`data` in a temp file of the input folder, ready for `place`."""
    root = input_root()
    root.mkdir(parents=True, exist_ok=True)
    path = staging_path(root)
    try:
        with open(path, "xb") as file:
            file.write(data)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def masked(original: bytes, mask: bytes) -> bytes:
    """The original image with the mask's alpha channel, as a PNG keeping the original's text
    chunks (ComfyUI's mask editor keeps the workflow a PNG carries)."""
    try:
        with Image.open(io.BytesIO(original)) as image:
            if image.width * image.height > MAX_MASK_PIXELS:
                raise UploadRefused(
                    "original_ref", f"The original image has more than {MAX_MASK_PIXELS} pixels."
                )
            text = dict(getattr(image, "text", None) or {})
            result = image.convert("RGBA")
        with Image.open(io.BytesIO(mask)) as mask_image:
            if mask_image.size != result.size:
                raise UploadRefused(
                    "image",
                    f"The mask is {mask_image.width}x{mask_image.height}, the original image "
                    f"{result.width}x{result.height}.",
                )
            alpha = mask_image.convert("RGBA").getchannel("A")
        result.putalpha(alpha)
        metadata = PngInfo()
        for key, value in text.items():
            metadata.add_text(key, value)
        out = io.BytesIO()
        result.save(out, format="PNG", compress_level=4, pnginfo=metadata)
    except UploadRefused:
        raise
    except Exception:  # Pillow raises many types for data it cannot decode after all
        raise UploadRefused("image", "The mask or the original image cannot be decoded.") from None
    return out.getvalue()


def remove_abandoned_staging() -> int:
    """Removes the staged uploads of the input folder untouched for ABANDONED_AFTER (a process
    killed while it streamed or placed one); answers how many."""
    now = time.time()
    removed = 0
    for path in input_root().glob(f"{STAGING_PREFIX}*{STAGING_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):  # placed or removed meanwhile
            if now - path.lstat().st_mtime > ABANDONED_AFTER:
                path.unlink()
                removed += 1
    return removed


async def sweep_abandoned_staging(stop: asyncio.Event) -> None:
    """Background service: `remove_abandoned_staging` at start, then every SWEEP_INTERVAL."""
    while not stop.is_set():
        try:
            removed = await asyncio.to_thread(remove_abandoned_staging)
        except OSError:
            logger.exception("Could not look for abandoned uploads in the input folder")
        else:
            if removed:
                logger.info("Removed %d abandoned upload(s) from the input folder", removed)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SWEEP_INTERVAL)
