"""Daphne's connections leave form bodies to Django: a malformed multipart body gets the API's own
JSON answer rather than Twisted's empty 400, and the admin's forms still work."""

from __future__ import annotations

import httpx

from tests.support.live_router import LiveRouter

MALFORMED_MULTIPART = {  # no boundary, so no parts
    "content": b"type=SD15",
    "headers": {"Content-Type": "multipart/form-data"},
}


def test_a_malformed_multipart_post_to_a_public_path_is_a_json_405(
    module_router: LiveRouter,
) -> None:
    response = httpx.post(module_router.url + "/health_check", **MALFORMED_MULTIPART)
    assert response.status_code == 405
    assert response.json()["detail"] == {"allowed": ["GET", "HEAD"]}


def test_a_malformed_multipart_post_to_the_api_is_a_json_415(module_router: LiveRouter) -> None:
    with module_router.client() as client:
        response = client.post("/workflow", **MALFORMED_MULTIPART)
    assert response.status_code == 415
    assert "multipart/form-data" in response.json()["message"]


def test_the_admin_login_form_works_url_encoded_and_multipart(module_router: LiveRouter) -> None:
    def log_in(**encoding: object) -> httpx.Response:
        with httpx.Client(base_url=module_router.url) as browser:
            browser.get("/admin/login/")
            fields = {
                "username": "admin",
                "password": "admin",
                "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            }
            response = browser.post(
                "/admin/login/?next=/admin/",
                data=fields,
                headers={"Referer": module_router.url + "/admin/login/"},
                **encoding,  # type: ignore[arg-type]
            )
            assert response.status_code == 302, response.text
            return browser.get(response.headers["Location"])

    assert "Nodes, tasks and cache" in log_in().text
    assert "Nodes, tasks and cache" in log_in(files={"unused": ("a.txt", b"x")}).text
