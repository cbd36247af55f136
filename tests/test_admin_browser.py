"""The admin in a real browser: headless Chromium (Debian's chromium and chromium-driver) via Selenium."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx2
import pytest

from .conftest import initialize, start_module_server
from .services import unavailable
from .test_operations import ADMIN_PASSWORD, calculate, create_admin

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM or not CHROMEDRIVER:
        unavailable("chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory):
    live = start_module_server(tmp_path_factory, "admin_browser")
    create_admin(live)
    yield live
    live.stop()


def test_admin_in_a_browser(browser, admin_server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    shots = Path(os.environ.get("MCPSITE_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    with httpx2.Client(timeout=10) as http:
        session_id = initialize(http, admin_server.url)
        calculate(http, admin_server, session_id, 20, "multiply")

    base = admin_server.base.replace("127.0.0.1", "localhost")
    browser.get(f"{base}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(ADMIN_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    # The click returns before the next page is loaded: wait for it.
    figures = WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.ID, "live-figures")))
    assert "Live now" in figures.text
    # The admin's stylesheet is served (whitenoise): the header is styled, not raw HTML.
    header_color = browser.find_element(By.ID, "header").value_of_css_property("background-color")
    assert header_color not in ("rgba(0, 0, 0, 0)", "transparent")
    browser.save_screenshot(str(shots / "admin-index.png"))

    pages = {
        "sessions": ("/admin/sessions_app/mcpsession/", session_id),
        "session": (f"/admin/sessions_app/mcpsession/{session_id}/change/", "20 multiply 2 = 40"),
        "events": (f"/admin/sessions_app/streamevent/?session__id__exact={session_id}", "response"),
        "calculations": ("/admin/tools_app/calculation/", "20 multiply 2 = 40"),
        "nodes": ("/admin/sessions_app/nodeheartbeat/", "node-"),
    }
    for name, (path, expected) in pages.items():
        browser.get(base + path)
        body = browser.find_element(By.TAG_NAME, "body").text
        assert expected in body, (name, body[:300])
        assert "Server Error" not in body
        browser.save_screenshot(str(shots / f"admin-{name}.png"))

    browser.get(base + "/")
    assert "mcpsite" in browser.title and "Active sessions" in browser.find_element(By.TAG_NAME, "body").text
    browser.save_screenshot(str(shots / "landing.png"))
