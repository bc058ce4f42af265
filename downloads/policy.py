"""What may be fetched and where files may land: http(s) only, optionally no private networks
(checked by the connection: see `public_addresses`), and only into ComfyUI folders we know,
under plain file names."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from urllib.parse import urlsplit

from downloads.errors import UnsafeURLError

ALLOWED_SCHEMES = ("http", "https")

LINK_FOLDERS = frozenset(
    {
        "input",
        "models/audio_encoders",
        "models/checkpoints",
        "models/clip",
        "models/clip_vision",
        "models/configs",
        "models/controlnet",
        "models/diffusers",
        "models/diffusion_models",
        "models/embeddings",
        "models/gligen",
        "models/hypernetworks",
        "models/latent_upscale_models",
        "models/loras",
        "models/model_patches",
        "models/photomaker",
        "models/style_models",
        "models/text_encoders",
        "models/unet",
        "models/upscale_models",
        "models/vae",
        "models/vae_approx",
    }
)


def folder_path(root_dir: Path, folder: str) -> Path:
    if folder not in LINK_FOLDERS:
        raise ValueError(f"{folder!r} is not a ComfyUI folder files may be linked into")
    return root_dir / folder


def check_file_name(name: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise ValueError(f"{name!r} is not a plain file name")
    return name


def check_scheme(url: str) -> str:
    """The host of an http(s) URL; anything else is refused."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        scheme = parts.scheme or "a relative URL"
        raise UnsafeURLError(url, f"only http and https URLs are fetched, not {scheme!r}")
    if not parts.hostname:
        raise UnsafeURLError(url, "the URL has no host")
    return parts.hostname


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


def public_addresses(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, once each is found public; else UnsafeURLError. Called
    by the connection itself (downloads.transport), which then connects to one of these
    addresses and never resolves `host` again, so the address checked is the address reached:
    a DNS answer that changes in between (rebinding) does not matter.

    `host` is the name as it goes on the wire: an IP literal or the ASCII name httpx made of the
    URL's host (a non-ASCII name in its IDNA 2008 form, `xn--...`). Resolving the URL's own
    spelling instead would apply Python's IDNA 2003 codec and check another name."""
    if not host.isascii():
        raise UnsafeURLError(host, f"host {host!r} is not in its ASCII (IDNA) form")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeURLError(host, f"cannot resolve host {host!r}: {exc}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        if not is_public_address(address):
            raise UnsafeURLError(
                host,
                f"host {host!r} resolves to the non-public address {address}, "
                "refused because COMFY_ROUTER__DOWNLOAD__BLOCK_PRIVATE_NETWORKS is on",
            )
    return addresses
