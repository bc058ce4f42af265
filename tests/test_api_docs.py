from __future__ import annotations

from tests.support.live_router import LiveRouter


def test_doc_serves_swagger_ui_and_its_assets(live_router: LiveRouter) -> None:
    with live_router.client() as client:
        page = client.get("/doc")
        assert page.status_code == 200
        assert "swagger-ui" in page.text
        asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
        assert asset.status_code == 200


def test_openapi_schema_is_json_and_declares_basic_auth(live_router: LiveRouter) -> None:
    with live_router.client() as client:
        response = client.get("/doc/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["basicAuth"] == {
        "type": "http",
        "scheme": "basic",
    }
    for path, operations in schema["paths"].items():
        if path.startswith("/preview/"):
            continue
        for method, operation in operations.items():
            assert {"basicAuth": []} in operation.get("security", []), (method, path)
