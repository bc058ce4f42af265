"""What may be fetched and where files may land: http(s) only, optionally no private networks,
and only into ComfyUI folders we know, under plain file names."""

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


def check_url(url: str, *, block_private_networks: bool) -> None:
    """Raises UnsafeURLError for a URL we must not fetch. Called for the first URL and every
    redirect target, from the download's worker thread (so resolving may block).

    The check resolves the name once and the connection resolves it again: a DNS answer that
    changes in between (rebinding) is not caught."""
    host = check_scheme(url)
    if not block_private_networks:
        return
    port = urlsplit(url).port or (443 if url.lower().startswith("https") else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeURLError(url, f"cannot resolve host {host!r}: {exc}") from None
    for info in infos:
        address = str(info[4][0])
        if not is_public_address(address):
            raise UnsafeURLError(
                url,
                f"host {host!r} resolves to the non-public address {address}, "
                "refused because COMFY_ROUTER__DOWNLOAD__BLOCK_PRIVATE_NETWORKS is on",
            )
