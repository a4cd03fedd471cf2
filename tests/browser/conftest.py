"""Chromium (Debian's, not a downloaded one) driven by Playwright against a live avis."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import APIRequestContext, Page, Playwright

from tests.factories import OrganisationSetup
from tests.helpers import open_all_day

# Playwright's sync API keeps an event loop running in the test's thread, and
# Django refuses ORM calls from a thread with a running loop unless told that
# this is safe. It is: the loop only drives the browser, never the ORM.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# An iPhone 12–15 sized screen, touch and all.
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "fr-FR",
    "timezone_id": "Europe/Paris",
}
DESK: dict[str, Any] = {
    "viewport": {"width": 1280, "height": 800},
    "locale": "fr-FR",
    "timezone_id": "Europe/Paris",
}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not CHROMIUM.exists():
        message = f"Debian's chromium is not installed at {CHROMIUM}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: a missing browser is a failure)")
        pytest.skip(message)
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture
def site(live_server, settings, org: OrganisationSetup) -> str:  # noqa: ANN001
    """avis served on a real port, its emails linking back to it, sending at any hour."""
    settings.AVIS_BASE_URL = live_server.url
    open_all_day(org.organisation)
    return live_server.url


@pytest.fixture
def http_api(playwright: Playwright, site: str, org: OrganisationSetup) -> Iterator[APIRequestContext]:
    """The public API over real HTTP, as a client system would call it."""
    context = playwright.request.new_context(
        base_url=site, extra_http_headers={"Authorization": f"Bearer {org.api_key}"}
    )
    yield context
    context.dispose()


@pytest.fixture
def csp_violations() -> Iterator[list[str]]:
    """What chromium refused under avis's Content-Security-Policy: a page relying on an inline script
    or style would be broken for real users, so any refusal fails the test."""
    found: list[str] = []
    yield found
    assert not found, "Content-Security-Policy violations:\n" + "\n".join(found)


def _watched(page: Page, violations: list[str]) -> Page:
    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    page.on("console", on_console)
    return page


@pytest.fixture
def phone(new_context, site: str, csp_violations: list[str]) -> Page:  # noqa: ANN001
    return _watched(new_context(**PHONE).new_page(), csp_violations)


@pytest.fixture
def desk(new_context, site: str, csp_violations: list[str]) -> Page:  # noqa: ANN001
    return _watched(new_context(**DESK).new_page(), csp_violations)


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
