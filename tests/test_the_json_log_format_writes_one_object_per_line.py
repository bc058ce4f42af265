"""`COMFY_ROUTER__LOG_FORMAT=json`: every line the router writes is one JSON object (time, level,
logger, message, and fields such as the task's id), for log collectors; a bad value stops
start-up."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from comfy_router.config import load_config
from comfy_router.logs import JsonFormatter
from tests.support.cluster import comfyui_body, tiny_graph
from tests.support.live_router import PROJECT_DIR, LiveRouter


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord(
        "workflows.tasks.endings", logging.INFO, __file__, 1, message, args, None
    )
    made.__dict__.update(extra)
    return made


def test_a_line_carries_time_level_logger_message_and_the_extra_fields() -> None:
    line = JsonFormatter().format(record("Task %s ended %s", "abc", "done", task_id="abc"))
    entry = json.loads(line)
    assert entry["level"] == "INFO"
    assert entry["logger"] == "workflows.tasks.endings"
    assert entry["message"] == "Task abc ended done"
    assert entry["task_id"] == "abc"
    assert entry["time"].endswith("+00:00")
    assert "args" not in entry and "msg" not in entry and "\n" not in line


def test_an_exception_stays_on_its_one_line_with_its_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        failed = record("Task failed")
        failed.exc_info = sys.exc_info()
    line = JsonFormatter().format(failed)
    assert "\n" not in line
    assert "ValueError: boom" in json.loads(line)["exc_info"]


def test_a_log_format_other_than_text_or_json_is_refused() -> None:
    assert load_config({}).log_format == "text"
    assert load_config({"COMFY_ROUTER__LOG_FORMAT": "json"}).log_format == "json"
    with pytest.raises(ImproperlyConfigured, match="COMFY_ROUTER__LOG_FORMAT='xml'"):
        load_config({"COMFY_ROUTER__LOG_FORMAT": "xml"})


def test_serve_refuses_a_bad_log_format_in_one_line(tmp_path: Path) -> None:
    env = LiveRouter(base_dir=tmp_path, env_overrides={"COMFY_ROUTER__LOG_FORMAT": "xml"})
    result = subprocess.run(
        [sys.executable, "manage.py", "serve"],
        cwd=PROJECT_DIR, env=env.environment(), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "COMFY_ROUTER__LOG_FORMAT='xml': expected one of text, json" in result.stderr


def test_serve_writes_only_json_lines_with_the_task_id_as_a_field(
    router_factory: Callable[..., LiveRouter],
) -> None:
    router = router_factory(COMFY_ROUTER__LOG_FORMAT="json")
    with router.client() as client:
        task_id = client.post("/workflow", json=comfyui_body(tiny_graph())).json()["id"]
        client.delete(f"/workflow/{task_id}")
    deadline = time.monotonic() + 10
    while f"Task {task_id} ended" not in router.log():
        assert time.monotonic() < deadline, router.log()
        time.sleep(0.05)
    assert router.stop() == 0
    entries = [json.loads(line) for line in router.log().splitlines()]
    messages = [entry["message"] for entry in entries]
    assert any(m.startswith("Comfy Router listening on") for m in messages)
    warning = next(e for e in entries if "default credentials" in e["message"])
    assert warning["level"] == "WARNING"
    ended = next(e for e in entries if e["message"].startswith(f"Task {task_id} ended cancelled"))
    assert ended["task_id"] == task_id
    assert ended["logger"] == "workflows.tasks.endings"
    assert ended["ran_seconds"] is None and ended["waited_seconds"] >= 0
