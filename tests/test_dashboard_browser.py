"""The dashboard in a real browser: headless Chromium (Debian's) driven by Playwright.

A team member retitles an issue with a script in it; the simulator sends the webhook, the
worker processes it; an operator logs in, opens that delivery's trace, replays it and sees
the second run. The title is shown as text and never runs.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Dialog, async_playwright, expect
from pydantic import SecretStr

from hooks.testing.simulator import Simulator
from tests.e2e import as_user, serve_rule_pack, settle, store_of

ADMIN = "admin-token-0123"
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TITLE = "<script>window.owned = 1; alert('owned')</script> Pricing <b>page</b>"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture
async def service(gitlab_sim: Simulator, tmp_path: Path) -> AsyncIterator[TestServer]:
    server = await serve_rule_pack(gitlab_sim, tmp_path, admin_token=SecretStr(ADMIN))
    yield server
    await server.close()


async def test_an_operator_opens_a_trace_replays_it_and_the_title_stays_text(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    issue = as_user(gitlab_sim, "alice").projects.get("demo/product", lazy=True).issues.get(2)
    issue.title = TITLE
    issue.save()
    await settle(gitlab_sim, store_of(service))
    [delivery] = [  # alice's change, not the echo of the bot's own label change
        d
        for d in await store_of(service).list_deliveries(project="demo/product")
        if json.loads(d.body)["user"]["username"] == "alice"
    ]
    dialogs: list[str] = []

    async def dismissed(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    with tempfile.TemporaryDirectory(prefix="hooks-chromium-") as profile:
        async with async_playwright() as playwright:
            # A fresh, throw-away profile (Playwright passes it as --user-data-dir).
            browser = await playwright.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
            )
            page = await browser.new_page()
            page.on("dialog", dismissed)

            await page.goto(str(service.make_url("/ui/deliveries")))
            await expect(page).to_have_url(f"{service.make_url('/ui/login')}?next=/ui/deliveries")
            await page.fill("#token", ADMIN)
            await page.click("button[type=submit]")
            await page.click(f"#deliveries a[href='/ui/deliveries/{delivery.id}']")

            await expect(page.locator("#summary")).to_contain_text(TITLE)
            await expect(page.locator("#run-1")).to_contain_text("matched")
            await page.click("#replay")
            await expect(page.locator(".message")).to_have_text("Replay queued")
            await expect(page.locator("#run-2")).to_contain_text("Rules", timeout=15_000)
            await expect(page.locator("#status")).to_have_text("done")

            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "dashboard-trace.png"), full_page=True)
            owned = await page.evaluate("() => window.owned")
            bold = await page.locator("#summary b").count()
            await browser.close()

    assert owned is None and dialogs == [] and bold == 0
    assert (ARTIFACTS / "dashboard-trace.png").stat().st_size > 10_000
