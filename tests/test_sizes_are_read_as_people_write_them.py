"""Sizes in settings and `prune_cache` are read as people write them (`64GiB`, `64GB`, `500MB`,
bare bytes), and printed in binary units named as such."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from comfy_router.config import load_config
from comfy_router.sizes import format_size, parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("64GiB", 64 * 1024**3),
        ("64GB", 64 * 1000**3),
        ("500MB", 500 * 1000**2),
        ("1.5 MiB", int(1.5 * 1024**2)),
        ("68_719_476_736", 64 * 1024**3),
        ("4096", 4096),
        ("2kib", 2048),
    ],
)
def test_a_size_is_read_in_the_unit_it_names(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_the_cache_limit_takes_a_size_with_a_unit() -> None:
    config = load_config({"COMFY_ROUTER__DOWNLOAD__MAX_CACHE_BYTES": "64GiB"})
    assert config.max_cache_bytes == 64 * 1024**3
    assert load_config({"COMFY_ROUTER__MAX_REQUEST_BYTES": "10MB"}).max_request_bytes == 10**7


def test_a_size_in_an_unknown_unit_stops_start_up_naming_the_variable() -> None:
    name = "COMFY_ROUTER__DOWNLOAD__MAX_CACHE_BYTES"
    with pytest.raises(ImproperlyConfigured, match=f"{name}='64 furlongs'"):
        load_config({"COMFY_ROUTER__DOWNLOAD__MAX_CACHE_BYTES": "64 furlongs"})


def test_sizes_are_printed_in_binary_units_named_as_such() -> None:
    assert format_size(64 * 1024**3) == "64.0 GiB"
    assert format_size(3000) == "2.9 KiB"
    assert format_size(12) == "12 bytes"
