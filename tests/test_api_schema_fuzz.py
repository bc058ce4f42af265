"""Every operation of /doc/openapi.json, fed generated valid and invalid input by schemathesis,
against a live router with a fake ComfyUI node: never a 5xx, never a response outside its
declared schema, never an error that is not the API's JSON error shape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from schemathesis import GenerationMode

from tests.fake_comfyui import FakeComfyUIThread
from tests.support.cluster import Cluster, comfyui_body, tiny_graph
from tests.support.live_router import LiveRouter
from tests.support.schema_fuzz import fuzz_operation, load_schema, served_operations

EXAMPLES = {GenerationMode.POSITIVE: 40, GenerationMode.NEGATIVE: 40}
OPERATIONS = served_operations()
VALID_BODIES = [
    comfyui_body(tiny_graph(seed=1)),
    comfyui_body(tiny_graph(seed=2, save="SaveImage")),
    {"type": "SD15", "params": {"checkpoint": {"type": "build_in", "name": "tiny.safetensors"},
                                "prompt": "a cat", "width": 64, "height": 64, "steps": 2}},
]


@pytest.fixture(scope="module")
def fuzzed_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    router = LiveRouter(
        base_dir=tmp_path_factory.mktemp("fuzz"),
        env_overrides={
            "COMFY_ROUTER__PENDING_LIMIT": "1000",
            "COMFY_ROUTER__DOWNLOAD__BLOCK_PRIVATE_NETWORKS": "true",
        },
    ).start()
    cluster = Cluster(router)
    checkpoints = router.root_dir / "models" / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    (checkpoints / "tiny.safetensors").write_bytes(b"weights")
    try:
        cluster.add_node()
        ids = [cluster.submit(body) for body in VALID_BODIES[:2]]
        for task_id in ids:
            assert cluster.wait_for(task_id)["status"] == "done"
        cluster.known_task_ids = ids  # type: ignore[attr-defined]
        yield cluster
    finally:
        router.stop()
        cluster.close()


@pytest.fixture(scope="module")
def schema(fuzzed_cluster: Cluster) -> Any:
    return load_schema(fuzzed_cluster.router.url)


def test_the_fuzz_covers_every_operation_the_router_serves(schema: Any) -> None:
    served = sorted(
        f"{method.upper()} {path}"
        for path, operations in schema.raw_schema["paths"].items()
        for method in operations
    )
    assert served == OPERATIONS
    assert len(OPERATIONS) >= 9


@pytest.mark.parametrize("mode", list(EXAMPLES), ids=lambda mode: mode.value)
@pytest.mark.parametrize("label", OPERATIONS)
def test_generated_requests_get_declared_answers_and_never_a_5xx(
    fuzzed_cluster: Cluster, schema: Any, label: str, mode: GenerationMode
) -> None:
    report = fuzz_operation(
        schema,
        fuzzed_cluster.router.url,
        label,
        mode,
        EXAMPLES[mode],
        task_ids=fuzzed_cluster.known_task_ids,  # type: ignore[attr-defined]
        bodies=VALID_BODIES,
    )
    assert report.requests >= 1
    distinct = list(dict.fromkeys(report.failures))
    assert not distinct, f"{len(distinct)} distinct failure(s):\n\n" + "\n\n".join(distinct[:5])


def test_the_router_and_its_node_are_healthy_after_the_fuzz(fuzzed_cluster: Cluster) -> None:
    router: LiveRouter = fuzzed_cluster.router
    node: FakeComfyUIThread = fuzzed_cluster.nodes[0]
    with router.client() as client:
        assert client.get("/health_check").status_code == 200
    assert fuzzed_cluster.node_status(node.url) in ("idle", "busy")
    assert "Traceback" not in router.log()
