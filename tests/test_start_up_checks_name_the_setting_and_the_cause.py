"""`serve` and `worker` check at start what would otherwise fail later (a directory they cannot
write to, a database or Redis they cannot reach, a port already taken): one line naming the
setting and the cause, exit status 1, no traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests.support.live_router import PROJECT_DIR, LiveRouter, free_port


def start(tmp_path: Path, *command: str, **env: str) -> subprocess.CompletedProcess[str]:
    router = LiveRouter(base_dir=tmp_path, env_overrides=env)
    return subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=PROJECT_DIR, env=router.environment(), capture_output=True, text=True, timeout=60,
    )


def assert_refused_in_one_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1, result
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "listening" not in result.stdout
    for word in words:
        assert word in result.stderr, result.stderr


def a_file(tmp_path: Path) -> Path:
    """Tests run as root, whom no permission stops: a path under a regular file is one no one
    can make a directory of."""
    path = tmp_path / "a-file"
    path.write_text("not a directory")
    return path


def test_serve_refuses_a_data_dir_it_cannot_make(tmp_path: Path) -> None:
    data_dir = a_file(tmp_path) / "data"
    result = start(tmp_path, "serve", COMFY_ROUTER__DATA_DIR=str(data_dir))
    assert_refused_in_one_line(
        result, f"COMFY_ROUTER__DATA_DIR={data_dir} is not a writable directory", "Not a directory"
    )


def test_serve_refuses_a_download_cache_dir_that_is_a_file(tmp_path: Path) -> None:
    cache_dir = a_file(tmp_path)
    result = start(tmp_path, "serve", COMFY_ROUTER__DOWNLOAD__CACHE_DIR=str(cache_dir))
    assert_refused_in_one_line(
        result, f"COMFY_ROUTER__DOWNLOAD__CACHE_DIR={cache_dir} is not a writable directory"
    )


def test_serve_refuses_a_comfyui_root_dir_it_cannot_make(tmp_path: Path) -> None:
    root_dir = a_file(tmp_path) / "comfyui"
    result = start(tmp_path, "serve", COMFY_ROUTER__DOWNLOAD__ROOT_DIR=str(root_dir))
    assert_refused_in_one_line(result, f"COMFY_ROUTER__DOWNLOAD__ROOT_DIR={root_dir}")


def test_serve_refuses_a_port_already_taken_before_it_says_it_listens(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = start(tmp_path, "serve", COMFY_ROUTER__PORT=str(port))
    assert_refused_in_one_line(
        result, f"COMFY_ROUTER__PORT={port}: cannot listen on 127.0.0.1:{port}", "in use"
    )


def test_serve_refuses_a_postgresql_that_does_not_answer_without_showing_its_password(
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"postgres://router:hunter2@127.0.0.1:{port}/router"
    result = start(tmp_path, "serve", COMFY_ROUTER__DATABASE_URL=url)
    assert_refused_in_one_line(
        result, f"COMFY_ROUTER__DATABASE_URL: cannot connect to PostgreSQL at 127.0.0.1:{port}"
    )
    assert "hunter2" not in result.stderr


def test_a_worker_refuses_a_redis_that_does_not_answer_without_showing_its_password(
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"redis://:hunter2@127.0.0.1:{port}/0"
    result = start(tmp_path, "worker", COMFY_ROUTER__CHANNEL_LAYER_URL=url)
    assert_refused_in_one_line(
        result, f"COMFY_ROUTER__CHANNEL_LAYER_URL: Redis at 127.0.0.1:{port} does not answer"
    )
    assert "hunter2" not in result.stderr


def test_an_api_process_refuses_a_redis_that_does_not_answer(tmp_path: Path) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    result = start(tmp_path, "serve", "--api-only", COMFY_ROUTER__CHANNEL_LAYER_URL=url)
    assert_refused_in_one_line(result, "COMFY_ROUTER__CHANNEL_LAYER_URL: Redis at")


def test_a_worker_checks_its_directories_first(tmp_path: Path) -> None:
    cache_dir = a_file(tmp_path) / "cache"
    result = start(
        tmp_path, "worker",
        COMFY_ROUTER__DOWNLOAD__CACHE_DIR=str(cache_dir),
        COMFY_ROUTER__CHANNEL_LAYER_URL=f"redis://127.0.0.1:{free_port()}/0",
    )
    assert_refused_in_one_line(result, f"COMFY_ROUTER__DOWNLOAD__CACHE_DIR={cache_dir}")
