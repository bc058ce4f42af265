"""ComfyUI's own `/object_info`, `/models`, `/embeddings`, `/system_stats` and `/features`, served
by the router over its pool, answer in the shapes a real ComfyUI 0.8.0 answered in (the recorded
traces), and `/api/X` answers as `/X` does, as on ComfyUI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fake_comfyui import FakeComfyUIThread
from tests.fake_comfyui.schema import object_info
from tests.support.cluster import Cluster
from tests.support.live_router import LiveRouter

TRACES = Path(__file__).resolve().parent / "comfyui_traces"
Answers = dict[str, httpx.Response]
ROUTES = (
    "/object_info",
    "/object_info/KSampler",
    "/object_info/CheckpointLoaderSimple",
    "/object_info/NoSuchNodeClass",
    "/models",
    "/models/checkpoints",
    "/models/no_such_folder",
    "/embeddings",
    "/system_stats",
    "/features",
)


def recorded() -> dict[str, dict[str, Any]]:
    """path → the real ComfyUI's answer to GET of it (status, response)."""
    answers: dict[str, dict[str, Any]] = {}
    for name in ("basic_endpoints", "err_request_shapes"):
        for line in (TRACES / f"{name}.jsonl").read_text().splitlines():
            record = json.loads(line)
            if record.get("kind") == "http" and record["method"] == "GET":
                answers.setdefault(record["path"], record)
    return answers


def shape(value: Any) -> Any:
    """The value with every leaf replaced by its type: what a client's parser depends on."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value[:1]]
    return type(value).__name__


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One router with one fake node for the whole module: the tests only read."""
    router = LiveRouter(base_dir=tmp_path_factory.mktemp("router")).start()
    checkpoints = router.root_dir / "models" / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    (checkpoints / "tiny.safetensors").write_bytes(b"weights")
    embeddings = router.root_dir / "models" / "embeddings"
    embeddings.mkdir(parents=True, exist_ok=True)
    (embeddings / "easynegative.safetensors").write_bytes(b"weights")
    cluster = Cluster(router)
    try:
        cluster.nodes.append(FakeComfyUIThread(router.root_dir))
        with cluster.client() as client:
            client.post("/cluster/nodes", json={"url": cluster.nodes[0].url, "name": "gpu-1"})
        cluster.wait_for_node(cluster.nodes[0].url, "idle")
        yield cluster
    finally:
        router.stop()
        cluster.close()


@pytest.fixture(scope="module")
def answers(pool: Cluster) -> Answers:
    with pool.client() as client:
        return {path: client.get(path) for path in (*ROUTES, *("/api" + r for r in ROUTES))}


def test_each_route_answers_with_the_status_comfyui_answered(answers: Answers) -> None:
    traces = recorded()
    for path in ROUTES:
        expected = traces[path]["status"] if path in traces else 200
        assert answers[path].status_code == expected, path


def test_object_info_has_every_class_the_node_has_as_the_node_describes_it(
    answers: Answers,
) -> None:
    assert answers["/object_info"].headers["Content-Type"].startswith("application/json")
    assert answers["/object_info"].json() == object_info()


def test_one_class_is_answered_in_the_shape_comfyui_answered(answers: Answers) -> None:
    traces = recorded()
    for path in ("/object_info/KSampler", "/object_info/CheckpointLoaderSimple"):
        assert shape(answers[path].json()) == shape(traces[path]["response"]), path
    assert answers["/object_info/KSampler"].json() == {"KSampler": object_info()["KSampler"]}


def test_a_class_no_node_has_is_an_empty_object(answers: Answers) -> None:
    assert answers["/object_info/NoSuchNodeClass"].json() == {}


def test_models_lists_the_folders_and_a_folder_its_files(answers: Answers) -> None:
    assert answers["/models"].json() == recorded()["/models"]["response"]
    assert answers["/models/checkpoints"].json() == ["tiny.safetensors"]


def test_a_folder_no_node_has_is_a_404(answers: Answers) -> None:
    assert answers["/models/no_such_folder"].status_code == 404


def test_embeddings_are_named_without_their_extension(answers: Answers) -> None:
    assert answers["/embeddings"].json() == ["easynegative"]


def test_system_stats_has_comfyuis_keys_and_types(answers: Answers) -> None:
    real = recorded()["/system_stats"]["response"]
    stats = answers["/system_stats"].json()
    assert list(stats) == list(real)
    assert list(stats["system"]) == list(real["system"])
    for key, value in real["system"].items():
        assert type(stats["system"][key]) is type(value), key
    assert [list(device) for device in stats["devices"]] == [list(real["devices"][0])]
    assert stats["system"]["comfyui_version"] == "0.8.0"  # as the node reports
    assert stats["system"]["pytorch_version"] == "2.14.1+cpu"


def test_system_stats_lists_each_nodes_device_named_after_the_node(answers: Answers) -> None:
    [device] = answers["/system_stats"].json()["devices"]
    assert device["name"] == "gpu-1: cpu"  # the node's name, then its device's
    assert device["type"] == "cpu"
    assert device["vram_total"] == 25276063744


def test_features_say_previews_carry_metadata_and_the_routers_upload_limit(
    answers: Answers,
) -> None:
    real = recorded()["/features"]["response"]
    features = answers["/features"].json()
    # /upload/image's limit (16 MiB, as an inline image), within the 32 MiB request bodies.
    assert features == {"supports_preview_metadata": True, "max_upload_size": 16 * 1024 * 1024}
    assert shape({k: real[k] for k in features}) == shape(features)


def test_each_route_under_api_answers_as_the_route_itself(answers: Answers) -> None:
    for path in ROUTES:
        plain, api = answers[path], answers["/api" + path]
        assert api.status_code == plain.status_code, path
        if plain.status_code == 200:
            assert without_free_memory(api.json()) == without_free_memory(plain.json()), path


def without_free_memory(answer: Any) -> Any:
    """The answer but the router's free memory, which changes from one request to the next."""
    if isinstance(answer, dict) and "system" in answer:
        return {**answer, "system": {**answer["system"], "ram_free": None}}
    return answer
