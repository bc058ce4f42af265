"""Inline (base64) images: decode, check they are images Pillow can read, and name them by content.

Checking one costs a bounded amount of work, however it is made: Pillow reads an image piece by
piece in Python (a PNG chunk, a JPEG marker, a GIF block, a TIFF tag: a few reads each),
so the file it reads from allows a number of reads (`ReadBudget`). What it does with no read to
count is bounded before it starts: a PNG's compressed metadata chunks, which it inflates, and the
values of a TIFF's first IFD, which it turns into Python objects (a strip offset each), are
limited in number. An 8x8 PNG made of a million text chunks took seconds of a request thread
before, a 16 MB TIFF of two million strips four seconds and 500 MB; now each is refused in
milliseconds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import struct
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image

MAX_INLINE_IMAGE_BYTES = 16 * 1024 * 1024
MAX_INLINE_IMAGE_PIXELS = 8192 * 8192
# Reads Pillow may make to check one image (a graph's inline images share one such budget). A
# 16 MiB PNG written with libpng's 8 KiB data chunks takes some 6 300; an attacker's worst
# costs some 20 ms.
MAX_IMAGE_READS = 16_384
# Pillow inflates every iCCP, zTXt and iTXt chunk it meets (up to 1 MiB each, PngImagePlugin.
# MAX_TEXT_CHUNK): few are allowed, so that inflating costs at most 4 MiB per image.
MAX_PNG_COMPRESSED_CHUNKS = 4
# Values of one numeric entry of a TIFF's first IFD (strip or tile offsets, say), each a Python
# object once Pillow reads it. A 16 MiB TIFF in libtiff's 8 KiB strips has some 2 000, one of
# 8192 rows at a row per strip 8192; that many cost some 10 ms.
MAX_TIFF_VALUES = 8192

# Formats ComfyUI's LoadImage reads, and the extension the file gets in `input/`.
IMAGE_EXTENSIONS = {
    "PNG": ".png",
    "JPEG": ".jpg",
    "WEBP": ".webp",
    "GIF": ".gif",
    "BMP": ".bmp",
    "TIFF": ".tiff",
}

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COMPRESSED_CHUNKS = frozenset({b"iCCP", b"zTXt", b"iTXt"})
# The headers Pillow reads as TIFF: byte order, then 42 (or 43 for BigTIFF) in either order.
_TIFF_HEADERS = frozenset(
    {
        b"MM\x00\x2a",
        b"II\x2a\x00",
        b"MM\x2a\x00",
        b"II\x00\x2a",
        b"MM\x00\x2b",
        b"II\x2b\x00",
    }
)
# Entry types Pillow turns into numbers (SHORT, LONG, RATIONAL, SSHORT, SLONG, SRATIONAL, FLOAT,
# DOUBLE, IFD, LONG8, SLONG8, IFD8); bytes and text stay one object.
_TIFF_NUMBER_TYPES = frozenset({3, 4, 5, 8, 9, 10, 11, 12, 13, 16, 17, 18})
_DATA_URI_PREFIX = re.compile(r"^data:image/[a-zA-Z0-9.+-]+;base64,")


class InvalidImage(ValueError):
    pass


class _OutOfReads(Exception):
    """Raised inside Pillow's parser when the budget is spent; never caught by Pillow's plugins
    (they catch SyntaxError, struct.error, EOFError and the like)."""


class ReadBudget:
    """How many more reads checking images may make; one per image, or one shared by several."""

    def __init__(self, reads: int = MAX_IMAGE_READS, *, scope: str = "the image") -> None:
        self.limit = reads
        self.left = reads
        self.scope = scope

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise _OutOfReads

    @property
    def spent(self) -> bool:
        return self.left < 0

    def error(self) -> InvalidImage:
        return InvalidImage(
            f"Image is made of too many parts to check: the chunks, markers or blocks of "
            f"{self.scope} took more than {self.limit} reads."
        )


class _BudgetedFile(io.BytesIO):
    """The bytes Pillow parses, each read paid for from a budget."""

    def __init__(self, data: bytes, budget: ReadBudget) -> None:
        super().__init__(data)
        self._budget = budget

    def read(self, size: int | None = -1, /) -> bytes:
        self._budget.spend()
        return super().read(size)

    def read1(self, size: int | None = -1, /) -> bytes:
        self._budget.spend()
        return super().read1(size)

    def readinto(self, buffer: Any, /) -> int:
        self._budget.spend()
        return super().readinto(buffer)

    def readline(self, size: int | None = -1, /) -> bytes:
        self._budget.spend()
        return super().readline(size)


@dataclass(frozen=True)
class DecodedImage:
    data: bytes
    extension: str

    @property
    def file_name(self) -> str:
        return hashlib.sha256(self.data).hexdigest() + self.extension


def strip_base64(content: str) -> str:
    """Base64 text without a `data:image/...;base64,` prefix or line breaks."""
    # str.split() drops the same whitespace as the regex `\s`, ten to twenty times faster.
    return "".join(_DATA_URI_PREFIX.sub("", content.strip(), count=1).split())


def decode_base64_image(
    content: str, *, verify: bool = True, budget: ReadBudget | None = None
) -> DecodedImage:
    """Decode an inline image; raises InvalidImage with a message for the client.

    `verify=False` only reads the header for the format, for images validation already verified
    (with fewer reads than verifying took, so it passes the same budget). `budget` is shared by
    images checked together; each image gets its own by default.
    """
    budget = budget or ReadBudget()
    text = strip_base64(content)
    if len(text) > (MAX_INLINE_IMAGE_BYTES + 2) // 3 * 4:
        raise InvalidImage(f"Image is larger than {MAX_INLINE_IMAGE_BYTES} bytes.")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidImage("Not valid base64.") from None
    return check_image_bytes(data, verify=verify, budget=budget)


def check_image_bytes(
    data: bytes, *, verify: bool = True, budget: ReadBudget | None = None
) -> DecodedImage:
    """`decode_base64_image`'s checks of an image's bytes (an upload's, say), as bounded."""
    budget = budget or ReadBudget()
    if len(data) > MAX_INLINE_IMAGE_BYTES:
        raise InvalidImage(f"Image is larger than {MAX_INLINE_IMAGE_BYTES} bytes.")
    if data.startswith(_PNG_SIGNATURE):
        _check_png_compressed_chunks(data, budget)
    elif data[:4] in _TIFF_HEADERS:
        _check_tiff_values(data, budget)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(_BudgetedFile(data, budget), formats=list(IMAGE_EXTENSIONS)) as image:
                image_format = image.format or ""
                width, height = image.size
                if verify:
                    image.verify()
    except _OutOfReads:
        raise budget.error() from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise InvalidImage("Image has too many pixels.") from None
    except Exception:  # Pillow raises many types for corrupt data
        if budget.spent:  # a plugin that caught _OutOfReads and gave up on the image
            raise budget.error() from None
        raise InvalidImage(f"Not a readable image ({', '.join(IMAGE_EXTENSIONS)}).") from None
    if budget.spent:  # a plugin that caught _OutOfReads and went on
        raise budget.error()
    if image_format not in IMAGE_EXTENSIONS:
        allowed = ", ".join(IMAGE_EXTENSIONS)
        raise InvalidImage(f"Unsupported image format {image_format or 'unknown'}; use one of {allowed}.")
    if width * height > MAX_INLINE_IMAGE_PIXELS:
        raise InvalidImage(f"Image has more than {MAX_INLINE_IMAGE_PIXELS} pixels.")
    return DecodedImage(data=data, extension=IMAGE_EXTENSIONS[image_format])


def _check_png_compressed_chunks(data: bytes, budget: ReadBudget) -> None:
    """Walks a PNG's chunk headers (one read each from `budget`) and refuses more than
    MAX_PNG_COMPRESSED_CHUNKS chunks that Pillow would inflate."""
    position, compressed = len(_PNG_SIGNATURE), 0
    while position + 8 <= len(data):
        try:
            budget.spend()
        except _OutOfReads:
            raise budget.error() from None
        length, kind = struct.unpack_from(">I4s", data, position)
        if kind in _PNG_COMPRESSED_CHUNKS:
            compressed += 1
            if compressed > MAX_PNG_COMPRESSED_CHUNKS:
                raise InvalidImage(
                    f"PNG has more than {MAX_PNG_COMPRESSED_CHUNKS} compressed metadata chunks "
                    "(iCCP, zTXt, iTXt)."
                )
        if kind == b"IEND":
            return
        position += 12 + length


def _check_tiff_values(data: bytes, budget: ReadBudget) -> None:
    """Walks the entries of a TIFF's first IFD, the one Pillow opens (one read each from
    `budget`), and refuses an entry of more than MAX_TIFF_VALUES numbers. A header or IFD out of
    the file's bounds is left to Pillow to refuse."""
    order = "<" if data[:2] == b"II" else ">"
    big = data[2] == 43
    offset_format, count_format, entry_format = ("Q", "Q", "HHQ") if big else ("I", "H", "HHI")
    entry_size = 20 if big else 12
    try:
        (offset,) = struct.unpack_from(order + offset_format, data, 8 if big else 4)
        (entries,) = struct.unpack_from(order + count_format, data, offset)
        first = offset + struct.calcsize(count_format)
        for index in range(entries):
            try:
                budget.spend()
            except _OutOfReads:
                raise budget.error() from None
            position = first + index * entry_size
            _, kind, count = struct.unpack_from(order + entry_format, data, position)
            if kind in _TIFF_NUMBER_TYPES and count > MAX_TIFF_VALUES:
                raise InvalidImage(f"TIFF has an entry of more than {MAX_TIFF_VALUES} values.")
    except struct.error:
        return
