"""Sizes in bytes as people write them (`64GiB`, `64GB`, `500MB`, `1_000_000`) and as the router
prints them (binary units, named as such: `64.0 GiB`)."""

from __future__ import annotations

import re

UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")
BINARY = (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024))


def parse_size(text: str) -> int:
    """Bytes for `64GiB` (binary), `64GB` (decimal), `500MB`, `4096`; ValueError otherwise."""
    match = SIZE.fullmatch(text.strip().replace("_", "").lower())
    if match is None or match.group(2) not in UNITS:
        raise ValueError(text)
    return int(float(match.group(1)) * UNITS[match.group(2)])


def format_size(value: int) -> str:
    """`68719476736` → `64.0 GiB`; under a KiB, in bytes."""
    for name, unit in BINARY:
        if abs(value) >= unit:
            return f"{value / unit:.1f} {name}"
    return f"{value} bytes"
