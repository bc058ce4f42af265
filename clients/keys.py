"""What an API key looks like: `cr_` and 43 URL-safe characters (32 random bytes from
`secrets`), its display prefix and its digest. No Django, no I/O."""

from __future__ import annotations

import hashlib
import re
import secrets

KEY_START = "cr_"
KEY_BYTES = 32
# The key's start shown to tell keys apart: "cr_" and 8 random characters (48 of 256 bits).
PREFIX_LENGTH = len(KEY_START) + 8
WELL_FORMED = re.compile(r"^cr_[A-Za-z0-9_-]{43}$")


def new_key() -> str:
    return KEY_START + secrets.token_urlsafe(KEY_BYTES)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_prefix(key: str) -> str:
    return key[:PREFIX_LENGTH]


def is_well_formed(key: str) -> bool:
    return WELL_FORMED.match(key) is not None
