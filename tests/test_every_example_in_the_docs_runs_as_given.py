"""Each request example `/doc` offers answers its documented success when sent as given."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.cluster import Cluster
from tests.support.live_router import LiveRouter
from workflows.api.examples import EXAMPLE_MODEL_FILES

SUCCESS = {
    ("post", "/workflow"): {202},
    ("post", "/cluster/nodes"): {200, 201},
    ("post", "/cluster/nodes/delete"): {200},
}
# A node is deleted only after the example that registers it has run.
ORDER = [("post", "/cluster/nodes"), ("post", "/workflow"), ("post", "/cluster/nodes/delete")]


def request_examples(schema: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            examples = content.get("application/json", {}).get("examples")
            if examples:
                found[(method, path)] = {name: shown["value"] for name, shown in examples.items()}
    return found


def test_every_request_example_in_the_docs_answers_its_success_status(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory(nodes=0)
    for folder, names in EXAMPLE_MODEL_FILES.items():
        (cluster.router.root_dir / "models" / folder).mkdir(parents=True, exist_ok=True)
        for name in names:
            (cluster.router.root_dir / "models" / folder / name).write_bytes(b"weights")
    cluster.add_node()
    with cluster.client() as client:
        examples = request_examples(client.get("/doc/openapi.json").json())
        assert sorted(examples) == sorted(SUCCESS)
        assert set(examples[("post", "/workflow")]) == {"SD15", "SDXL", "Flux", "ComfyUI"}
        for operation in ORDER:
            method, path = operation
            for name, body in examples[operation].items():
                response = client.request(method.upper(), path, json=body)
                assert response.status_code in SUCCESS[operation], (path, name, response.text)


def test_the_workflow_examples_give_a_seed_a_sampler_takes(module_router: LiveRouter) -> None:
    with module_router.client() as client:
        schema = client.get("/doc/openapi.json").json()
    for name, body in request_examples(schema)[("post", "/workflow")].items():
        seed = body["params"].get("seed")
        if seed is not None:
            assert isinstance(seed, int) and 0 <= seed < 2**32, (name, seed)
