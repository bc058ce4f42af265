"""DNS the tests control: `fake_dns.answer("files.example", "127.0.0.1")`, or a different answer
per lookup, as a rebinding server gives: `fake_dns.answer("x.example", "8.8.8.8", "127.0.0.1")`
(the last answer repeats). Names not given are resolved as usual.

It replaces `socket.getaddrinfo`, which the private-network check, `socket.create_connection`
(httpcore's sync backend) and asyncio's resolver (anyio, httpcore's async backend) all call at
the time of the call. Like the C function it stands for, it turns a `str` host into bytes with
Python's "idna" codec (IDNA 2003: `ß` becomes `ss`), so a test sees which name each caller asked
for: `fake_dns.lookups`.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

AddressInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]]


@dataclass
class FakeDNS:
    real_getaddrinfo: Any
    answers: dict[str, list[str]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)

    def answer(self, name: str, *addresses: str) -> None:
        """Each lookup of `name` (the ASCII name that reaches the resolver) gets the next
        address; the last one is kept for every later lookup."""
        self.answers[name.lower()] = list(addresses)

    def lookups_of(self, name: str) -> int:
        return self.lookups.count(name.lower())

    def getaddrinfo(
        self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[AddressInfo]:
        name = wire_name(host)
        if name not in self.answers:
            return self.real_getaddrinfo(host, port, family, type, proto, flags)
        self.lookups.append(name)
        pending = self.answers[name]
        address = pending.pop(0) if len(pending) > 1 else pending[0]
        return [address_info(address, port, type)]


def wire_name(host: Any) -> str:
    if isinstance(host, str):
        host = host.encode("idna")
    return bytes(host).decode("ascii").lower() if host is not None else ""


def address_info(address: str, port: Any, kind: int) -> AddressInfo:
    number = int(port) if port is not None else 0
    socket_kind = socket.SocketKind(kind or socket.SOCK_STREAM)
    if ipaddress.ip_address(address).version == 6:
        return (socket.AF_INET6, socket_kind, socket.IPPROTO_TCP, "", (address, number, 0, 0))
    return (socket.AF_INET, socket_kind, socket.IPPROTO_TCP, "", (address, number))


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDNS]:
    dns = FakeDNS(real_getaddrinfo=socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", dns.getaddrinfo)
    yield dns
