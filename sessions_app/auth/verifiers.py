"""Token verifiers for `BearerAuth` (sessions_app.edge.bearer): one per MCP_AUTH mode.

Each has `async verify(token, resource) -> Principal` and raises `InvalidToken` saying why a token
is refused. The resource is this server's identifier (RFC 8707): a token must have been issued
for it. The principal's subject is what a session is bound to; its user is a Django user.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import jwt
from channels.db import database_sync_to_async

from ..edge.bearer import InvalidToken, Principal
from .users import external_user

logger = logging.getLogger(__name__)


def _scopes(claims: dict[str, Any]) -> frozenset[str]:
    """`scope` (RFC 8693/9068: space-separated) or `scp` (a list, as Entra and Okta send it)."""
    value = claims.get("scope", claims.get("scp", ""))
    return frozenset(value.split() if isinstance(value, str) else (str(s) for s in value or ()))


def _audiences(claims: dict[str, Any]) -> list[str]:
    value = claims.get("aud")
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


class OAuthVerifier:
    """The built-in authorization server (django-oauth-toolkit): the AccessToken row decides.

    Revoking a token (the admin, or the revocation endpoint) deletes its row, so a revoked token is unknown.
    """

    def __init__(self) -> None:
        # Imported here: oauth2_provider is an installed app (its models load) only with MCP_AUTH=oauth.
        from oauth2_provider.oauth2_validators import OAuth2Validator

        self.validator = OAuth2Validator()

    def _check(self, token: str, resource: str) -> Principal:
        access = self.validator._load_access_token(token)
        if access is None:
            raise InvalidToken("The access token is unknown or was revoked")
        if access.is_expired():
            raise InvalidToken("The access token expired")
        # A token must name this resource (RFC 8707); one bound to no resource is not for us either.
        if not access.resource or not access.allows_audience(resource):
            raise InvalidToken("The access token was not issued for this resource")
        user = access.user
        if user is None or not user.is_active:
            raise InvalidToken("The access token's user is inactive")
        client_id = access.application.client_id if access.application else ""
        return Principal(f"user:{user.pk}", frozenset(access.scope.split()), user, client_id)

    async def verify(self, token: str, resource: str) -> Principal:
        return await database_sync_to_async(self._check)(token, resource)


class JwtVerifier:
    """An external server's JWT access tokens (RFC 9068), signed with a key from its JWKS.

    Checked: the signature, `exp` (required), `iss` when an issuer is configured, and `aud`: the
    configured audience, or else this resource's identifier.
    """

    def __init__(
        self, *, jwks_url: str, issuer: str, audience: str, algorithms: list[str], username_claim: str = "sub"
    ) -> None:
        self.jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=5)
        self.issuer = issuer or None
        self.audience = audience
        self.algorithms = algorithms
        self.username_claim = username_claim

    def _claims(self, token: str, resource: str) -> dict[str, Any]:
        try:
            key = self.jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=self.algorithms,
                audience=self.audience or resource,
                issuer=self.issuer,
                options={"require": ["exp", "sub"]},
                leeway=30,
            )
        except jwt.PyJWKClientConnectionError as exc:
            logger.error("the JWKS could not be fetched: %s", exc)
            raise InvalidToken("The token's signing keys cannot be fetched") from None
        except jwt.ExpiredSignatureError:
            raise InvalidToken("The access token expired") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("The access token was not issued for this resource") from None
        except (jwt.PyJWTError, jwt.PyJWKClientError) as exc:
            raise InvalidToken(f"The access token is invalid: {exc}") from None
        return claims

    async def verify(self, token: str, resource: str) -> Principal:
        # The JWKS fetch (cached) blocks: on a thread of its own, never on the ORM's one.
        claims = await asyncio.to_thread(self._claims, token, resource)
        user = await database_sync_to_async(external_user)(str(claims.get(self.username_claim) or claims["sub"]))
        return Principal(f"{claims.get('iss', '')}|{claims['sub']}", _scopes(claims), user, str(claims.get("azp", "")))


class IntrospectionVerifier:
    """An external server's token introspection endpoint (RFC 7662), called with this server's client credentials.

    Checked: `active`, `exp`, `iss` when an issuer is configured, and `aud` (the configured audience, or this
    resource's identifier) when the answer carries one.
    """

    def __init__(
        self,
        *,
        url: str,
        client_id: str,
        client_secret: str,
        issuer: str,
        audience: str,
        username_claim: str = "sub",
        timeout: float = 5,
    ) -> None:
        self.url = url
        credentials = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(client_secret, safe='')}"
        self.authorization = "Basic " + base64.b64encode(credentials.encode()).decode()
        self.issuer = issuer
        self.audience = audience
        self.username_claim = username_claim
        self.timeout = timeout

    def _introspect(self, token: str) -> dict[str, Any]:
        body = urllib.parse.urlencode({"token": token, "token_type_hint": "access_token"}).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            headers={
                "Authorization": self.authorization,
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            logger.error("token introspection at %s failed: %s", self.url, exc)
            raise InvalidToken("The token cannot be introspected now") from None
        if not isinstance(answer, dict):
            raise InvalidToken("The introspection answer is not an object")
        return answer

    def _claims(self, token: str, resource: str) -> dict[str, Any]:
        claims = self._introspect(token)
        if claims.get("active") is not True:
            raise InvalidToken("The access token is not active")
        exp = claims.get("exp")
        if isinstance(exp, int | float) and exp < time.time():
            raise InvalidToken("The access token expired")
        if self.issuer and claims.get("iss") not in (None, self.issuer):
            raise InvalidToken("The access token comes from another issuer")
        audiences = _audiences(claims)
        if audiences and (self.audience or resource) not in audiences:
            raise InvalidToken("The access token was not issued for this resource")
        if not (claims.get("sub") or claims.get("username")):
            raise InvalidToken("The introspection answer names no subject")
        return claims

    async def verify(self, token: str, resource: str) -> Principal:
        # The introspection call blocks: on a thread of its own, never on the ORM's one.
        claims = await asyncio.to_thread(self._claims, token, resource)
        subject = str(claims.get("sub") or claims.get("username"))
        user = await database_sync_to_async(external_user)(str(claims.get(self.username_claim) or subject))
        issuer = claims.get("iss", self.url)
        return Principal(f"{issuer}|{subject}", _scopes(claims), user, str(claims.get("client_id", "")))
