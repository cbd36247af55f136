"""The built-in authorization server's fixed configuration (django-oauth-toolkit); settings.py adds what the
environment decides. Authorization code with PKCE (S256 only) and refresh tokens, nothing else; RFC 9700's gates
on (no implicit or password grant, no plain PKCE, `iss` in authorization responses, tokens hashed at rest);
open dynamic client registration (RFC 7591), as MCP clients register themselves.
"""

OAUTH2_PROVIDER_BASE = {
    "SCOPES": {"mcp": "Use the MCP server's tools, resources and prompts as you"},
    "DEFAULT_SCOPES": ["mcp"],
    "PKCE_REQUIRED": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "refresh_token"],
    "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["none", "client_secret_basic", "client_secret_post"],
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "DCR_REGISTRATION_PERMISSION_CLASSES": ("oauth2_provider.dcr.AllowAllDCRPermission",),
}


def oauth2_provider_settings(mode: str, issuer: str, token_seconds: int, refresh_seconds: int) -> dict:
    """OAUTH2_PROVIDER for MCP_AUTH `mode`: registration is open only when the built-in server is on."""
    return {
        **OAUTH2_PROVIDER_BASE,
        "ACCESS_TOKEN_EXPIRE_SECONDS": token_seconds,
        "REFRESH_TOKEN_EXPIRE_SECONDS": refresh_seconds,
        "DCR_ENABLED": mode == "oauth",
        "OIDC_ISS_ENDPOINT": issuer if mode == "oauth" else "",
    }


def check_auth_settings(mode: str, issuer: str, jwks_url: str, introspection_url: str) -> None:
    """ValueError for an unknown MCP_AUTH, or an external mode missing what it needs."""
    if mode not in {"none", "oauth", "jwt", "introspection"}:
        raise ValueError(f"MCP_AUTH must be none, oauth, jwt or introspection, not {mode!r}")
    if mode == "jwt" and not (issuer and jwks_url):
        raise ValueError("MCP_AUTH=jwt needs MCP_AUTH_ISSUER and MCP_AUTH_JWKS_URL")
    if mode == "introspection" and not (issuer and introspection_url):
        raise ValueError("MCP_AUTH=introspection needs MCP_AUTH_ISSUER and MCP_AUTH_INTROSPECTION_URL")
