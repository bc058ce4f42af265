"""The API's JSON parser: DRF's, but it takes only bodies that can be stored and sent on as JSON.

Python's `json` reads more than strict JSON can hold, and each excess used to surface later as a
500: `1e400` becomes infinity (which no database JSON column stores), `"\\ud800"` becomes a lone
UTF-16 surrogate (which is no character: it cannot be encoded to answer, store or send it), and
deep nesting exhausts the stack of the parser, or of any code that walks the data later. Each is
a 400 naming `body` here, for every JSON endpoint.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils.json import strict_constant

# Real bodies nest about 6 deep (body, params, graph, node, inputs, link); code that walks the data
# recursively may spend two frames a level, and Python allows about a thousand.
MAX_JSON_DEPTH = 100

_TOO_DEEP = f"JSON parse error - arrays and objects nested more than {MAX_JSON_DEPTH} levels deep"
_SHOWN_NUMBER_CHARS = 40

# An escape that may stand for half of a surrogate pair; a whole pair (`"\ud83d\ude00"`, how
# `json.dumps` writes an emoji by default) decodes to one character, which is fine.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_ENCODED_SURROGATE = re.compile(rb"\xed[\xa0-\xbf]")  # U+D800-U+DFFF written as UTF-8

# Structure only: brackets (one kind is enough to count levels) and the quotes around strings.
_ALL_BRACKETS_SQUARE = bytes.maketrans(b"{}", b"[]")
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'[]{}"')
_QUOTED = re.compile(rb'"[^"]*"')


def _finite_float(text: str) -> float:
    value = float(text)
    if value - value == 0.0:  # infinity minus itself is NaN; cheaper than math.isfinite here
        return value
    shown = text if len(text) <= _SHOWN_NUMBER_CHARS else text[:_SHOWN_NUMBER_CHARS] + "..."
    raise ValueError(f"Out of range float values are not JSON compliant: {shown}")


def nested_deeper_than(body: bytes, limit: int) -> bool:
    """Whether the arrays and objects of valid JSON (as UTF-8) nest more than `limit` levels, found
    with a few passes of bytes methods rather than a walk over the parsed data:

    1. Escaped backslashes and quotes go, so every quote left opens or closes a string.
    2. All but brackets and quotes go, and `{}` become `[]`.
    3. Strings go: `""` first (most strings, or the seam between two adjacent strings, which
       holds no structure either), then the few with brackets inside.
    4. Each replace of `[]` removes the innermost level left.
    """
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = body.translate(_ALL_BRACKETS_SQUARE, _NOT_STRUCTURE)
    if len(skeleton) <= limit:
        return False
    skeleton = skeleton.replace(b'""', b"")
    if b'"' in skeleton:
        skeleton = _QUOTED.sub(b"", skeleton)
    for _ in range(limit):
        if not skeleton:
            return False
        skeleton = skeleton.replace(b"[]", b"")
    return bool(skeleton)


def _holds_surrogate(data: Any) -> bool:
    """Whether a key or string of parsed JSON holds a lone surrogate (which UTF-8 cannot encode)."""
    pending = [data]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is str:
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return True
        elif kind is dict:
            pending.extend(item)
            pending.extend(item.values())
        elif kind is list:
            pending.extend(item)
    return False


class StrictJSONParser(JSONParser):
    """Parses a body into data that `json.dumps(data, allow_nan=False)` can write as UTF-8, and
    that nests at most MAX_JSON_DEPTH levels."""

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = get_encoding(parser_context or {})
        body = stream.read()
        try:
            text = body.decode(encoding)
            data = json.loads(text, parse_constant=strict_constant, parse_float=_finite_float)
        except RecursionError:
            raise ParseError(_TOO_DEEP) from None
        except ValueError as exc:  # UnicodeDecodeError too
            raise ParseError(f"JSON parse error - {exc}") from None
        utf8 = codecs.lookup(encoding).name == "utf-8"
        if not utf8:  # the checks below read UTF-8; other charsets may decode to a surrogate
            body = text.encode("utf-8", "surrogatepass")
        if nested_deeper_than(body, MAX_JSON_DEPTH):
            raise ParseError(_TOO_DEEP)
        maybe_surrogate = (b"\\" in body and _SURROGATE_ESCAPE.search(body) is not None) or (
            not utf8 and _ENCODED_SURROGATE.search(body) is not None
        )
        if maybe_surrogate and _holds_surrogate(data):
            raise ParseError(
                "JSON parse error - a string holds a lone UTF-16 surrogate (\\ud800-\\udfff "
                "without its pair), which is not a character"
            )
        return data
