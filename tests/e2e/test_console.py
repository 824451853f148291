"""The web console end to end: headless Chromium (Debian's package, driven by
Playwright with ``executable_path``; never a browser download) against a real
``rapport serve`` process. Screenshots of every page, at laptop and phone widths, go
to ``test-artifacts/console/``.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from rapport.core.db import Database
from rapport.core.keys import KeyKind
from tests.api.processes import Server
from tests.conftest import (
    ROOT,
    TEST_ENCRYPTION_KEY,
    Workspace,
    make_workspace,
    wait_processed,
)

CHROMIUM = os.environ.get("RAPPORT_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "console"
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
PAGES = [
    "overview",
    "events",
    "profiles",
    "surfaces",
    "experiences",
    "audiences",
    "keys",
    "settings",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/test.sh does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def served(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # The key encrypts provider credentials (required on PostgreSQL).
    server = Server(
        database_url,
        tmp_path_factory.mktemp("console") / "serve.log",
        RAPPORT_ENCRYPTION_KEY=TEST_ENCRYPTION_KEY,
    )
    yield server
    server.stop()


@pytest.fixture
def page(browser: Browser, served: Server) -> Iterator[Page]:
    context = browser.new_context(base_url=served.url, viewport=LAPTOP)
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def shot(page: Page, name: str, backend: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"] if page.viewport_size else 0
    page.screenshot(path=str(ARTIFACTS / f"{backend}-{width}-{name}.png"), full_page=True)


def sign_in(page: Page, workspace: Workspace) -> None:
    page.goto("/console")
    page.get_by_label("Admin key").fill(workspace.keys[KeyKind.ADMIN])
    page.get_by_role("button", name="Sign in").click()
    # Focused once the page has loaded its data: keyboard steps start from there.
    expect(page.get_by_role("heading", name="Overview")).to_be_focused()


def decide_and_convert(url: str, workspace: Workspace, surface_id: str, users: int) -> int:
    """Fetch content for ``users`` people, report impressions, convert every third one;
    the number of decisions."""
    events = []
    with httpx.Client(base_url=url, timeout=10) as client:
        for n in range(users):
            contact = f"shopper-{n}"
            answer = client.get(
                "/v1/surface/content",
                params={
                    "contact_id": contact,
                    "surface_id": surface_id,
                    "allow_unassigned": "true",
                },
                headers={"X-API-Key": workspace.keys[KeyKind.SURFACES]},
            )
            assert answer.status_code == 200, answer.text
            [decision] = answer.json()
            now = time.time()
            events.append(
                {
                    "contact_id": contact,
                    "event_name": "banner_viewed",
                    "timestamp": now,
                    "metadata": {"assignment_id": decision["assignment_id"]},
                }
            )
            if n % 3 == 0:
                events.append({"contact_id": contact, "event_name": "purchase", "timestamp": now})
        sent = client.post(
            "/v1/events",
            json=events,
            headers={"Authorization": f"Bearer {workspace.keys[KeyKind.INGEST]}"},
        )
        assert sent.status_code == 202, sent.text
        # A rejected request, for the overview's per-dialect errors.
        bad = client.post(
            "/v1/events",
            json={"event_name": "no contact"},
            headers={"Authorization": f"Bearer {workspace.keys[KeyKind.INGEST]}"},
        )
        assert bad.status_code == 422
    return users


def test_console_end_to_end(page: Page, served: Server, db: Database, backend: str) -> None:
    workspace = make_workspace(db)

    # Sign-in: a wrong key is a visible alert; the right one opens the overview.
    page.goto("/console")
    expect(page.get_by_role("heading", name="Sign in to the rapport console")).to_be_visible()
    shot(page, "signin", backend)
    page.get_by_label("Admin key").fill("ak_wrong_key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")
    sign_in(page, workspace)
    cookie = next(c for c in page.context.cookies() if c["name"] == "rapport_console")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"

    # Keyboard: from the top of the page, Tab reaches the skip link, then the menu,
    # and Enter on a menu link opens its page.
    page.locator("#workspace-name").click()  # where sequential navigation starts
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    expect(page.locator(":focus")).to_have_text("Skip to content")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # brand, sign out, first menu link
    expect(page.locator(":focus")).to_have_text("Overview")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Live events")).to_be_focused()

    # A surface with two labelled variants; a 422 marks the offending field first.
    page.get_by_role("link", name="Surfaces").click()
    page.get_by_role("link", name="New surface").click()
    page.get_by_label("Name", exact=True).fill("Home banner")
    page.get_by_label("Holdout %").fill("150")
    variant_names = page.get_by_label("Variant name")
    variant_names.nth(0).fill("calm")
    variant_names.nth(1).fill("urgent")
    page.get_by_label("Labels").nth(0).fill("tone=calm")
    page.get_by_label("Labels").nth(1).fill("tone=urgent, offering=discount")
    page.get_by_label("Payload (JSON)").nth(1).fill('{"title": "Last chance"}')
    page.get_by_role("button", name="Create surface").click()
    expect(page.get_by_role("alert")).to_contain_text("control.holdout_percent")
    expect(page.get_by_label("Holdout %")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Holdout %").fill("40")
    page.get_by_role("button", name="Create surface").click()
    expect(page.get_by_role("heading", name="Home banner")).to_be_visible()
    summary = page.locator("#report-summary")
    expect(summary).to_contain_text("0 decisions")
    surface_id = page.locator("code").first.inner_text()
    assert re.fullmatch(r"[0-9a-f-]{36}", surface_id)

    # Traffic arrives: the report changes.
    decisions = decide_and_convert(served.url, workspace, surface_id, 24)
    wait_processed(db, workspace.id)
    page.get_by_role("button", name="Refresh report").click()
    expect(summary).to_contain_text(f"{decisions} decisions")
    expect(page.get_by_role("img", name=re.compile("Conversion rate per variant"))).to_be_visible()
    shot(page, "surface", backend)

    # Live events, filtered.
    page.get_by_role("link", name="Live events").click()
    expect(page.get_by_role("cell", name="banner_viewed").first).to_be_visible()
    page.get_by_label("Event name").fill("purchase")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_role("cell", name="banner_viewed")).to_have_count(0)
    expect(page.get_by_role("cell", name="purchase")).to_have_count(8)

    # Profiles: search by identity, open one, see the agent's preferences.
    page.get_by_role("link", name="Profiles").click()
    page.get_by_label("Identity", exact=True).fill("shopper-3")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("cell", name="shopper-3")).to_be_visible()
    page.get_by_role("row", name=re.compile("shopper-3")).get_by_role("link").click()
    expect(page.get_by_role("heading", name="Why this user gets this variant")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("Preference by tone"))).to_be_visible()
    shot(page, "profile", backend)

    # Audiences: the rule builder sizes the rule as it is written.
    page.get_by_role("link", name="Audiences").click()
    page.get_by_role("link", name="New audience").click()
    page.get_by_label("Attribute").fill("computed.count.purchase")
    page.get_by_label("Operator").select_option("gte")
    page.get_by_label("Value").fill("1")
    expect(page.locator("#audience-size")).to_contain_text("8 of 24 profiles match")
    shot(page, "audience", backend)

    # API keys: a new key's secret is shown once.
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("console test")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-secret")).to_contain_text("ik_")

    # The overview shows the traffic and the rejected request.
    page.get_by_role("link", name="Overview").click()
    expect(page.get_by_text("aampe 1")).to_be_visible()
    expect(page.get_by_role("cell", name="422 validation_error")).to_be_visible()

    # Every page, at both widths.
    for viewport in (LAPTOP, PHONE):
        page.set_viewport_size(viewport)
        for name in PAGES:
            page.goto(f"/console#/{name}")
            expect(page.locator("#view h1")).to_be_visible()
            expect(page.locator("#alerts")).to_be_empty()
            # Usable at this width: the page itself never scrolls sideways.
            assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), name
            shot(page, name, backend)
    # On a phone the menu is a toggle.
    toggle = page.get_by_role("button", name="Menu")
    expect(toggle).to_be_visible()
    toggle.click()
    expect(page.get_by_role("link", name="Surfaces")).to_be_visible()
    shot(page, "menu", backend)

    # Sign out: the API no longer answers this browser.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to the rapport console")).to_be_visible()
    assert not [c for c in page.context.cookies() if c["name"] == "rapport_console" and c["value"]]


def ingest_profiles(url: str, workspace: Workspace, users: int) -> None:
    """One event each for ``users`` people, so a broadcast has an audience."""
    events = [
        {"contact_id": f"camper-{n}", "event_name": "app_opened", "timestamp": time.time()}
        for n in range(users)
    ]
    with httpx.Client(base_url=url, timeout=10) as client:
        sent = client.post(
            "/v1/events",
            json=events,
            headers={"Authorization": f"Bearer {workspace.keys[KeyKind.INGEST]}"},
        )
        assert sent.status_code == 202, sent.text


def card_value(page: Page, card_id: str) -> int:
    return int(page.locator(f"#{card_id}").inner_text().replace(",", ""))


def test_console_providers_and_campaigns(
    page: Page, served: Server, db: Database, backend: str
) -> None:
    workspace = make_workspace(db)
    users = 8
    ingest_profiles(served.url, workspace, users)
    wait_processed(db, workspace.id)
    sign_in(page, workspace)

    # A webhook with a short signing secret: the 422 marks the credentials field.
    page.get_by_role("link", name="Push providers").click()
    page.get_by_role("link", name="Add a provider").click()
    page.get_by_label("Kind").select_option("webhook")
    page.get_by_label("Name").fill("Gateway")
    page.get_by_label("URL").fill("https://push.example.com/rapport")
    page.get_by_label("Signing secret").fill("short")
    page.get_by_role("button", name="Add provider").click()
    expect(page.get_by_role("alert")).to_contain_text("credentials.signing_secret")
    expect(page.get_by_label("Signing secret")).to_have_attribute("aria-invalid", "true")

    # A log provider, and a test send to a raw token.
    page.get_by_label("Kind").select_option("log")
    page.get_by_label("Name").fill("Dry-run log")
    page.get_by_role("button", name="Add provider").click()
    expect(page.get_by_role("heading", name="Dry-run log")).to_be_visible()
    expect(page.locator("#provider-summary")).to_contain_text("none needed")
    page.get_by_label("Recipient").fill("device-token-1")
    page.get_by_role("button", name="Send test").click()
    result = page.locator("#test-result")
    expect(result).to_contain_text("The provider accepted the message")
    expect(result).to_contain_text("sent")
    expect(result).to_contain_text("Token retired")
    shot(page, "provider-test", backend)
    provider_url = page.url

    # A dry-run broadcast with two alternates; quiet hours "25:00" is refused on the field.
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Name", exact=True).fill("Spring sale")
    page.get_by_label("Provider").select_option(label="Dry-run log (log)")
    titles = page.get_by_label("Title", exact=True)
    titles.nth(0).fill("Spring is here")
    titles.nth(1).fill("20% off this week")
    page.get_by_label("Labels").nth(1).fill("offering=discount")
    page.get_by_label("Timing").select_option("immediate")
    page.get_by_label("Holdout %").fill("20")
    page.get_by_label("No messages during quiet hours").check()
    page.get_by_label("From", exact=True).fill("25:00")
    page.get_by_label("Dry run").check()
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_role("alert")).to_contain_text("quiet_hours.start")
    expect(page.get_by_label("From", exact=True)).to_have_attribute("aria-invalid", "true")
    # Without quiet hours the sends are due now, whatever the time of day.
    page.get_by_label("No messages during quiet hours").uncheck()
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_role("heading", name="Spring sale")).to_be_visible()
    status = page.locator("#campaign-status")
    expect(status).to_have_text("draft")

    # Scheduled: the server's orchestrator runs it; the page follows it to completion.
    page.get_by_role("button", name="Schedule").click()
    expect(status).to_have_text("completed", timeout=30_000)
    expect(page.get_by_role("button", name="Pause")).to_have_count(0)
    expect(page.locator("#progress-planned")).to_have_text(str(users))
    sent = card_value(page, "progress-sent")
    held_out = card_value(page, "progress-held-out")
    assert sent > 0
    assert sent + held_out == users
    expect(page.locator("#report-outcomes tr").first).to_contain_text(f"All sends{sent}")
    expect(
        page.get_by_role("img", name=re.compile("Conversion rate per alternate"))
    ).to_be_visible()
    sends = page.get_by_role("table", name="Sends").locator("tbody tr")
    expect(sends).to_have_count(users)
    campaign_url = page.url

    # Both pages, lists and details, at both widths.
    views = {
        "campaigns": "/console#/campaigns",
        "campaign": campaign_url,
        "campaign-form": "/console#/campaigns/new",
        "providers": "/console#/providers",
        "provider-form": "/console#/providers/new",
        "provider": provider_url,
    }
    for viewport in (LAPTOP, PHONE):
        page.set_viewport_size(viewport)
        for name, url in views.items():
            page.goto(url)
            expect(page.locator("#view h1")).to_be_visible()
            expect(page.locator("#alerts")).to_be_empty()
            if name in ("campaigns", "providers"):
                expect(page.get_by_role("cell").first).to_be_visible()
            if name == "campaign":
                expect(page.locator("#progress-sent")).to_have_text(str(sent))
            assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), name
            shot(page, name, backend)
