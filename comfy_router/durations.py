"""Reads a length of time as people write it in settings: `7d`, `12h`, `90m`, `30s` or seconds."""

from __future__ import annotations

import re

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION = re.compile(r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[smhd]?)")


def parse_duration(text: str) -> float:
    """Seconds in `text`; a ValueError for anything else (`7w`, `-1h`, `1h30m`)."""
    match = DURATION.fullmatch(text.strip().lower().replace("_", ""))
    if match is None:
        raise ValueError(f"not a duration: {text!r}")
    return float(match["number"]) * UNITS[match["unit"] or "s"]
