"""Why a file could not be fetched; the message always names the URL and the cause."""

from __future__ import annotations


class DownloadError(Exception):
    def __init__(self, url: str, message: str) -> None:
        self.url = url
        self.message = message if url in message else f"{url}: {message}"
        super().__init__(self.message)


class TransientDownloadError(DownloadError):
    """Worth another attempt: resets, timeouts, 5xx, a body cut short."""


class DownloadAbandoned(DownloadError):
    """No unfinished task wants the file any more (they were cancelled or ended): its download
    stopped, its partial file removed."""


class UnsafeURLError(DownloadError):
    """Refused by the URL policy: a scheme other than http(s), or a private address."""
