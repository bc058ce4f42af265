"""The node admin in a real browser (Debian's headless Chromium) against a real router."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.live_router import CREDENTIALS, LiveRouter, free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (scripts/install-system-deps)"
)


def test_an_operator_adds_a_silent_node_sees_it_offline_and_deletes_it(
    live_router: LiveRouter, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    silent_url = f"http://127.0.0.1:{free_port()}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        browser.set_default_timeout(15_000)
        page = browser.new_page()
        try:
            page.goto(live_router.url + "/admin/")
            expect(page).to_have_url(re.compile(r"/admin/login/"))
            page.fill("#id_username", CREDENTIALS[0])
            page.fill("#id_password", CREDENTIALS[1])
            page.click("input[type=submit]")
            expect(page.locator("#site-name")).to_contain_text("Comfy Router")

            page.goto(live_router.url + "/admin/nodes/node/add/")
            page.fill("#id_url", silent_url + "/")
            page.fill("#id_name", "silent")
            page.click("input[name=_save]")
            expect(page.locator(".messagelist .warning")).to_contain_text(
                f"{silent_url} does not answer"
            )
            badge = page.locator("#result_list .node-status")
            expect(badge).to_have_text("offline")
            expect(badge).to_have_class(re.compile(r"node-status-offline"))

            page.locator("#result_list input[name=_selected_action]").check()
            page.select_option("select[name=action]", "delete_selected")
            page.click("button[name=index]")
            page.click("input[type=submit]")  # "Yes, I'm sure"
            expect(page.locator(".messagelist .success")).to_contain_text("Successfully deleted 1")
            expect(page.locator("#result_list")).to_have_count(0)
        finally:
            browser.close()
