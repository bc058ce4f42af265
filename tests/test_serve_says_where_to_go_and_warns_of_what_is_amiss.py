"""At start, `serve` prints where the admin and the docs are, warns while the default admin/admin
credentials are in use or DOWNLOAD__ROOT_DIR is no ComfyUI base directory (no `models/`), and
names any `COMFY_ROUTER__*` variable it does not know (a typo would otherwise be ignored without
a word)."""

from __future__ import annotations

from collections.abc import Callable

from comfy_router.config import load_config
from tests.support.live_router import LiveRouter


def test_serve_prints_the_admin_and_docs_urls_and_warns_of_default_credentials(
    live_router: LiveRouter,
) -> None:
    log = live_router.log()
    assert f"admin: http://127.0.0.1:{live_router.port}/admin/" in log
    assert f"API docs: http://127.0.0.1:{live_router.port}/doc" in log
    assert "default credentials admin/admin are in use" in log


def test_serve_names_a_variable_it_does_not_know_and_what_was_meant(
    router_factory: Callable[..., LiveRouter],
) -> None:
    router = router_factory(COMFY_ROUTER__PASWORD="secret")
    assert (
        "COMFY_ROUTER__PASWORD is not a setting of the router and is ignored "
        "(did you mean COMFY_ROUTER__PASSWORD?)"
    ) in router.log()


def test_the_known_variables_raise_no_warning() -> None:
    environment = {"COMFY_ROUTER__PORT": "9000", "COMFY_ROUTER__DOWNLOAD__TIMEOUT": "5"}
    assert load_config(environment).unknown_variables == ()
    assert load_config({"COMFY_ROUTER__NODE__QUEUE": "1"}).unknown_variables[0].startswith(
        "COMFY_ROUTER__NODE__QUEUE is not a setting"
    )


def test_serve_warns_when_the_root_dir_is_no_comfyui_base_directory(
    router_factory: Callable[..., LiveRouter],
) -> None:
    router = router_factory()
    assert "has no models/ folder: set it to ComfyUI's base directory" in router.log()
    (router.root_dir / "models").mkdir(parents=True, exist_ok=True)
    router.restart()
    restarted = router.log().split("Comfy Router stopped")[-1]
    assert "has no models/ folder" not in restarted
