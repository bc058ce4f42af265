"""Enum components are named for what they list, never with drf-spectacular's hash suffix."""

from __future__ import annotations

import re

from tests.support.live_router import LiveRouter

HASH_SUFFIX = re.compile(r"[0-9A-F]{3}Enum$")


def test_no_enum_component_name_ends_in_a_hex_suffix(module_router: LiveRouter) -> None:
    with module_router.client() as client:
        components = client.get("/doc/openapi.json").json()["components"]["schemas"]
    enums = [name for name in components if name.endswith("Enum")]
    assert [name for name in enums if HASH_SUFFIX.search(name)] == []
    assert {"TaskStatusEnum", "WorkflowTypeEnum", "NodeStatusEnum"} <= set(enums)
