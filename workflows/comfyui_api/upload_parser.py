"""Multipart bodies, parsed on ComfyUI's upload routes only (every other route takes JSON).

The form's one file, `image`, is streamed to a hidden temp file in the input folder, within
MAX_UPLOAD_BYTES, never held whole in memory; the caller moves it into place or discards it. A
file name that names a path (`../x.png`, `a/b.png`) is refused rather than trimmed the way
Django trims it, as ComfyUI refuses it. Whatever fails while parsing leaves no file behind.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.files.uploadhandler import FileUploadHandler, SkipFile, StopUpload
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser, DataAndFiles, get_encoding

from downloads.policy import folder_path
from workflows.graphs.builders.images import MAX_INLINE_IMAGE_BYTES

FILE_FIELD = "image"
# An upload is an image ComfyUI's LoadImage reads: the bound of the API's inline images.
MAX_UPLOAD_BYTES = MAX_INLINE_IMAGE_BYTES
STAGING_PREFIX = ".upload-"
STAGING_SUFFIX = ".part"


class InputNotWritable(APIException):
    """The input folder did not take a file (disk full, permissions): the router's trouble, said
    as such rather than as a 500."""

    status_code = 507
    default_code = "insufficient_storage"

    def __init__(self, error: OSError) -> None:
        super().__init__(f"The input folder cannot take the upload: {error.strerror or error}.")


@dataclass(frozen=True)
class StagedImage:
    """The uploaded file as written to `path`, a temp name in the input folder."""

    path: Path
    name: str
    size: int

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)

    def close(self) -> None:
        """What Django's parser calls on the files of a form it fails to parse: nothing is open
        (the handler closed the file when it was complete), and the parser's caller discards."""


def staging_path(folder: Path) -> Path:
    """A fresh hidden name in `folder`: ComfyUI lists no such file, and no client picks it."""
    return folder / f"{STAGING_PREFIX}{secrets.token_hex(8)}{STAGING_SUFFIX}"


class StagingHandler(FileUploadHandler):
    """Writes the first `image` file of a form to a temp file in `folder`; skips other files.
    Past `max_bytes` it removes what it wrote and stops the parse (`too_large`)."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        super().__init__()
        self.folder, self.max_bytes = folder, max_bytes
        self.staged: StagedImage | None = None
        self.too_large = False
        # Not `file`: Django's parser closes any handler's `file` when it skips a later part.
        self.writing: IO[bytes] | None = None
        self.path: Path | None = None
        self.written = 0

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        super().new_file(field_name, file_name, *args, **kwargs)
        if field_name != FILE_FIELD or self.staged is not None or self.writing is not None:
            raise SkipFile
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = staging_path(self.folder)
        self.writing = open(self.path, "xb")
        self.written = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if self.writing is None:
            return raw_data
        self.written += len(raw_data)
        if self.written > self.max_bytes:
            self.too_large = True
            self.discard()
            raise StopUpload(connection_reset=False)
        self.writing.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> StagedImage | None:
        if self.writing is None or self.path is None:
            return None
        self.writing.close()
        self.writing = None
        self.staged = StagedImage(path=self.path, name=self.file_name, size=self.written)
        return self.staged

    def upload_interrupted(self) -> None:
        # Django says so too when a part after the staged image was skipped: that one stays.
        if self.writing is not None:
            self.discard()

    def discard(self) -> None:
        if self.writing is not None:
            self.writing.close()
            self.writing = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)


class PlainNameMultiPartParser(DjangoMultiPartParser):
    """Django's parser, but a file name it would have to trim (a path, HTML entities, control
    characters) is remembered in `refused_name` and its file skipped."""

    refused_name: str | None = None

    def sanitize_file_name(self, file_name: str) -> str | None:
        plain = super().sanitize_file_name(file_name)
        if plain != file_name:
            self.refused_name = file_name
            return None
        return plain


class ImageUploadParser(BaseParser):
    """`multipart/form-data` for the upload routes: fields in `data`, the staged `image` (a
    StagedImage) in `files`. Raises ParseError (a 400) for a malformed body, a file name that is
    a path, or an image past MAX_UPLOAD_BYTES; a body past MAX_REQUEST_BYTES stays a 413."""

    media_type = "multipart/form-data"

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> DataAndFiles:
        context = parser_context or {}
        meta = context["request"].META.copy()
        meta["CONTENT_TYPE"] = media_type
        handler = StagingHandler(folder_path(settings.ROUTER.root_dir, "input"), MAX_UPLOAD_BYTES)
        try:
            parser = PlainNameMultiPartParser(meta, stream, [handler], get_encoding(context))
            data, files = parser.parse()
        except RequestDataTooBig:
            handler.discard()
            raise
        except (MultiPartParserError, SuspiciousOperation) as exc:
            handler.discard()
            raise ParseError(f"Multipart form parse error - {exc}") from None
        except OSError as exc:
            handler.discard()
            raise InputNotWritable(exc) from None
        except BaseException:
            handler.discard()
            raise
        if parser.refused_name is not None:
            handler.discard()
            raise ParseError(f"File name {parser.refused_name!r} is not a plain file name.")
        if handler.too_large:
            raise ParseError(f"The image is larger than {MAX_UPLOAD_BYTES} bytes.")
        return DataAndFiles(data, files)
