from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from comfy_router.config import RouterConfig, load_config


def config_with(tmp_path: Path, **env: str) -> RouterConfig:
    return load_config({"COMFY_ROUTER__DATA_DIR": str(tmp_path), **env})


def test_public_url_is_empty_unless_set(tmp_path: Path) -> None:
    assert config_with(tmp_path).public_url == ""


def test_public_url_is_kept_without_its_trailing_slash(tmp_path: Path) -> None:
    config = config_with(tmp_path, COMFY_ROUTER__PUBLIC_URL="https://router.example.com/api/")
    assert config.public_url == "https://router.example.com/api"


@pytest.mark.parametrize(
    "value",
    [
        "router.example.com",
        "ftp://router.example.com",
        "https://",
        "https://router.example.com/?a=1",
        "https://router.example.com/#top",
        "https://router.example.com/?",
    ],
)
def test_it_refuses_a_public_url_that_is_not_a_plain_http_or_https_address(
    tmp_path: Path, value: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match="COMFY_ROUTER__PUBLIC_URL"):
        config_with(tmp_path, COMFY_ROUTER__PUBLIC_URL=value)
