from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from comfy_router.config import RouterConfig, load_config
from tests.support.cluster import Cluster, comfyui_body, tiny_graph


def config_with(tmp_path: Path, **env: str) -> RouterConfig:
    return load_config({"COMFY_ROUTER__DATA_DIR": str(tmp_path), **env})


def test_history_max_age_is_off_unless_set(tmp_path: Path) -> None:
    assert config_with(tmp_path).history_max_age is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("7d", 604800), ("12h", 43200), ("90m", 5400), ("45s", 45), ("3600", 3600), ("1.5h", 5400)],
)
def test_history_max_age_reads_days_hours_minutes_or_seconds(
    tmp_path: Path, value: str, seconds: float
) -> None:
    assert config_with(tmp_path, COMFY_ROUTER__HISTORY_MAX_AGE=value).history_max_age == seconds


@pytest.mark.parametrize("value", ["7w", "-1h", "0", "1h30m", "soon"])
def test_it_refuses_a_history_max_age_that_is_not_a_positive_duration(
    tmp_path: Path, value: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match="COMFY_ROUTER__HISTORY_MAX_AGE"):
        config_with(tmp_path, COMFY_ROUTER__HISTORY_MAX_AGE=value)


def test_a_history_limit_of_0_needs_a_history_max_age(tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match="COMFY_ROUTER__HISTORY_MAX_AGE"):
        config_with(tmp_path, COMFY_ROUTER__HISTORY_LIMIT="0")
    config = config_with(
        tmp_path, COMFY_ROUTER__HISTORY_LIMIT="0", COMFY_ROUTER__HISTORY_MAX_AGE="7d"
    )
    assert (config.history_limit, config.history_max_age) == (0, 604800)


def wait_until_gone(cluster: Cluster, task_id: str, timeout: float) -> None:
    started = time.monotonic()
    with cluster.client() as client:
        while client.get(f"/workflow/{task_id}").status_code != 404:
            assert time.monotonic() - started < timeout, f"task {task_id} is still kept"
            time.sleep(0.1)


def test_a_finished_task_and_its_files_go_once_older_than_history_max_age(
    cluster_factory,
) -> None:
    cluster: Cluster = cluster_factory(
        nodes=1, COMFY_ROUTER__HISTORY_LIMIT="0", COMFY_ROUTER__HISTORY_MAX_AGE="4"
    )
    outputs = cluster.router.data_dir / "outputs"
    first = cluster.submit(comfyui_body(tiny_graph(seed=80)))
    assert cluster.wait_for(first)["status"] == "done"
    assert (outputs / first).is_dir()  # younger than 4 s: kept, with no count limit
    time.sleep(2)
    second = cluster.submit(comfyui_body(tiny_graph(seed=81)))
    assert cluster.wait_for(second)["status"] == "done"
    wait_until_gone(cluster, first, timeout=10)
    assert not (outputs / first).exists()
    assert cluster.task(second)["status"] == "done"  # finished later: not old enough yet
    assert (outputs / second).is_dir()
    wait_until_gone(cluster, second, timeout=10)
    assert not (outputs / second).exists()


def test_the_count_limit_still_applies_beside_the_age_limit(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(
        nodes=1, COMFY_ROUTER__HISTORY_LIMIT="1", COMFY_ROUTER__HISTORY_MAX_AGE="1h"
    )
    first = cluster.submit(comfyui_body(tiny_graph(seed=82)))
    cluster.wait_for(first)
    second = cluster.submit(comfyui_body(tiny_graph(seed=83)))
    cluster.wait_for(second)
    wait_until_gone(cluster, first, timeout=10)
    assert cluster.task(second)["status"] == "done"
    assert sorted(p.name for p in (cluster.router.data_dir / "outputs").iterdir()) == [second]
