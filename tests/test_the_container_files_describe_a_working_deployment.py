"""docker-compose.yml, the Dockerfile, .env.example and deploy/nginx.conf, checked without a
Docker daemon: `docker compose config` where the plugin exists, else their structure as YAML."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from comfy_router.config import load_config
from tests.support.live_router import PROJECT_DIR

COMPOSE = PROJECT_DIR / "docker-compose.yml"
NGINX_CONF = PROJECT_DIR / "deploy" / "nginx.conf"
ROUTER_VARIABLE = re.compile(r"COMFY_ROUTER__[A-Z0-9_]*[A-Z0-9]")
API_SERVICES = ("api-1", "api-2")
LONG_RUNNING = ("nginx", "postgres", "redis", *API_SERVICES, "worker")


def services() -> dict[str, dict[str, Any]]:
    return dict(yaml.safe_load(COMPOSE.read_text())["services"])


def env_example_names() -> set[str]:
    lines = (PROJECT_DIR / ".env.example").read_text().splitlines()
    return {m[1] for line in lines if (m := re.match(r"#?\s*(COMFY_ROUTER__\w+)=", line))}


def lines_of(name: str) -> set[str]:
    return {line.strip() for line in (PROJECT_DIR / name).read_text().splitlines()}


def test_nginx_is_the_one_front_door_and_forwards_websockets() -> None:
    published = {name for name, service in services().items() if service.get("ports")}
    assert published == {"nginx"}
    nginx = services()["nginx"]
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in nginx["volumes"]
    assert set(nginx["depends_on"]) == set(API_SERVICES)
    conf = NGINX_CONF.read_text()
    for api in API_SERVICES:
        assert f"server {api}:8080" in conf
    assert "proxy_http_version 1.1;" in conf
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    assert "proxy_set_header Connection $connection_upgrade;" in conf
    assert "proxy_set_header Host $http_host;" in conf  # output URLs name the client's host


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_the_nginx_config_is_accepted_by_nginx(tmp_path: Path) -> None:
    # The API services' names resolve only inside compose's network.
    conf = tmp_path / "nginx.conf"
    text = re.sub(r"api-\d:8080", "127.0.0.1:8080", NGINX_CONF.read_text())
    conf.write_text(text.replace("pid /tmp/nginx.pid;", f"pid {tmp_path}/nginx.pid;"))
    result = subprocess.run(
        ["nginx", "-t", "-c", str(conf), "-p", str(tmp_path)],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr


def test_every_long_running_service_has_a_health_check() -> None:
    for name in LONG_RUNNING:
        check = services()[name].get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), name
    assert services()["worker"]["healthcheck"]["test"] == ["CMD", "python", "manage.py", "alive"]
    for api in API_SERVICES:
        assert "/health_check" in " ".join(services()[api]["healthcheck"]["test"])


def test_every_image_is_pinned_to_a_version() -> None:
    images = [s["image"] for s in services().values() if s.get("build") is None]
    images += re.findall(r"^FROM (\S+)", (PROJECT_DIR / "Dockerfile").read_text(), re.M)
    assert len(images) == 4
    for image in images:
        # A release (postgres numbers them major.minor), not a moving tag: 16, 7, 3.11, latest.
        assert re.fullmatch(r"[a-z0-9./-]+:\d+\.\d+(\.\d+)?(-[\w.-]+)?", image), image
        name, version = image.split(":")
        assert name != "python" or version.split("-")[0].count(".") == 2, image  # 3.11.11


def test_every_router_variable_of_the_deployment_files_is_a_setting_of_the_router(
    tmp_path: Path,
) -> None:
    named: set[str] = set()
    for name in ("docker-compose.yml", "Dockerfile", ".env.example"):
        named.update(ROUTER_VARIABLE.findall((PROJECT_DIR / name).read_text()))
    assert len(named) > 20
    environment = {name: "" for name in named} | {"COMFY_ROUTER__DATA_DIR": str(tmp_path)}
    assert load_config(environment).unknown_variables == ()


def test_env_example_names_every_variable_of_the_readme() -> None:
    readme = (PROJECT_DIR / "README.md").read_text()
    documented = set(re.findall(r"^\| `(COMFY_ROUTER__\w+)`", readme, re.M))
    assert documented
    assert documented - env_example_names() == set()


def test_every_router_process_gets_the_readme_variable_names_from_env() -> None:
    for name in (*API_SERVICES, "worker", "migrate"):
        service = services()[name]
        assert {"path": ".env", "required": False} in service["env_file"]
        assert service["environment"]["COMFY_ROUTER__CHANNEL_LAYER_URL"].startswith("redis://")
        assert service["environment"]["COMFY_ROUTER__DATABASE_URL"].startswith("postgres://")
    assert "${COMFY_ROUTER__PASSWORD:?" in COMPOSE.read_text()


def test_secrets_stay_out_of_git_and_tests_and_benchmarks_out_of_the_image() -> None:
    assert ".env" in lines_of(".gitignore")
    assert {".env", ".git", ".venv", "tests", "bench"} <= lines_of(".dockerignore")


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="the docker compose plugin is not installed",
)
def test_docker_compose_accepts_the_file() -> None:
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
        cwd=PROJECT_DIR, env={"COMFY_ROUTER__PASSWORD": "x", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
