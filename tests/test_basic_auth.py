from __future__ import annotations

import base64
import socket

import httpx
import pytest

from comfy_router.auth import PUBLIC_PATHS
from tests.support.live_router import LiveRouter
from tests.support.urlconf import walk_routes

ROUTES = [route for route in walk_routes() if not route.is_admin]
PROTECTED = [route.path for route in ROUTES if not PUBLIC_PATHS.match(route.path)]
PUBLIC = [route.path for route in ROUTES if PUBLIC_PATHS.match(route.path)]
WRONG = [None, ("admin", "wrong"), ("someone", "admin"), ("", "")]


def test_the_walk_finds_the_routes_it_must_guard() -> None:
    assert "/doc/openapi.json" in PROTECTED
    assert "/health_check" in PUBLIC


@pytest.mark.parametrize("path", PROTECTED)
def test_every_route_but_the_public_ones_needs_basic_auth(
    module_router: LiveRouter, path: str
) -> None:
    for credentials in WRONG:
        with module_router.client(auth=credentials) as client:
            for method in ("GET", "POST", "DELETE"):
                response = client.request(method, path)
                assert response.status_code == 401, (method, path, credentials)
                assert response.headers["WWW-Authenticate"].startswith("Basic ")
                assert response.json()["message"]
    with module_router.client() as client:
        assert client.get(path).status_code != 401


def test_public_routes_answer_without_credentials(live_router: LiveRouter) -> None:
    assert httpx.get(live_router.url + "/health_check").status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "Basic",
        "Basic !!!",
        "Bearer admin",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        # Bytes past ASCII, which an HTTP header may carry: no base64, and no 500 either.
        b"Basic \xff\xfe",
        b"Basic YWRt\xc3\xa9",
    ],
)
def test_a_malformed_authorization_header_is_a_401(
    module_router: LiveRouter, header: str | bytes
) -> None:
    response = httpx.get(module_router.url + "/doc/openapi.json", headers={"Authorization": header})
    assert response.status_code == 401


def test_the_admin_opens_with_basic_auth_and_redirects_anonymous_visitors_to_its_form(
    live_router: LiveRouter,
) -> None:
    anonymous = httpx.get(live_router.url + "/admin/")
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"].startswith("/admin/login/")
    with live_router.client() as client:
        page = client.get("/admin/")
    assert page.status_code == 200
    assert "Site administration" in page.text or "Nodes, tasks and cache" in page.text
    with live_router.client(auth=("admin", "wrong")) as client:
        assert client.get("/admin/").status_code == 302


def test_the_admin_login_form_accepts_the_router_credentials_and_nothing_else(
    live_router: LiveRouter,
) -> None:
    def log_in(password: str) -> httpx.Response:
        with httpx.Client(base_url=live_router.url) as browser:
            form = browser.get("/admin/login/")
            token = browser.cookies["csrftoken"]
            assert form.status_code == 200
            response = browser.post(
                "/admin/login/?next=/admin/",
                data={"username": "admin", "password": password, "csrfmiddlewaretoken": token},
                headers={"Referer": live_router.url + "/admin/login/"},
            )
            if response.status_code == 302:
                return browser.get(response.headers["Location"])
            return response

    assert "Nodes, tasks and cache" in log_in("admin").text
    assert "Please enter the correct username and password" in log_in("nope").text


def test_a_websocket_with_bytes_past_ascii_in_its_basic_header_is_refused_not_a_500(
    module_router: LiveRouter,
) -> None:
    host, port = module_router.url.removeprefix("http://").split(":")
    handshake = (
        b"GET /ws?clientId=c1 HTTP/1.1\r\n"
        + f"Host: {host}:{port}\r\n".encode()
        + b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        + b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        + b"Authorization: Basic \xff\xfe\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(handshake)
        status_line = connection.recv(4096).split(b"\r\n", 1)[0]
    assert status_line.split()[1] == b"403", status_line
