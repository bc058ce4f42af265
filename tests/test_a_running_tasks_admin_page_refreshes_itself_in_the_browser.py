"""A running task's admin page, in a real browser (Debian's headless Chromium) against a real
router and a fake node: its script (the router's own static file) polls GET /preview/{id},
shows progress and preview as they change, reloads once when the task ends, then stops."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cluster import Cluster, comfyui_body, sampler_graph
from tests.support.live_router import CREDENTIALS
from tests.test_node_admin_in_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (scripts/install-system-deps)"
)
POLL_SECONDS = 1.0


def test_the_page_follows_the_running_task_and_stops_polling_once_it_is_done(
    cluster_factory: Callable[..., Cluster], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    cluster = cluster_factory(nodes=1, knobs={"step_delay": 0.5, "previews": True})
    # 20 s of sampling: still running once a browser has started and logged in on a loaded
    # machine (6 s was not always enough).
    task_id = cluster.submit(comfyui_body(sampler_graph(seed=3, steps=40)))
    cluster.wait_for(task_id, ("running",))
    router = cluster.router.url
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        browser.set_default_timeout(15_000)
        page = browser.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        loads: list[str] = []
        page.on("load", lambda loaded: loads.append(loaded.url))
        try:
            page.goto(router + "/admin/")
            page.fill("#id_username", CREDENTIALS[0])
            page.fill("#id_password", CREDENTIALS[1])
            page.click("input[type=submit]")
            expect(page.locator("#site-name")).to_contain_text("Comfy Router")

            page.goto(router + f"/admin/workflows/task/{task_id}/change/")
            loads_before = len(loads)
            expect(page.locator(".task-cancel button")).to_be_visible()
            percent = page.locator("#task-live-percent")
            expect(percent).to_have_text(re.compile(r"^\d+%$"))
            first = percent.text_content()
            expect(percent).not_to_have_text(first or "")  # it moves without a reload
            expect(page.locator("#task-live-preview")).to_have_attribute(
                "src", re.compile(r"^data:image/jpeg;base64,")
            )
            assert len(loads) == loads_before

            expect(page.locator("#task-live")).to_have_count(0, timeout=45_000)  # reloaded
            expect(page.locator(".task-retry button")).to_be_visible()
            assert "done" in (page.locator(".field-status_badge").text_content() or "")
            polls = sum(f"/preview/{task_id}" in url for url in requested)
            assert polls >= 2
            time.sleep(3 * POLL_SECONDS)
            assert sum(f"/preview/{task_id}" in url for url in requested) == polls
            assert any(url.endswith("/static/workflows/task_live.js") for url in requested)
            assert all(url.startswith((router, "data:")) for url in requested)
        finally:
            browser.close()
