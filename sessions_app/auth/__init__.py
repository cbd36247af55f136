"""Who is calling /mcp: token verifiers for the edge's BearerAuth, and the authorization endpoints.

`verifiers` checks a bearer token against the built-in authorization server's rows
(django-oauth-toolkit), an external server's JWKS (PyJWT) or its introspection endpoint (RFC 7662),
and maps the caller to a Django user. `views` and `urls` publish the metadata (RFC 9728, RFC 8414),
the registration endpoint (RFC 7591) and the login page. `mcpsite/asgi.py` picks a verifier from
MCP_AUTH and hands it to `BearerAuth`.
"""
