"""A node URL is refused (400 naming `url`, nothing saved) when httpx could not send a request to
it: a dotted-numeric host that is no IPv4 address, or a name IDNA 2008 does not allow."""

from __future__ import annotations

import base64

import pytest
from django.test import Client

from nodes.models import Node
from nodes.node_url import InvalidNodeURL, normalize_node_url

pytestmark = pytest.mark.django_db
UNUSABLE = [
    ("http://999.999.999.999", "not a valid IPv4 address"),
    ("http://256.1.1.1:8188", "not a valid IPv4 address"),
    ("http://01.2.3.4", "not a valid IPv4 address"),
    ("http://1.2.3", "not a valid IPv4 address"),
    ("http://gpu.0x7f", "not a valid IPv4 address"),
    ("http://ex\N{GRINNING FACE}.com", "not a valid host name"),
    ("http://gpu\N{SNOWMAN}.lan:8188", "not a valid host name"),
    ("http://a..b", "not a valid host name"),
]


@pytest.fixture
def api() -> Client:
    return Client(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"admin:admin").decode())


@pytest.mark.parametrize(("raw", "complaint"), UNUSABLE)
def test_a_host_httpx_cannot_use_is_refused_with_a_reason(raw: str, complaint: str) -> None:
    with pytest.raises(InvalidNodeURL, match=complaint):
        normalize_node_url(raw)


@pytest.mark.parametrize(("raw", "complaint"), UNUSABLE)
def test_the_api_answers_400_naming_url_and_saves_nothing(
    api: Client, raw: str, complaint: str
) -> None:
    response = api.post("/cluster/nodes", {"url": raw}, content_type="application/json")
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert list(detail) == ["url"] and complaint in detail["url"][0]
    assert not Node.objects.exists()


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("http://10.0.0.7:8188", "http://10.0.0.7:8188"),
        ("http://10.0.0.7.:8188", "http://10.0.0.7:8188"),
        ("http://B\N{LATIN SMALL LETTER U WITH DIAERESIS}CHER.example", "http://xn--bcher-kva.example"),
        ("http://fa\N{LATIN SMALL LETTER SHARP S}.example", "http://xn--fa-hia.example"),
        ("http://gpu-1.lan:8188", "http://gpu-1.lan:8188"),
        ("http://1gpu.lan", "http://1gpu.lan"),
    ],
)
def test_addresses_and_names_httpx_can_use_are_kept(raw: str, normalised: str) -> None:
    assert normalize_node_url(raw) == normalised
