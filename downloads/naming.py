"""Stable names for cached files: every router on a shared disk derives the same name from a URL."""

from __future__ import annotations

import hashlib
import mimetypes
import posixpath
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

_SAFE_EXTENSION = re.compile(r"^\.[a-z0-9]{1,16}$")


@dataclass(frozen=True)
class SignedURLScheme:
    """Query parameters that sign a URL or bound its life, not choose what it serves. They are
    left out of the cache key only when the scheme's signature parameter is present, so a plain
    `?st=2&sp=1` keeps its meaning. Names compare case-insensitively."""

    name: str
    signature: str
    parameters: frozenset[str]


def _scheme(name: str, signature: str, *parameters: str) -> SignedURLScheme:
    lowered = frozenset(p.lower() for p in (signature, *parameters))
    return SignedURLScheme(name, signature.lower(), lowered)


# The one list of signature and expiry parameters the cache ignores. Parameters that choose the
# object or change the bytes (S3 `versionId`, Azure `snapshot`, `response-content-*`, Azure
# `rsc*`) are not in it: two URLs differing there may serve different files.
SIGNED_URL_SCHEMES = (
    _scheme(
        "AWS Signature Version 4 (S3 presigned URLs)",
        "X-Amz-Signature",
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Security-Token",
    ),
    _scheme(
        "AWS Signature Version 2 (older S3 presigned URLs)",
        "Signature",
        "AWSAccessKeyId",
        "Expires",
        "X-Amz-Security-Token",
    ),
    _scheme(
        "Google Cloud Storage V4 signed URLs",
        "X-Goog-Signature",
        "X-Goog-Algorithm",
        "X-Goog-Credential",
        "X-Goog-Date",
        "X-Goog-Expires",
        "X-Goog-SignedHeaders",
    ),
    _scheme("Google Cloud Storage V2 signed URLs", "Signature", "GoogleAccessId", "Expires"),
    _scheme(
        "Azure shared access signatures (SAS)",
        "sig",
        *("sv", "ss", "srt", "sp", "se", "st", "spr", "sip", "si", "sr", "sdd", "ses"),
        *("skoid", "sktid", "skt", "ske", "sks", "skv", "saoid", "suoid", "scid"),
    ),
    _scheme("Amazon CloudFront signed URLs", "Signature", "Expires", "Policy", "Key-Pair-Id"),
)


def _parameter_name(pair: str) -> str:
    return unquote(pair.partition("=")[0].replace("+", " ")).lower()


def _query_key(query: str) -> str:
    """The query less its signatures, parameters sorted by name (values of a repeated name keep
    their order, which may matter), each kept as written."""
    pairs = [pair for pair in query.split("&") if pair]
    names = {_parameter_name(pair) for pair in pairs}
    ignored: set[str] = set()
    for scheme in SIGNED_URL_SCHEMES:
        if scheme.signature in names:
            ignored |= scheme.parameters
    kept = [pair for pair in pairs if _parameter_name(pair) not in ignored]
    return "&".join(sorted(kept, key=_parameter_name))


def cache_key(url: str) -> str:
    """The URL less its fragment and its signature and expiry parameters (SIGNED_URL_SCHEMES),
    other parameters sorted: signed URLs of one file share an entry, `?id=1` and `?id=2` do not.
    A URL with no other parameters keys as it did before queries counted: scheme, host, path."""
    parts = urlsplit(url.strip())
    query = _query_key(parts.query)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, query, ""))


def cache_file_name(url: str) -> str:
    """`<sha256 of the key, 32 hex digits><extension of the URL path>`, e.g. `3f…9a.safetensors`."""
    key = cache_key(url)
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    extension = posixpath.splitext(urlsplit(key).path)[1].lower()
    if not _SAFE_EXTENSION.match(extension):
        extension = ""
    return digest + extension


# ComfyUI lists only the files it can load: in models/ folders those with a model extension, in
# input/ images and videos. A URL without such an extension (civitai's
# `/api/download/models/123`, `…/image?id=7`) is linked under its cache name plus the usual one.
MODEL_EXTENSIONS = frozenset(
    {".safetensors", ".sft", ".ckpt", ".pt", ".pt2", ".pth", ".bin", ".pkl", ".gguf"}
)
CONFIG_EXTENSIONS = frozenset({".yaml", ".yml", ".json"})


def link_name(url: str, folder: str) -> str:
    """The name a cached URL gets in `ROOT_DIR/<folder>/`, the one the graph refers to."""
    name = cache_file_name(url)
    extension = posixpath.splitext(name)[1]
    if folder == "input":
        kind = mimetypes.guess_type(name)[0] or ""
        return name if kind.startswith(("image/", "video/")) else name + ".png"
    if folder == "models/configs":
        return name if extension in CONFIG_EXTENSIONS else name + ".yaml"
    if folder.startswith("models/"):
        return name if extension in MODEL_EXTENSIONS else name + ".safetensors"
    return name
