"""The one spelling of a node's URL, shared by the cluster API, the admin and `import_nodes`.

`HTTP://GPU-1.lan:80/comfy/` and `http://gpu-1.lan/comfy` are the same node, so every entry point
stores `normalize_node_url(raw)`: lowercase scheme and host, the port only when it is not the
scheme's default, the path without trailing slashes, and nothing else.

`normalize_host` is also the download URL check's idea of a valid host: a host passes only if
httpx and the resolver can use it as stored.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import idna

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_LENGTH = 500
HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
# A name ending in a number is an IPv4 address to browsers and resolvers (`1.2.3`, `0x7f.1`).
NUMERIC_LABEL = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")


class InvalidNodeURL(ValueError):
    """The message is meant for the operator, as is."""


def normalize_node_url(raw: str) -> str:
    text = (raw or "").strip()
    if not text:
        raise InvalidNodeURL("Enter the node's URL, e.g. http://127.0.0.1:8188.")
    if "://" not in text:
        raise InvalidNodeURL(f"{text!r} has no scheme: start it with http:// or https://.")
    try:
        parts = urlsplit(text)
    except ValueError as error:  # e.g. unbalanced or invalid [IPv6] brackets
        raise InvalidNodeURL(f"{text!r} is not a valid URL ({error}).") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise InvalidNodeURL(f"Scheme {parts.scheme!r} is not supported: use http or https.")
    if "@" in parts.netloc:
        raise InvalidNodeURL("Credentials do not belong in the URL: set the node's token instead.")
    if parts.query or text.rstrip().endswith("?"):
        raise InvalidNodeURL("A node URL takes no query string.")
    if parts.fragment or "#" in text:
        raise InvalidNodeURL("A node URL takes no fragment.")
    host = normalize_host(parts.hostname or "")
    try:
        port = parts.port
    except ValueError:
        raise InvalidNodeURL(f"{parts.netloc!r} has no valid port (1-65535).") from None
    if port == 0:
        raise InvalidNodeURL("Port 0 is not a port a node can listen on.")
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = re.sub(r"/+$", "", parts.path)
    if any(char.isspace() for char in path):
        raise InvalidNodeURL("The URL's path must not contain spaces.")
    url = f"{scheme}://{netloc}{path}"
    if len(url) > MAX_LENGTH:
        raise InvalidNodeURL(f"The URL is longer than {MAX_LENGTH} characters.")
    return url


def normalize_host(hostname: str) -> str:
    """The host as the URL should carry it: an IPv6 address in brackets, an IPv4 address, or a
    lowercase ASCII name, non-ASCII labels encoded by IDNA 2008 rules as httpx encodes them."""
    if not hostname:
        raise InvalidNodeURL("The URL has no host.")
    if ":" in hostname:
        try:
            return f"[{ipaddress.IPv6Address(hostname).compressed}]"
        except ValueError:
            raise InvalidNodeURL(f"{hostname!r} is not a valid IPv6 address.") from None
    name = hostname.lower().rstrip(".")
    if not name.isascii():
        try:
            name = idna.encode(name, uts46=True).decode("ascii")
        except UnicodeError:  # idna.IDNAError and its kin
            raise InvalidNodeURL(f"{hostname!r} is not a valid host name.") from None
    labels = name.split(".")
    if NUMERIC_LABEL.match(labels[-1]):
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            raise InvalidNodeURL(f"{hostname!r} is not a valid IPv4 address.") from None
    if not all(HOST_LABEL.match(label) for label in labels):
        raise InvalidNodeURL(f"{hostname!r} is not a valid host name.")
    return name
