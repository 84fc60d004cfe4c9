"""The browser harness itself: Debian's Chromium, driven by Playwright, reaches the live app."""

from __future__ import annotations

from typing import Any


def test_the_browser_reaches_the_live_service(browser_page: Any) -> None:
    browser_page.goto("/health")
    assert '"status"' in browser_page.content()
    assert "ok" in browser_page.inner_text("body")
