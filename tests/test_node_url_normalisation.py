"""One spelling per node URL, whichever way it was typed."""

from __future__ import annotations

import pytest

from nodes.node_url import InvalidNodeURL, normalize_node_url


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("http://127.0.0.1:8188", "http://127.0.0.1:8188"),
        ("  http://127.0.0.1:8188/  ", "http://127.0.0.1:8188"),
        ("HTTP://GPU-1.Example.COM:8188/", "http://gpu-1.example.com:8188"),
        ("http://gpu-1:80", "http://gpu-1"),
        ("https://gpu-1:443/", "https://gpu-1"),
        ("https://gpu-1:80", "https://gpu-1:80"),
        ("http://proxy/comfy/node-1//", "http://proxy/comfy/node-1"),
        ("http://proxy/Comfy/Node", "http://proxy/Comfy/Node"),
        ("http://[::1]:8188/", "http://[::1]:8188"),
        ("http://[0:0:0:0:0:0:0:1]:8188", "http://[::1]:8188"),
        ("http://host.example.:8188", "http://host.example:8188"),
        ("http://bücher.example", "http://xn--bcher-kva.example"),
    ],
)
def test_equivalent_spellings_normalise_to_one_url(raw: str, normalised: str) -> None:
    assert normalize_node_url(raw) == normalised
    assert normalize_node_url(normalised) == normalised


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ("", "Enter"),
        ("127.0.0.1:8188", "no scheme"),
        ("ftp://gpu-1", "http or https"),
        ("ws://gpu-1:8188", "http or https"),
        ("http://", "no host"),
        ("http://:8188", "no host"),
        ("http://user:pass@gpu-1", "token"),
        ("http://gpu-1:8188/?token=x", "query"),
        ("http://gpu-1:8188#top", "fragment"),
        ("http://gpu-1:99999", "port"),
        ("http://gpu-1:abc", "port"),
        ("http://gpu-1:0", "Port 0"),
        ("http://bad host", "host"),
        ("http://-gpu", "host"),
        ("http://[zz::1]:8188", "not a valid"),
        ("http://[::1:8188", "not a valid"),
        ("http://gpu-1/a b", "spaces"),
        ("http://gpu-1/" + "x" * 600, "longer"),
    ],
)
def test_a_bad_url_is_refused_with_a_reason(raw: str, complaint: str) -> None:
    with pytest.raises(InvalidNodeURL, match=complaint):
        normalize_node_url(raw)
