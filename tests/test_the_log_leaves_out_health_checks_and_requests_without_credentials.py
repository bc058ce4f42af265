"""The log is not flooded: httpx's "HTTP Request: …" line per health check shows only with
LOG_LEVEL=DEBUG, and a request that carried no credentials at all (a browser's /favicon.ico)
is answered 401 without a warning. A 401 for wrong credentials is still logged."""

from __future__ import annotations

import time

from comfy_router.config import load_config
from comfy_router.logs import logging_settings
from tests.support.cluster import Cluster


def test_health_checks_and_a_favicon_without_credentials_leave_no_line(cluster: Cluster) -> None:
    node = cluster.nodes[0]
    checks = len([r for r in node.log.requests if r.path == "/system_stats"])
    while len([r for r in node.log.requests if r.path == "/system_stats"]) < checks + 3:
        time.sleep(0.05)  # a few health checks at HEALTH__INTERVAL=0.2
    with cluster.router.client(auth=None) as client:
        assert client.get("/favicon.ico").status_code == 401
    with cluster.router.client(auth=("admin", "wrong")) as client:
        assert client.get("/workflow/list").status_code == 401
    deadline = time.monotonic() + 5
    while "Unauthorized: /workflow/list" not in cluster.router.log():
        assert time.monotonic() < deadline, cluster.router.log()
        time.sleep(0.05)
    log = cluster.router.log()
    assert "HTTP Request:" not in log
    assert "/favicon.ico" not in log


def test_http_client_lines_show_when_debugging() -> None:
    debugging = logging_settings(load_config({"COMFY_ROUTER__LOG_LEVEL": "DEBUG"}))["loggers"]
    assert debugging["httpx"]["level"] == "DEBUG"
    assert debugging["httpcore"]["level"] == "DEBUG"
    usual = logging_settings(load_config({}))["loggers"]
    assert usual["httpx"]["level"] == "WARNING"
    assert usual["httpcore"]["level"] == "WARNING"
