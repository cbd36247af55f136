"""Log in and consent through the built-in authorization server's pages in headless Chromium."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from .conftest import INIT_PARAMS, POST_HEADERS, start_module_server
from .oauth_flow import REDIRECT_URI, USER_PASSWORD, add_user, authorize_url, exchange_code, register
from .test_admin_browser import browser  # noqa: F401  (the headless Chromium fixture)


@pytest.fixture(scope="module")
def oauth_server(tmp_path_factory):
    live = start_module_server(tmp_path_factory, "oauth_browser", env={"MCP_AUTH": "oauth"})
    add_user(live, "erin")
    yield live
    live.stop()


def test_login_and_consent_in_a_browser(browser, oauth_server, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    shots = Path(os.environ.get("MCPSITE_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    client = register(oauth_server.base)
    url, verifier = authorize_url(
        oauth_server.base, client["client_id"], state="browser-state", scope="mcp", resource=oauth_server.url
    )
    browser.get(url)
    wait = WebDriverWait(browser, 15)
    wait.until(expected_conditions.presence_of_element_located((By.ID, "login-form")))
    assert urlsplit(browser.current_url).path == "/accounts/login/"
    browser.save_screenshot(str(shots / "oauth-login.png"))
    browser.find_element(By.NAME, "username").send_keys("erin")
    browser.find_element(By.NAME, "password").send_keys(USER_PASSWORD)
    browser.find_element(By.ID, "login-submit").click()

    heading = wait.until(expected_conditions.presence_of_element_located((By.ID, "consent-heading")))
    assert "raw test client" in heading.text
    assert browser.find_element(By.ID, "consent-user").text == "erin"
    assert "Use the MCP server" in browser.find_element(By.ID, "consent-scopes").text
    browser.save_screenshot(str(shots / "oauth-consent.png"))
    browser.find_element(By.ID, "consent-allow").click()
    wait.until(lambda driver: driver.current_url.startswith(REDIRECT_URI))
    answer = {key: values[0] for key, values in parse_qs(urlsplit(browser.current_url).query).items()}
    assert answer["state"] == "browser-state" and answer["iss"] == oauth_server.base

    token = exchange_code(oauth_server.base, client["client_id"], answer["code"], verifier, oauth_server.url)
    assert token.status_code == 200, token.text
    opened = httpx2.post(
        oauth_server.url,
        headers={**POST_HEADERS, "authorization": f"Bearer {token.json()['access_token']}"},
        json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INIT_PARAMS},
        timeout=10,
    )
    assert opened.status_code == 200 and opened.headers["mcp-session-id"]
