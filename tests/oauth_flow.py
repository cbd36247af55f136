"""The user's side of the built-in authorization server, over HTTP: log in, consent, get the code.

`consent` follows an authorization URL the way a browser would (Django's login page, then the
consent page, each with its CSRF token) and returns the redirect's query parameters. The SDK
client's redirect handler calls it; tests that need a token without the SDK call `token_for`.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import subprocess
import sys
from html import unescape
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx2

from .conftest import ROOT, LiveServer

USER_PASSWORD = "a long test password 42"
REDIRECT_URI = "http://127.0.0.1:1/callback"  # never fetched: the code is read off the Location header
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def add_user(server: LiveServer, username: str, *permissions: str) -> None:
    """A user who can log in (and, optionally, holds permissions as "app_label.codename")."""
    code = (
        "from django.contrib.auth.models import Permission, User\n"
        f"user = User.objects.create_user({username!r}, password={USER_PASSWORD!r})\n"
        f"for label in {list(permissions)!r}:\n"
        "    app, codename = label.split('.')\n"
        "    user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))\n"
    )
    env = {"DATABASE_URL": server.database_url, **server.env}
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env={**__import__("os").environ, **env},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def _form_fields(html: str) -> dict[str, str]:
    return {name: unescape(value) for name, value in _HIDDEN.findall(html)}


def consent(authorization_url: str, username: str, *, allow: bool = True) -> dict[str, str]:
    """Log `username` in and answer the consent page; the parameters the server redirected back with."""
    with httpx2.Client(timeout=10, follow_redirects=False) as browser:
        response = browser.get(authorization_url)
        assert response.status_code == 302, response.text
        login_url = urljoin(authorization_url, response.headers["location"])
        assert urlsplit(login_url).path == "/accounts/login/"
        page = browser.get(login_url)
        assert page.status_code == 200
        fields = _form_fields(page.text)
        response = browser.post(
            login_url,
            data={**fields, "username": username, "password": USER_PASSWORD},
            headers={"referer": login_url},
        )
        assert response.status_code == 302, f"login failed: {response.text[:500]}"
        back = urljoin(login_url, response.headers["location"])
        page = browser.get(back)
        assert page.status_code == 200, page.text
        assert 'id="authorizationForm"' in page.text, page.text[:2000]
        fields = _form_fields(page.text)
        data = {**fields, **({"allow": "Authorize"} if allow else {})}
        response = browser.post(back, data=data, headers={"referer": back})
        assert response.status_code == 302, response.text[:2000]
        return {key: values[0] for key, values in parse_qs(urlsplit(response.headers["location"]).query).items()}


def register(base: str) -> dict:
    """A public client, registered dynamically (RFC 7591)."""
    response = httpx2.post(
        f"{base}/o/register/",
        json={
            "client_name": "raw test client",
            "redirect_uris": [REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


def authorize_url(base: str, client_id: str, *, state: str, scope: str, resource: str) -> tuple[str, str]:
    """(the authorization endpoint's URL for a code with PKCE, the PKCE verifier to exchange the code with)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "scope": scope,
        "resource": resource,
    }
    return f"{base}/o/authorize/?{urlencode(query)}", verifier


def token_for(base: str, username: str, *, resource: str, scope: str = "mcp") -> dict:
    """The authorization code flow with PKCE over raw HTTP: register, consent, exchange. The token response."""
    client = register(base)
    url, verifier = authorize_url(base, client["client_id"], state="s1", scope=scope, resource=resource)
    answer = consent(url, username)
    assert answer["state"] == "s1", answer
    response = exchange_code(base, client["client_id"], answer["code"], verifier, resource)
    assert response.status_code == 200, response.text
    return {**response.json(), "client_id": client["client_id"]}


def exchange_code(base: str, client_id: str, code: str, verifier: str, resource: str) -> httpx2.Response:
    """The token endpoint's answer to an authorization code with its PKCE verifier."""
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": client_id,
        "code_verifier": verifier,
        "resource": resource,
    }
    return httpx2.post(f"{base}/o/token/", data=data, timeout=10)
