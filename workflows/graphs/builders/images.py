"""Inline (base64) images: decode, check they are images Pillow can read, and name them by content."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image

MAX_INLINE_IMAGE_BYTES = 16 * 1024 * 1024
MAX_INLINE_IMAGE_PIXELS = 8192 * 8192

# Formats ComfyUI's LoadImage reads, and the extension the file gets in `input/`.
IMAGE_EXTENSIONS = {
    "PNG": ".png",
    "JPEG": ".jpg",
    "WEBP": ".webp",
    "GIF": ".gif",
    "BMP": ".bmp",
    "TIFF": ".tiff",
}

_DATA_URI_PREFIX = re.compile(r"^data:image/[a-zA-Z0-9.+-]+;base64,")
_WHITESPACE = re.compile(r"\s+")


class InvalidImage(ValueError):
    pass


@dataclass(frozen=True)
class DecodedImage:
    data: bytes
    extension: str

    @property
    def file_name(self) -> str:
        return hashlib.sha256(self.data).hexdigest() + self.extension


def strip_base64(content: str) -> str:
    """Base64 text without a `data:image/...;base64,` prefix or line breaks."""
    return _WHITESPACE.sub("", _DATA_URI_PREFIX.sub("", content.strip(), count=1))


def decode_base64_image(content: str, *, verify: bool = True) -> DecodedImage:
    """Decode an inline image; raises InvalidImage with a message for the client.

    `verify=False` only reads the header for the format, for images validation already verified.
    """
    text = strip_base64(content)
    if len(text) > (MAX_INLINE_IMAGE_BYTES + 2) // 3 * 4:
        raise InvalidImage(f"Image is larger than {MAX_INLINE_IMAGE_BYTES} bytes.")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidImage("Not valid base64.") from None
    if len(data) > MAX_INLINE_IMAGE_BYTES:
        raise InvalidImage(f"Image is larger than {MAX_INLINE_IMAGE_BYTES} bytes.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image_format = image.format or ""
                width, height = image.size
                if verify:
                    image.verify()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise InvalidImage("Image has too many pixels.") from None
    except Exception:  # Pillow raises many types for corrupt data
        raise InvalidImage("Not a readable image.") from None
    if image_format not in IMAGE_EXTENSIONS:
        allowed = ", ".join(IMAGE_EXTENSIONS)
        raise InvalidImage(f"Unsupported image format {image_format or 'unknown'}; use one of {allowed}.")
    if width * height > MAX_INLINE_IMAGE_PIXELS:
        raise InvalidImage(f"Image has more than {MAX_INLINE_IMAGE_PIXELS} pixels.")
    return DecodedImage(data=data, extension=IMAGE_EXTENSIONS[image_format])
